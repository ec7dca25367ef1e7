//! Collation-aware string keys, through ICU4X.
//!
//! A collated unique index compares strings by their collation key: with `strength: 2`
//! `a@x.com` equals `A@x.com`; with `strength: 1` it also equals `á@x.com`. Sort keys are not
//! portable across ICU versions, so they are only compared with each other, never with keys
//! a server printed.

use bson::Document;
use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, MaxVariable, Strength};
use icu_collator::preferences::{CollationCaseFirst, CollationNumericOrdering};
use icu_collator::{Collator, CollatorBorrowed, CollatorPreferences};
use icu_locale_core::Locale;

use crate::SpecError;
use crate::collation_spec::parse_collation;

/// An index collation (`{ locale: "en", strength: 2, … }`).
pub struct Collation {
    collator: CollatorBorrowed<'static>,
    /// The spec as given, for messages.
    pub spec: Document,
    /// For collations whose key of an ASCII string is the concatenation of its characters'
    /// keys (checked against ICU when the collation is made): each ASCII character's key.
    ascii: Option<Vec<Vec<u8>>>,
    /// The same keys as index keys write string bytes (each NUL as 00 FF), in 8 bytes each:
    /// a string's key is then written a fixed-size copy a character.
    ascii_escaped: Option<Box<[EscapedKey; 128]>>,
}

/// A character's key, escaped, padded to 8 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct EscapedKey {
    bytes: [u8; 8],
    len: u8,
}

/// Locales with their own collation rules in CLDR that ICU4X's data lacks: ICU4X orders them
/// as the root locale (measured: the same keys as root for every character of the Latin,
/// Greek, Cyrillic, Hebrew, Arabic, Indic, Tibetan and CJK blocks probed).
const MISSING_TAILORINGS: &[&str] = &[
    "bo", "dz", "haw", "kl", "lkt", "ln", "se", "smn", "wae", "yi",
];

/// The collation variants whose rules ICU4X's data holds (each orders some strings unlike the
/// locale's standard order); for the others (`search`, `big5han`, `gb2312han`, …) ICU4X would
/// silently use the standard order.
const APPLIED_VARIANTS: &[(&str, &str)] = &[
    ("ar", "compat"),
    ("de", "eor"),
    ("de", "phonebook"),
    ("de_AT", "phonebook"),
    ("es", "traditional"),
    ("fi", "traditional"),
    ("ja", "unihan"),
    ("ko", "unihan"),
    ("si", "dictionary"),
    ("vi", "traditional"),
    ("zh", "unihan"),
    ("zh", "zhuyin"),
];

impl std::fmt::Debug for Collation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collation")
            .field("spec", &self.spec)
            .finish()
    }
}

impl Collation {
    /// `None` for the simple (binary) collation. Refused, with the server's code and wording,
    /// where the server refuses it ([`parse_collation`]).
    pub fn from_spec(spec: &Document) -> Result<Option<Self>, SpecError> {
        let Some(o) = parse_collation(spec)? else {
            return Ok(None);
        };
        // `backwards` orders accents from the end of the string: it changes the order of
        // keys, never which strings are equal, so uniqueness is the same without it.
        if let Some((base, variant)) = o.locale.split_once("@collation=")
            && !APPLIED_VARIANTS.contains(&(base, variant))
        {
            return Err(SpecError::Unsupported(format!(
                "dupkey cannot apply the collation variant {variant:?} of {base:?}: its rules are not in the collation data dupkey carries, and the standard order would give other answers; check this index on the server"
            )));
        }
        let base = o.locale.split('@').next().unwrap_or_default();
        if MISSING_TAILORINGS.contains(&base) {
            return Err(SpecError::Unsupported(format!(
                "dupkey cannot apply the {base:?} collation: its rules are not in the collation data dupkey carries, and the root order would give other answers; check this index on the server"
            )));
        }
        let tag = o.bcp47();
        let parsed: Locale = tag.parse().map_err(|_| {
            SpecError::Unsupported(format!(
                "dupkey cannot build the collation of locale {:?}",
                o.locale
            ))
        })?;
        let mut prefs = CollatorPreferences::from(&parsed);
        let mut options = CollatorOptions::default();
        options.strength = Some(match o.strength {
            1 => Strength::Primary,
            2 => Strength::Secondary,
            3 => Strength::Tertiary,
            4 => Strength::Quaternary,
            _ => Strength::Identical,
        });
        if o.case_level {
            options.case_level = Some(CaseLevel::On);
        }
        if o.numeric_ordering {
            prefs.numeric_ordering = Some(CollationNumericOrdering::True);
        }
        match o.case_first.as_str() {
            "upper" => prefs.case_first = Some(CollationCaseFirst::Upper),
            "lower" => prefs.case_first = Some(CollationCaseFirst::Lower),
            _ => {}
        }
        if o.alternate == "shifted" {
            options.alternate_handling = Some(AlternateHandling::Shifted);
            options.max_variable = Some(match o.max_variable.as_str() {
                "space" => MaxVariable::Space,
                _ => MaxVariable::Punctuation,
            });
        }
        let locale = o.locale.as_str();
        let plain_primary = options.strength == Some(Strength::Primary)
            && options.case_level.is_none()
            && options.alternate_handling.is_none()
            && prefs.numeric_ordering.is_none();
        let collator = Collator::try_new(prefs, options).map_err(|e| {
            SpecError::Unsupported(format!(
                "dupkey cannot build the collation of locale {locale:?}: {e}"
            ))
        })?;
        let mut collation = Collation {
            collator,
            spec: spec.clone(),
            ascii: None,
            ascii_escaped: None,
        };
        if plain_primary {
            collation.ascii = collation.ascii_table();
            collation.ascii_escaped = collation.ascii.as_deref().and_then(escaped_table);
        }
        Ok(Some(collation))
    }

