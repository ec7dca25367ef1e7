//! Where dupkey reads MongoDB data from: live deployments, read-only, and files on disk
//! (mongodump directories and `--archive` files, `.bson`/`.bson.gz` files, JSON lines of
//! Extended JSON).
//!
//! Only this crate (and, later, the fix crate) talks to a server. Every command it sends is
//! bounded by `maxTimeMS`, takes no locks and needs only read access (`read` on the database,
//! `listCollections`/`listIndexes` included in it). Files are streamed, never loaded whole.
//!
//! Rule ids such as `R-1.3a` in this crate's comments are the sections of
//! `docs/unique-index-semantics.md`.

mod archive;
mod bson_stream;
mod dump;
mod error;
mod facts;
mod file;
mod index_order;
mod jsonl;
mod live;
mod metadata;
mod namespace;
mod read_preference;
mod redact;
mod shell_json;
mod shipping;
mod source;
#[cfg(test)]
mod test_support;
mod unique_dry_run;

use std::time::Duration;

pub use archive::{
    ARCHIVE_MAGIC, ArchiveCollection, ArchiveEvent, ArchiveHeader, ArchiveReader, is_archive,
    open_archive,
};
pub use bson_stream::MAX_DOCUMENT_BYTES;
pub use dump::{DumpCollection, list_dump_collections};
pub use error::SourceError;
pub(crate) use error::{at, name_list};
pub use facts::{ErrorTarget, gather_facts};
pub use file::{
    CollectionReader, DataFormat, DocumentError, ReadError, ReadOptions, ReadProgress, ReadStats,
    open_collection,
};
pub use index_order::{
    IndexOrder, OrderError, OrderedGroups, OutOfOrder, Unsuitable, ordering_index, scan_projection,
};
pub use live::{LiveSource, MatchQuery, RawQuery};
pub(crate) use live::{max_time_ms, short_reason};
pub use metadata::{CollectionMetadata, MetadataError, parse_metadata_json, read_metadata_file};
pub use namespace::{
    COLLECTION_PLACEHOLDER, DATABASE_PLACEHOLDER, NameOrigin, ResolvedNamespace,
    names_from_file_name, resolve_namespace,
};
pub use read_preference::ReadMode;
pub use redact::{looks_like_uri, redact_text, redact_uri, register_secrets, secrets_of};
pub use source::{Collection, Entry, Filter, Listing, LiveReader, Progress, Source, is_uri};
pub use unique_dry_run::{DryRun, parse_dry_run_error, server_supports_dry_run};

/// How long one server command may run.
pub const MAX_TIME: Duration = Duration::from_secs(30);
/// How long a whole collection scan may run.
pub const MAX_SCAN_TIME: Duration = Duration::from_secs(3600);
