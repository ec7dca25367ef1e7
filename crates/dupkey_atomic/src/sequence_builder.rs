//! How a [`Sequence`] is configured: the builder's options and the checks `build` makes
//! (a reset the template cannot show, a fiscal month out of range, a gapless sequence without
//! transactions).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongodb::Database;

use crate::error::{Error, Result};
use crate::sequence::*;
use crate::template::Template;

/// What a [`Sequence`] is configured with beyond its name, collection, template and reset:
/// the builder collects it and the sequence keeps it as it was built.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) fiscal_start_month: u32,
    pub(crate) start_at: i64,
    pub(crate) scope_fields: Vec<String>,
    pub(crate) date_field: Option<String>,
    pub(crate) utc_offset_minutes: i32,
    pub(crate) self_heal: bool,
    pub(crate) heal_attempts: u32,
    pub(crate) gapless: bool,
    pub(crate) transaction_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fiscal_start_month: 4,
            start_at: 1,
            scope_fields: Vec::new(),
            date_field: None,
            utc_offset_minutes: 0,
            self_heal: false,
            heal_attempts: 0,
            gapless: false,
            transaction_timeout: Duration::from_secs(30),
        }
    }
}

/// Builds a [`Sequence`]; see [`Sequence::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SequenceBuilder {
    pub(crate) db: Database,
    pub(crate) name: String,
    pub(crate) collection: String,
    pub(crate) template: Option<String>,
    pub(crate) reset: Option<Reset>,
    pub(crate) settings: Settings,
}

impl SequenceBuilder {
    /// The collection holding counter documents (`counters` by default).
    pub fn collection(mut self, name: impl Into<String>) -> Self {
        self.collection = name.into();
        self
    }