    /// Each ASCII character's key, when the key of every string of up to two ASCII
    /// characters is the concatenation of its characters' keys (so, by induction over the
    /// way ICU builds keys without contractions or compression among them, any ASCII
    /// string's); `None` otherwise. Primary-strength keys of the root and English orders
    /// have this form.
    fn ascii_table(&self) -> Option<Vec<Vec<u8>>> {
        let table: Vec<Vec<u8>> = (0u8..128)
            .map(|b| self.icu_key(char::from(b).encode_utf8(&mut [0; 4])))
            .collect();
        let mut pair = String::with_capacity(2);
        for a in 0u8..128 {
            for b in 0u8..128 {
                pair.clear();
                pair.push(char::from(a));
                pair.push(char::from(b));
                let joined = [table[usize::from(a)].as_slice(), &table[usize::from(b)]].concat();
                if self.icu_key(&pair) != joined {
                    return None;
                }
            }
        }
        Some(table)
    }

    fn icu_key(&self, s: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(s.len() * 2);
        let _ = self.collator.write_sort_key_to(s, &mut key);
        key
    }

    /// For an ASCII string under a collation with per-character keys: appends
    /// [`Collation::sort_key`] with each NUL written as 00 FF (as index keys escape string
    /// bytes) and returns true, without building the key. False, writing nothing, otherwise.
    pub fn write_escaped_ascii_key(&self, s: &str, out: &mut Vec<u8>) -> bool {
        let Some(table) = self.ascii_escaped.as_deref().filter(|_| s.is_ascii()) else {
            return false;
        };
        out.reserve(s.len() * 8);
        for b in s.bytes() {
            let key = &table[usize::from(b)];
            out.extend_from_slice(&key.bytes);
            out.truncate(out.len() - (8 - usize::from(key.len)));
        }
        true
    }

    /// The ICU sort key of `s`: equal keys mean equal strings under this collation.
    pub fn sort_key(&self, s: &str) -> Vec<u8> {
        if let Some(table) = &self.ascii
            && s.is_ascii()
        {
            let mut key = Vec::with_capacity(s.len() * 2);
            for b in s.bytes() {
                key.extend_from_slice(&table[usize::from(b)]);
            }
            return key;
        }
        self.icu_key(s)
    }
}

/// The keys of `ascii` escaped as [`EscapedKey`]s; `None` when one does not fit 8 bytes.
fn escaped_table(ascii: &[Vec<u8>]) -> Option<Box<[EscapedKey; 128]>> {
    let mut table = Box::new([EscapedKey::default(); 128]);
    for (slot, key) in table.iter_mut().zip(ascii) {
        let mut escaped = Vec::with_capacity(8);
        for &b in key {
            escaped.push(b);
            if b == 0 {
                escaped.push(0xFF);
            }
        }
        if escaped.len() > 8 {
            return None;
        }
        slot.bytes[..escaped.len()].copy_from_slice(&escaped);
        slot.len = escaped.len() as u8;
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn ascii_keys_match_icu() {
        let c = Collation::from_spec(&doc! {"locale": "en", "strength": 1})
            .unwrap()
            .unwrap();
        assert!(
            c.ascii.is_some(),
            "the primary English order has per-character keys"
        );
        assert!(c.ascii_escaped.is_some());
        let mut rng = dupkey_test_free_rng(7);
        for _ in 0..20_000 {
            let len = (rng() % 40) as usize;
            let s: String = (0..len).map(|_| char::from((rng() % 128) as u8)).collect();
            let icu = c.icu_key(&s);
            assert_eq!(c.sort_key(&s), icu, "{s:?}");
            let mut escaped = vec![7];
            assert!(c.write_escaped_ascii_key(&s, &mut escaped));
            let want: Vec<u8> = std::iter::once(7)
                .chain(
                    icu.iter()
                        .flat_map(|&b| if b == 0 { vec![0, 0xFF] } else { vec![b] }),
                )
                .collect();
            assert_eq!(escaped, want, "{s:?}");
        }
        let mut out = Vec::new();
        assert!(!c.write_escaped_ascii_key("é", &mut out));
        assert!(out.is_empty());
        for strength in [2, 3] {
            let c = Collation::from_spec(&doc! {"locale": "en", "strength": strength})
                .unwrap()
                .unwrap();
            assert!(c.ascii.is_none());
        }
        let numeric = doc! {"locale": "en", "strength": 1, "numericOrdering": true};
        assert!(
            Collation::from_spec(&numeric)
                .unwrap()
                .unwrap()
                .ascii
                .is_none()
        );
    }

    /// A small xorshift generator (this crate's tests do not depend on dupkey_test).
    fn dupkey_test_free_rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed.max(1);
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn eq(spec: Document, a: &str, b: &str) -> bool {
        let c = Collation::from_spec(&spec).unwrap().unwrap();
        c.sort_key(a) == c.sort_key(b)
    }

    /// A variant ICU4X has no rules for is refused, not compared in the standard order.
    #[test]
    fn variants_without_rules_are_refused() {
        let phonebook = doc! {"locale": "de@collation=phonebook", "strength": 1};
        assert!(eq(phonebook, "ä", "ae"));
        // en_US_POSIX orders every ASCII letter apart, case included.
        assert!(!eq(doc! {"locale": "en_US_POSIX", "strength": 1}, "a", "A"));
        for locale in [
            "sv@collation=search",
            "zh@collation=big5han",
            "ko@collation=searchjl",
        ] {
            let err = Collation::from_spec(&doc! {"locale": locale}).unwrap_err();
            assert!(matches!(err, SpecError::Unsupported(_)), "{locale}: {err}");
        }
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
