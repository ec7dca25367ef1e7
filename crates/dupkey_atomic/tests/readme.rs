//! The README's first example is `examples/quickstart.rs`, which `cargo test` compiles: the two
//! must stay the same text.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

#[test]
fn the_readme_example_is_the_compiled_one() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let example = std::fs::read_to_string(dir.join("examples/quickstart.rs")).unwrap();
    let code = example
        .split_once("\n\n")
        .map(|(_header, code)| code)
        .unwrap();
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "README.md's first example differs from examples/quickstart.rs"
    );
}
