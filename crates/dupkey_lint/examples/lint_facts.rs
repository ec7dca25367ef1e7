//! Prints the facts a front end reads from each file given: what the rules see.
//!   cargo run -q -p dupkey_lint --example lint_facts -- FILE...

fn main() {
    for arg in std::env::args().skip(1) {
        let path = std::path::Path::new(&arg);
        match std::fs::read_to_string(path) {
            Ok(source) => match dupkey_lint::extract(path, &source) {
                Ok(facts) => println!("{facts:#?}"),
                Err(failure) => println!("{failure}"),
            },
            Err(e) => println!("{arg}: {e}"),
        }
    }
}
