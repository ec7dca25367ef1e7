//! Helpers for detector tests: a scan of documents held in memory.

use bson::{Bson, Document, RawDocumentBuf};

use crate::{Config, Finding, PassOptions, Scanner, Selection};

/// Index specs from a JSON array.
pub fn ixs(json: &str) -> Vec<Document> {
    let value: serde_json::Value = serde_json::from_str(json).expect("index specs as JSON");
    match Bson::try_from(value).expect("Extended JSON") {
        Bson::Array(items) => items
            .into_iter()
            .filter_map(|b| b.as_document().cloned())
            .collect(),
        other => panic!("expected an array of index specs, got {other}"),
    }
}

/// The findings of rule `code` over several collections.
pub fn scan(
    code: &str,
    config: Config,
    collections: &[(&str, Vec<Document>, Vec<RawDocumentBuf>)],
) -> Vec<Finding> {
    let selection = Selection::new(&[code.to_string()], &[]).expect("a rule code");
    scanned(config, selection, collections)
        .finish(false)
        .findings
}

/// The findings of rule `code` over one collection.
pub fn findings(
    code: &str,
    ns: &str,
    indexes: &[Document],
    docs: &[RawDocumentBuf],
) -> Vec<Finding> {
    findings_with_config(code, Config::default(), ns, indexes, docs)
}

pub fn findings_with_config(
    code: &str,
    config: Config,
    ns: &str,
    indexes: &[Document],
    docs: &[RawDocumentBuf],
) -> Vec<Finding> {
    scan(code, config, &[(ns, indexes.to_vec(), docs.to_vec())])
}

/// The model of a scan of every rule over several collections.
pub fn scanner_model(
    config: Config,
    collections: Vec<(&str, Vec<Document>, Vec<RawDocumentBuf>)>,
) -> crate::Model {
    let selection = Selection::new(&[], &[]).expect("every rule");
    scanned(config, selection, &collections).into_model()
}

/// A scanner that has read the collections held in memory.
fn scanned(
    config: Config,
    selection: Selection,
    collections: &[(&str, Vec<Document>, Vec<RawDocumentBuf>)],
) -> Scanner {
    let mut scanner = Scanner::new(config, selection, PassOptions::default());
    for (ns, indexes, docs) in collections {
        scanner
            .add_documents(
                ns,
                indexes,
                &Document::new(),
                docs.iter().map(|d| d.as_ref()),
            )
            .expect("scan in memory");
    }
    scanner
}
