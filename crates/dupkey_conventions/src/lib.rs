//! The MongoDB conventions every dupkey crate follows, each written once: how mongosh spells
//! names and values ([`shell`]), the `$type` aliases of BSON types ([`types`]), which
//! documents are counters ([`counters`]), the number inside an identifier such as
//! `TKT-00042` ([`identifiers`]), `db.coll` namespaces ([`namespace`]), escaping text for a
//! `$regex` ([`regex`]) and dotted-path lookups ([`document`]).
//!
//! The crate is pure: it depends on `bson` (and `serde_json` for string literals), holds no
//! connection and reads no file, so any crate may use it without pulling in the others.

pub mod counters;
pub mod document;
pub mod identifiers;
pub mod namespace;
pub mod regex;
pub mod shell;
pub mod types;
