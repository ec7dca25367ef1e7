//! Where a plan came from: the source it was made from (credentials removed), whether it may
//! be applied, and the advice its steps do not execute. A plan made from a dump is for review
//! only: its hashes name the dump's documents, not the server's.

use serde::{Deserialize, Serialize};

use crate::error::FixError;
use crate::plan::Plan;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The scanned source, with any password removed.
    pub source: String,
    /// Why apply must refuse the plan (made from a dump); `None` when it may be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    /// What the findings advise that no step executes (code to change, a judgement to make).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// Refuses a plan marked for review only, with its reason and what to do instead.
    pub fn check_applicable(&self) -> Result<(), FixError> {
        match self.origin.as_ref().and_then(|o| o.not_applicable.as_ref()) {
            Some(reason) => Err(FixError::InvalidPlan {
                reason: format!("this plan cannot be applied: {reason}"),
            }),
            None => Ok(()),
        }
    }
}