    /// How numbers are printed, e.g. `INV/{fy}/{seq:06}`, `TKT-{seq:05}`, `{yyyy}-{mm}-{seq}`,
    /// `{tenant}-{seq}`. Without a template numbers are stored as 64-bit integers.
    pub fn format(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// When the sequence starts again. Defaults to the finest period the template prints:
    /// day, month, fiscal year, calendar year, or never.
    pub fn reset(mut self, reset: Reset) -> Self {
        self.reset = Some(reset);
        self
    }

    /// The month (1–12) fiscal years start in: 4 makes `2025-26` run from April 2025 to March
    /// 2026. Default 4.
    pub fn fiscal_year_starts_in(mut self, month: u32) -> Self {
        self.settings.fiscal_start_month = month;
        self
    }

    /// The first number of every counter (default 1).
    pub fn start_at(mut self, first: i64) -> Self {
        self.settings.start_at = first;
        self
    }

    /// A field whose value keys a separate counter (tenant, document type). The field names a
    /// document field: [`Sequence::scope_of`] reads it from documents, resync filters on it,
    /// and the unique index on the numbered field should include it unless the template
    /// prints it.
    pub fn scope_field(mut self, field: impl Into<String>) -> Self {
        self.settings.scope_fields.push(field.into());
        self
    }

    /// The document field holding the document's own date (a BSON date or a `YYYY-MM-DD`
    /// string), which picks the period when inserting documents.
    pub fn date_field(mut self, field: impl Into<String>) -> Self {
        self.settings.date_field = Some(field.into());
        self
    }

    /// The business's UTC offset in minutes, applied when a BSON datetime is turned into a
    /// calendar day (default 0, UTC).
    pub fn utc_offset_minutes(mut self, minutes: i32) -> Self {
        self.settings.utc_offset_minutes = minutes;
        self
    }

    /// When an insert fails with a duplicate key on the numbered field itself (the counter
    /// lags behind the data, after an import or a restore), raise the counter to the largest
    /// number already used and try again, up to `attempts` times. Off by default.
    pub fn self_heal(mut self, attempts: u32) -> Self {
        self.settings.self_heal = attempts > 0;
        self.settings.heal_attempts = attempts;
        self
    }

    /// Take the number and insert the document in one transaction, so a failed insert uses
    /// up no number (see [`Sequence::insert_numbered`] for the trade-off). Off by default.
    pub fn gapless(mut self, gapless: bool) -> Self {
        self.settings.gapless = gapless;
        self
    }

    /// How long a gapless insert keeps retrying transactions that lose write conflicts on the
    /// counter (default 30 s), counted from when its turn among this process's writers of
    /// the same counter comes; then it fails with [`Error::Contention`].
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.settings.transaction_timeout = timeout;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Sequence> {
        let name = self.name.clone();
        if name.is_empty() {
            return Err(Error::config(&name, "the sequence needs a name"));
        }
        if !(1..=12).contains(&self.settings.fiscal_start_month) {
            return Err(Error::config(
                &name,
                format!(
                    "fiscal years start in a month 1-12, not {}",
                    self.settings.fiscal_start_month
                ),
            ));
        }
        if self.settings.start_at < 0 {
            return Err(Error::config(&name, "start_at must be 0 or more"));
        }
        let template = self.template.as_deref().map(Template::parse).transpose()?;
        if let Some(t) = &template {
            for s in t.scope_names() {
                if !self.settings.scope_fields.iter().any(|f| f == s) {
                    return Err(Error::config(
                        &name,
                        format!(
                            "the template prints {{{s}}} but {s:?} is not a scope field; add \
                             .scope_field({s:?})"
                        ),
                    ));
                }
            }
        }
        let reset = match self.reset {
            Some(r) => r,
            None => template.as_ref().map_or(Reset::Never, default_reset),
        };
        check_reset(&name, reset, template.as_ref())?;
        let mut seen = HashSet::new();
        for f in &self.settings.scope_fields {
            if f.is_empty() || !seen.insert(f) {
                return Err(Error::config(
                    &name,
                    format!("scope field {f:?} is empty or given twice"),
                ));
            }
        }
        let needs_date = reset != Reset::Never || template.as_ref().is_some_and(|t| t.needs_date());
        Ok(Sequence {
            inner: Arc::new(Inner {
                counters: self.db.collection(&self.collection),
                name: self.name,
                template,
                reset,
                needs_date,
                settings: self.settings,
                known_counters: Mutex::new(HashSet::new()),
                turns: Mutex::new(HashMap::new()),
            }),
        })
    }
}

pub(crate) fn default_reset(t: &Template) -> Reset {
    use crate::template::Token;
    let year = t.shows_calendar_year() || t.shows_fiscal_year();
    if year && t.has(|x| *x == Token::Month) && t.has(|x| *x == Token::Day) {
        Reset::Daily
    } else if year && t.has(|x| *x == Token::Month) {
        Reset::Monthly
    } else if t.shows_fiscal_year() {
        Reset::FiscalYearly
    } else if t.shows_calendar_year() {
        Reset::Yearly
    } else {
        Reset::Never
    }
}

/// A counter that restarts must print what tells its periods apart, or its numbers repeat.
pub(crate) fn check_reset(name: &str, reset: Reset, template: Option<&Template>) -> Result<()> {
    use crate::template::Token;
    if reset == Reset::Never {
        return Ok(());
    }
    let Some(t) = template else {
        return Err(Error::config(
            name,
            "a sequence that resets needs a template that prints its period (numbers would \
             repeat every period); add .format(\"…{yyyy}…{seq}\")",
        ));
    };
    let year = t.shows_calendar_year() || t.shows_fiscal_year();
    let month = t.has(|x| *x == Token::Month);
    let day = t.has(|x| *x == Token::Day);
    let ok = match reset {
        Reset::Never => true,
        Reset::Yearly => t.shows_calendar_year(),
        Reset::FiscalYearly => t.shows_fiscal_year(),
        Reset::Monthly => year && month,
        Reset::Daily => year && month && day,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            name,
            format!(
                "reset {reset:?} needs the template {:?} to print that period, or the same \
                 number would be issued again next period",
                t.text
            ),
        ))
    }
}
