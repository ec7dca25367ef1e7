//! What the front ends' unit tests share: reading a snippet's facts and finding a function's
//! calls in them.

use std::path::Path;

use crate::facts::{FileFacts, FunctionFacts, OpKind, Target};

/// The facts of `source` read as the file `path` (its extension picks the front end).
pub fn facts_of(path: &str, source: &str) -> FileFacts {
    match crate::extract(Path::new(path), source) {
        Ok(f) => f,
        Err(e) => panic!("does not parse: {e}"),
    }
}

pub fn function<'f>(f: &'f FileFacts, name: &str) -> &'f FunctionFacts {
    f.functions
        .iter()
        .find(|x| x.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no function {name}: {:#?}", f.functions))
}

pub fn kinds(f: &FunctionFacts) -> Vec<(OpKind, String)> {
    f.ops.iter().map(|o| (o.kind, o.method.clone())).collect()
}

/// The check-then-act shape: `f` reads (`methods[0]`) from `target` by the `read` keys, then
/// creates (`methods[1]`) a document holding the `created` keys, and nothing else.
pub fn assert_read_then_create(
    f: &FunctionFacts,
    methods: [&str; 2],
    target: &Target,
    read: &[&str],
    created: &[&str],
) {
    assert_eq!(
        kinds(f),
        vec![
            (OpKind::Read, methods[0].to_string()),
            (OpKind::Create, methods[1].to_string())
        ]
    );
    assert_eq!(&f.ops[0].target, target);
    assert_eq!(f.ops[0].keys, keys(read));
    assert_eq!(f.ops[1].keys, keys(created));
}

pub fn keys(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}
