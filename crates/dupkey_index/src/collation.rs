//! Collation-aware string keys, through ICU4X.
//!
//! A collated unique index compares strings by their collation key: with `strength: 2`
//! `a@x.com` equals `A@x.com`; with `strength: 1` it also equals `á@x.com`. Sort keys are not
//! portable across ICU versions, so they are only compared with each other, never with keys
//! a server printed.

use bson::{Bson, Document};
use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, MaxVariable, Strength};
use icu_collator::preferences::{CollationCaseFirst, CollationNumericOrdering};
use icu_collator::{Collator, CollatorBorrowed, CollatorPreferences};
use icu_locale_core::Locale;

use crate::SpecError;

/// An index collation (`{ locale: "en", strength: 2, … }`).
pub struct Collation {
    collator: CollatorBorrowed<'static>,
    /// The spec as given, for messages.
    pub spec: Document,
}

impl std::fmt::Debug for Collation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collation")
            .field("spec", &self.spec)
            .finish()
    }
}

impl Collation {
    /// `None` for the simple (binary) collation.
    pub fn from_spec(spec: &Document) -> Result<Option<Self>, SpecError> {
        let locale = spec
            .get_str("locale")
            .map_err(|_| SpecError::Invalid("collation requires a string locale".into()))?;
        if locale == "simple" {
            return Ok(None);
        }
        let parsed: Locale = locale.replace('_', "-").parse().map_err(|_| {
            SpecError::Invalid(format!("collation locale {locale:?} is not a valid locale"))
        })?;
        let mut prefs = CollatorPreferences::from(&parsed);
        let mut options = CollatorOptions::default();
        options.strength = Some(match int(spec, "strength").unwrap_or(3) {
            1 => Strength::Primary,
            2 => Strength::Secondary,
            3 => Strength::Tertiary,
            4 => Strength::Quaternary,
            5 => Strength::Identical,
            other => {
                return Err(SpecError::Invalid(format!(
                    "collation strength must be 1 to 5, got {other}"
                )));
            }
        });
        if bool_opt(spec, "caseLevel") {
            options.case_level = Some(CaseLevel::On);
        }
        if bool_opt(spec, "numericOrdering") {
            prefs.numeric_ordering = Some(CollationNumericOrdering::True);
        }
        match spec.get_str("caseFirst").unwrap_or("off") {
            "upper" => prefs.case_first = Some(CollationCaseFirst::Upper),
            "lower" => prefs.case_first = Some(CollationCaseFirst::Lower),
            _ => {}
        }
        if spec.get_str("alternate").unwrap_or("non-ignorable") == "shifted" {
            options.alternate_handling = Some(AlternateHandling::Shifted);
            options.max_variable = Some(match spec.get_str("maxVariable").unwrap_or("punct") {
                "space" => MaxVariable::Space,
                _ => MaxVariable::Punctuation,
            });
        }
        let collator = Collator::try_new(prefs, options).map_err(|e| {
            SpecError::Invalid(format!("collation {locale:?} is not supported: {e}"))
        })?;
        Ok(Some(Collation {
            collator,
            spec: spec.clone(),
        }))
    }

    /// The ICU sort key of `s`: equal keys mean equal strings under this collation.
    pub fn sort_key(&self, s: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(s.len() * 2);
        let _ = self.collator.write_sort_key_to(s, &mut key);
        key
    }
}

fn int(spec: &Document, name: &str) -> Option<i64> {
    match spec.get(name)? {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) => Some(*d as i64),
        _ => None,
    }
}

fn bool_opt(spec: &Document, name: &str) -> bool {
    matches!(spec.get(name), Some(Bson::Boolean(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn eq(spec: Document, a: &str, b: &str) -> bool {
        let c = Collation::from_spec(&spec).unwrap().unwrap();
        c.sort_key(a) == c.sort_key(b)
    }

    #[test]
    fn strengths() {
        assert!(eq(
            doc! {"locale": "en", "strength": 2},
            "a@x.com",
            "A@x.com"
        ));
        assert!(!eq(
            doc! {"locale": "en", "strength": 2},
            "a@x.com",
            "á@x.com"
        ));
        assert!(eq(
            doc! {"locale": "en", "strength": 1},
            "a@x.com",
            "Á@x.com"
        ));
        assert!(!eq(
            doc! {"locale": "en", "strength": 3},
            "a@x.com",
            "A@x.com"
        ));
        assert!(!eq(
            doc! {"locale": "en", "strength": 1, "caseLevel": true},
            "a",
            "A"
        ));
        assert!(eq(
            doc! {"locale": "en", "numericOrdering": true, "strength": 1},
            "10",
            "010"
        ));
        assert!(
            Collation::from_spec(&doc! {"locale": "simple"})
                .unwrap()
                .is_none()
        );
    }
}
