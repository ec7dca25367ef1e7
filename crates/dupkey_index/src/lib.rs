//! MongoDB unique-index semantics, offline.
//!
//! Given an index spec and a document, [`IndexSpec::keys`] says whether the document is in the
//! index and which keys it puts there, the way the server's key generator does: null and
//! missing share a key, sparse skips only documents missing every key field, partial filters
//! match with query semantics (`{$exists: true}` admits null), arrays make multikey entries,
//! numbers compare by exact value across types, strings through the index collation. Keys are
//! canonical bytes ([`encode`]): equal keys are equal bytes, and bytes sort in MongoDB's order.
//!
//! Rule ids such as `R-1.3a` in this crate's comments are the sections of
//! `docs/unique-index-semantics.md`.
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
pub mod collation_spec;
pub mod decimal;
pub mod duplicates;
pub mod encode;
pub mod filter;
pub mod ids;
pub mod keys;
pub mod pipeline;
pub mod raw;
mod shipping;
pub mod spec;
pub mod spec_checks;
pub mod spec_json;
mod spill;
mod table;
pub mod validate;

pub use duplicates::{
    CheckReport, Conflict, DuplicateFinder, FinderOptions, Shipped, Shipper, SpillError,
    Unindexable, add_shipped_batch, check_in_parallel,
};
pub use ids::Ids;
pub use keys::{DocumentKeys, GeneratedKey, KeyError, Part, SimpleKey, Skip};
pub use spec::{IndexSpec, KeyField, default_name, option_is_true};
pub use table::hash as hash_bytes;
pub use validate::{Damaged, MAX_DEPTH, damaged_in};

/// An index spec dupkey cannot use: one the server would refuse (with the server's code and
/// wording), one that cannot be read, or one whose keys dupkey cannot compute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// Not an index spec at all (bad JSON, too large, nested too deep, a repeated key).
    #[error("invalid index spec: {0}")]
    Invalid(String),
    /// What the server answers `createIndexes` with this spec.
    #[error("the server refuses this index spec: {code_name} ({code}): {message}")]
    Refused {
        code: i32,
        code_name: &'static str,
        message: String,
    },
    /// A spec the server accepts, but whose keys dupkey does not compute (text and geo
    /// indexes): answering would risk a wrong "buildable".
    #[error("{0}")]
    Unsupported(String),
}
