//! MongoDB unique-index semantics, offline.
//!
//! Given an index spec and a document, [`IndexSpec::keys`] says whether the document is in the
//! index and which keys it puts there, the way the server's key generator does: null and
//! missing share a key, sparse skips only documents missing every key field, partial filters
//! match with query semantics (`{$exists: true}` admits null), arrays make multikey entries,
//! numbers compare by exact value across types, strings through the index collation. Keys are
//! canonical bytes ([`encode`]): equal keys are equal bytes, and bytes sort in MongoDB's order.
//!
//! ```
//! use bson::{doc, rawdoc};
//! use dupkey_index::{IndexSpec, DocumentKeys};
//!
//! let spec = IndexSpec::from_document(&doc! { "key": { "email": 1 }, "unique": true, "sparse": true }).unwrap();
//! let keys = |d: &bson::RawDocumentBuf| match spec.keys(d).unwrap() {
//!     DocumentKeys::Keys(k) => k.into_iter().map(|k| k.bytes).collect::<Vec<_>>(),
//!     DocumentKeys::NotIndexed(_) => vec![],
//! };
//! assert!(keys(&rawdoc! { "name": "no email" }).is_empty());          // sparse skips missing
//! assert_eq!(keys(&rawdoc! { "email": null }).len(), 1);              // but not explicit null
//! ```

pub mod collation;
pub mod decimal;
pub mod duplicates;
pub mod encode;
pub mod filter;
pub mod ids;
pub mod keys;
pub mod pipeline;
pub mod raw;
pub mod spec;
mod table;
pub mod validate;

pub use duplicates::{
    CheckReport, Conflict, DuplicateFinder, FinderOptions, Shipped, Shipper, Unindexable,
    add_shipped_batch, check_in_parallel,
};
pub use ids::Ids;
pub use keys::{DocumentKeys, GeneratedKey, KeyError, Part, SimpleKey, Skip};
pub use spec::{IndexSpec, KeyField, default_name, option_is_true};
pub use table::hash as hash_bytes;
pub use validate::{Damaged, MAX_DEPTH, damaged_in};

/// An index spec the server would reject, with the server's reasoning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    #[error("invalid index spec: {0}")]
    Invalid(String),
}
