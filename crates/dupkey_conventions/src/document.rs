//! Reading a dotted path (`customer.tenant`) out of a decoded document, the way a counter's
//! scope or a sampled value is read back.

use bson::{Bson, Document};

/// The value at `path`: a field literally named `path` first (documents written by old drivers
/// may hold dotted names), else the embedded documents along the path. Arrays are not
/// descended: the first match of a query on an array path is not one value.
pub fn lookup<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match doc.get(head)? {
        Bson::Document(inner) => lookup(inner, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn dotted_paths_descend_documents_but_not_arrays() {
        let d = doc! {
            "a": { "b": { "c": 3 } },
            "x.y": "literal",
            "x": { "y": "nested" },
            "list": [ { "k": 1 } ],
        };
        assert_eq!(lookup(&d, "a.b.c"), Some(&Bson::Int32(3)));
        assert_eq!(lookup(&d, "a.b"), Some(&Bson::Document(doc! { "c": 3 })));
        assert_eq!(lookup(&d, "x.y"), Some(&Bson::String("literal".into())));
        assert_eq!(lookup(&d, "list.k"), None);
        assert_eq!(lookup(&d, "a.missing"), None);
        assert_eq!(lookup(&d, "missing"), None);
    }
}
