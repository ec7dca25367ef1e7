//! What planning checks, apply and undo fail with. Each message names the input and the next
//! step; a skipped document is not an error (it is a warning in the report).

/// Everything this crate can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixError {
    /// The plan cannot be executed faithfully; nothing was changed.
    #[error("invalid plan: {reason}")]
    InvalidPlan { reason: String },

    /// The archive location cannot be decided or used.
    #[error("archive: {reason}")]
    Archive { reason: String },

    /// A driver error, with what was being done.
    #[error("{context}: {}", dupkey_e11000::server_reason(source))]
    Driver {
        context: String,
        #[source]
        source: Box<mongodb::error::Error>,
    },

    /// The server refused an operation the step needs (hidden indexes need MongoDB 4.4+).
    #[error("step {step:?}: the server does not support {feature}: {message}")]
    Unsupported {
        step: String,
        feature: String,
        message: String,
    },

    /// A step failed in a way that makes the following steps unsafe (an index that could not
    /// be built must not be followed by hiding the old one); the run stops there and can be
    /// resumed once the cause is fixed.
    #[error("step {step:?} failed: {reason}; the run stopped before the next step")]
    StepFailed { step: String, reason: String },

    /// No run of that id in the archive.
    #[error("run {run_id:?} not found in {archive}; `dupkey fix runs` lists the runs")]
    RunNotFound { run_id: String, archive: String },

    /// The run is in a state the operation cannot start from.
    #[error("run {run_id:?} is {status}: {reason}")]
    RunState {
        run_id: String,
        status: String,
        reason: String,
    },

    /// Undo found restores that would break a unique index or overwrite a later write; nothing
    /// was changed. Each line says which document and why.
    #[error(
        "undo of run {run_id:?} refused, nothing was changed:\n{}\nresolve these documents, \
         or undo with --force to restore everything else and leave them in the archive",
        conflicts.join("\n")
    )]
    UndoRefused {
        run_id: String,
        conflicts: Vec<String>,
    },

    /// A test hook stopped the run at a chosen point, as a crash would.
    #[error("interrupted at {0}")]
    Interrupted(&'static str),

    /// An archived record that cannot be read back.
    #[error("archive entry {entry}: {reason}")]
    DamagedArchive { entry: String, reason: String },
}

pub type Result<T> = std::result::Result<T, FixError>;

/// `map_err` helper: a driver error with context.
pub(crate) fn driver(context: impl Into<String>) -> impl FnOnce(mongodb::error::Error) -> FixError {
    let context = context.into();
    move |source| FixError::Driver {
        context,
        source: Box::new(source),
    }
}
