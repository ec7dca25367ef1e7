//! Executes repairs of MongoDB duplicate-key hazards without losing a document.
//!
//! A [`Plan`] is a versioned list of low-level steps (remove, replace or insert documents,
//! create, hide or drop an index, raise a counter), each with preconditions: the SHA-256 of
//! every document it touches as planned, the index definitions and counter values it expects.
//! [`apply`] re-checks them, archives every original (raw BSON, byte-identical) before changing
//! it, writes in batches under a journal, and resumes an interrupted run; [`undo`] restores a
//! run byte-identical and refuses restores that would create duplicates. How plans are derived
//! from scan findings is not this crate's business; docs/fix.md describes the guarantees.

mod apply;
mod archive;
mod commands;
pub mod compile;
mod digest;
mod documents;
mod draw;
mod error;
pub mod group;
mod guard;
mod indexes;
mod lag;
mod origin;
mod plan;
mod report;
pub mod review;
mod snapshot;
mod undo;

pub use apply::{
    ApplyOptions, InterruptHook, Phase, RunReport, StepReport, Summary, Warning, apply,
};
pub use archive::{
    ArchiveLocation, DEFAULT_ARCHIVE_COLLECTION, RunRecord, RunStatus, RunSummary, StepProgress,
    StepStatus, find_archives, list_runs, locate_run,
};
pub use digest::sha256_hex;
pub use error::{FixError, Result};
pub use origin::Origin;
pub use plan::{
    Applicability, CounterSource, DocumentRef, Draw, Effect, ExtJson, ExtJsonDocument, FieldUpdate,
    Keeper, NumberText, Operation, PLAN_VERSION, Plan, Replacement, Step, split_namespace,
};
pub use report::{load as run_report, of_plan as run_report_of_plan};
pub use snapshot::{Collector, Reads, Snapshot, read_live};
pub use undo::{UndoOptions, UndoReport, undo};
