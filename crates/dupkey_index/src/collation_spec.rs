//! A `collation` document checked the way the server's collator factory checks it (types,
//! values, unknown fields, the locale, the ICU version), with its codes and wording. A locale
//! the server does not support is refused, never compared as if it were valid.

use bson::{Bson, Document};
use dupkey_conventions::types::type_alias;

use crate::SpecError;
use crate::spec_checks::{
    BAD_VALUE, FAILED_TO_PARSE, INCOMPATIBLE_COLLATION_VERSION, NO_SUCH_KEY, TYPE_MISMATCH, refuse,
    shell_doc,
};

/// The ICU version every MongoDB release since 3.4 ships; specs from `listIndexes` carry it.
pub const ICU_VERSION: &str = "57.1";

/// The locales MongoDB supports, each with the variants it takes after `@collation=`.
const LOCALES: &[(&str, &[&str])] = &[
    ("af", &[]),
    ("am", &[]),
    ("ar", &["compat"]),
    ("as", &[]),
    ("az", &["search"]),
    ("be", &[]),
    ("bg", &[]),
    ("bn", &["traditional"]),
    ("bo", &[]),
    ("bs", &["search"]),
    ("bs_Cyrl", &[]),
    ("ca", &["search"]),
    ("chr", &[]),
    ("cs", &["search"]),
    ("cy", &[]),
    ("da", &["search"]),
    ("de", &["search", "eor", "phonebook"]),
    ("de_AT", &["phonebook"]),
    ("dsb", &[]),
    ("dz", &[]),
    ("ee", &[]),
    ("el", &[]),
    ("en", &[]),
    ("en_US", &[]),
    ("en_US_POSIX", &[]),
    ("eo", &[]),
    ("es", &["search", "traditional"]),
    ("et", &[]),
    ("fa", &[]),
    ("fa_AF", &[]),
    ("fi", &["search", "traditional"]),
    ("fil", &[]),
    ("fo", &[]),
    ("fr", &[]),
    ("fr_CA", &[]),
    ("ga", &[]),
    ("gl", &["search"]),
    ("gu", &[]),
    ("ha", &[]),
    ("haw", &[]),
    ("he", &["search"]),
    ("hi", &[]),
    ("hr", &["search"]),
    ("hsb", &[]),
    ("hu", &[]),
    ("hy", &[]),
    ("id", &[]),
    ("ig", &[]),
    ("is", &["search"]),
    ("it", &[]),
    ("ja", &["unihan"]),
    ("ka", &[]),
    ("kk", &[]),
    ("kl", &["search"]),
    ("km", &[]),
    ("kn", &["traditional"]),
    ("ko", &["search", "searchjl", "unihan"]),
    ("kok", &[]),
    ("ky", &[]),
    ("lb", &[]),
    ("lkt", &[]),
    ("ln", &["phonetic"]),
    ("lo", &[]),
    ("lt", &[]),
    ("lv", &[]),
    ("mk", &[]),
    ("ml", &[]),
    ("mn", &[]),
    ("mr", &[]),
    ("ms", &[]),
    ("mt", &[]),
    ("my", &[]),
    ("nb", &["search"]),
    ("ne", &[]),
    ("nl", &[]),
    ("nn", &["search"]),
    ("om", &[]),
    ("or", &[]),
    ("pa", &[]),
    ("pl", &[]),
    ("ps", &[]),
    ("pt", &[]),
    ("ro", &[]),
    ("root", &[]),
    ("ru", &[]),
    ("se", &["search"]),
    ("si", &["dictionary"]),
    ("sk", &["search"]),
    ("sl", &[]),
    ("smn", &["search"]),
    ("sq", &[]),
    ("sr", &[]),
    ("sr_Latn", &["search"]),
    ("sv", &["search"]),
    ("sw", &[]),
    ("ta", &[]),
    ("te", &[]),
    ("th", &[]),
    ("to", &[]),
    ("tr", &["search"]),
    ("ug", &[]),
    ("uk", &[]),
    ("ur", &[]),
    ("vi", &["traditional"]),
    ("wae", &[]),
    ("yi", &["search"]),
    ("yo", &[]),
    ("zh", &["big5han", "gb2312han", "unihan", "zhuyin"]),
    ("zh_Hant", &[]),
    ("zu", &[]),
];

/// A collation the server accepts, with every option resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollationOptions {
    /// As MongoDB writes it (`de@collation=phonebook`).
    pub locale: String,
    pub strength: u8,
    pub case_level: bool,
    /// `"upper"`, `"lower"` or `"off"`.
    pub case_first: String,
    pub numeric_ordering: bool,
    /// `"shifted"` or `"non-ignorable"`.
    pub alternate: String,
    /// `"punct"` or `"space"`.
    pub max_variable: String,
    pub normalization: bool,
    pub backwards: bool,
}

impl CollationOptions {
    /// The locale as a BCP 47 tag with the variant as a `-u-co-` keyword, for ICU4X.
    pub fn bcp47(&self) -> String {
        let (base, variant) = match self.locale.split_once("@collation=") {
            Some((b, v)) => (b, Some(v)),
            None => (self.locale.as_str(), None),
        };
        let mut tag = match base {
            "root" => "und".to_string(),
            // `en_US_POSIX` becomes `en-US-POSIX`, the variant ICU4X keys that tailoring by.
            other => other.replace('_', "-"),
        };
        if let Some(v) = variant {
            let co = match v {
                "phonebook" => "phonebk",
                "traditional" => "trad",
                "dictionary" => "dict",
                "gb2312han" => "gb2312",
                other => other,
            };
            tag.push_str(if tag.contains("-u-") {
                "-co-"
            } else {
                "-u-co-"
            });
            tag.push_str(co);
        }
        tag
    }
}

/// Checks `spec`; `None` for the simple (binary) collation.
pub fn parse_collation(spec: &Document) -> Result<Option<CollationOptions>, SpecError> {
    let locale = match spec.get("locale") {
        None => return Err(refuse(NO_SUCH_KEY, "Missing expected field \"locale\"")),
        Some(Bson::String(l)) => l.as_str(),
        Some(other) => return Err(wrong_type("locale", "string", other)),
    };
    if locale.contains('\0') {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "Field 'locale' cannot contain null byte. Collation spec: {}",
                shell_doc(spec)
            ),
        ));
    }
    if locale == "simple" {
        if spec.len() > 1 {
            return Err(refuse(
                FAILED_TO_PARSE,
                format!(
                    "If locale=simple, no other fields should be present in: {}",
                    shell_doc(spec)
                ),
            ));
        }
        return Ok(None);
    }
    check_locale(spec, locale)?;
    let options = parse_options(spec, locale)?;
    check_combinations(spec, &options)?;
    Ok(Some(options))
}

/// The locale must be one the server supports, spelled as it spells it.
fn check_locale(spec: &Document, locale: &str) -> Result<(), SpecError> {
    if locale.is_empty() {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "Field 'locale' cannot be the empty string in: {}",
                shell_doc(spec)
            ),
        ));
    }
    if is_supported(locale) {
        return Ok(());
    }
    let mut message = format!("Field 'locale' is invalid in: {}", shell_doc(spec));
    if let Some(near) = nearest_supported(locale).filter(|n| *n != "root") {
        message.push_str(&format!(". Did you mean '{near}'?"));
    }
    Err(refuse(BAD_VALUE, message))
}

fn is_supported(locale: &str) -> bool {
    let (base, variant) = match locale.split_once("@collation=") {
        Some((b, v)) => (b, Some(v)),
        None => (locale, None),
    };
    LOCALES
        .iter()
        .any(|(l, variants)| *l == base && variant.is_none_or(|v| variants.contains(&v)))
}

/// The supported locale the server would have fallen back to: the locale without its
/// variant, then without its trailing subtags (`fr_FR` → `fr`, `en-US` → `en_US`).
fn nearest_supported(locale: &str) -> Option<&'static str> {
    let base = locale.split('@').next().unwrap_or(locale).replace('-', "_");
    let mut candidate = base.as_str();
    loop {
        if let Some((l, _)) = LOCALES
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(candidate))
        {
            return Some(l);
        }
        candidate = candidate.rsplit_once('_')?.0;
    }
}

fn wrong_type(field: &str, expected: &str, value: &Bson) -> SpecError {
    refuse(
        TYPE_MISMATCH,
        format!(
            "\"{field}\" had the wrong type. Expected {expected}, found {}",
            type_alias(value)
        ),
    )
}

fn bool_field(spec: &Document, field: &str) -> Result<Option<bool>, SpecError> {
    match spec.get(field) {
        None => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(field, "bool", other)),
    }
}

fn string_field<'d>(spec: &'d Document, field: &str) -> Result<Option<&'d str>, SpecError> {
    match spec.get(field) {
        None => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(field, "string", other)),
    }
}

/// One of `allowed`, or the server's "must be" message.
fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, SpecError> {
    if allowed.contains(&value) {
        return Ok(value.to_string());
    }
    let listed = match allowed {
        [a, b] => format!("'{a}' or '{b}'"),
        [a, b, c] => format!("'{a}', '{b}', or '{c}'"),
        _ => allowed.join(", "),
    };
    Err(refuse(
        FAILED_TO_PARSE,
        format!("Field '{field}' must be {listed}. Got: {value}"),
    ))
}

fn strength_field(spec: &Document) -> Result<u8, SpecError> {
    let Some(value) = spec.get("strength") else {
        return Ok(3);
    };
    let Some(n) = crate::spec_checks::number(value) else {
        return Err(refuse(
            TYPE_MISMATCH,
            format!(
                "Expected field \"strength\" to have numeric type, but found {}",
                type_alias(value)
            ),
        ));
    };
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "Expected field \"strength\" to have a value exactly representable as a 64-bit integer, but found strength: {}",
                crate::spec_checks::shell(value)
            ),
        ));
    }
    if !(1.0..=5.0).contains(&n) {
        return Err(refuse(
            FAILED_TO_PARSE,
            format!("Field 'strength' must be an integer 1 through 5. Got: {n}"),
        ));
    }
    Ok(n as u8)
}

/// Every option in the server's order; then no field may be left unknown.
fn parse_options(spec: &Document, locale: &str) -> Result<CollationOptions, SpecError> {
    let case_level = bool_field(spec, "caseLevel")?;
    let case_first = string_field(spec, "caseFirst")?
        .map(|v| one_of("caseFirst", v, &["upper", "lower", "off"]))
        .transpose()?;
    let strength = strength_field(spec)?;
    let numeric_ordering = bool_field(spec, "numericOrdering")?;
    let alternate = string_field(spec, "alternate")?
        .map(|v| one_of("alternate", v, &["non-ignorable", "shifted"]))
        .transpose()?;
    let max_variable = string_field(spec, "maxVariable")?
        .map(|v| one_of("maxVariable", v, &["punct", "space"]))
        .transpose()?;
    let normalization = bool_field(spec, "normalization")?;
    let backwards = bool_field(spec, "backwards")?;
    if let Some(version) = string_field(spec, "version")?
        && version != ICU_VERSION
    {
        return Err(refuse(
            INCOMPATIBLE_COLLATION_VERSION,
            format!(
                "Requested collation version {version} but the only available collator version was {ICU_VERSION}. Requested collation spec: {}",
                shell_doc(spec)
            ),
        ));
    }
    const KNOWN: &[&str] = &[
        "locale",
        "caseLevel",
        "caseFirst",
        "strength",
        "numericOrdering",
        "alternate",
        "maxVariable",
        "normalization",
        "backwards",
        "version",
    ];
    if spec.keys().any(|k| !KNOWN.contains(&k.as_str())) {
        return Err(refuse(
            FAILED_TO_PARSE,
            format!(
                "Collation spec contains unknown field. Collation spec: {}",
                shell_doc(spec)
            ),
        ));
    }
    Ok(CollationOptions {
        locale: locale.to_string(),
        strength,
        case_level: case_level.unwrap_or(false),
        case_first: case_first.unwrap_or_else(|| "off".into()),
        numeric_ordering: numeric_ordering.unwrap_or(false),
        alternate: alternate.unwrap_or_else(|| "non-ignorable".into()),
        max_variable: max_variable.unwrap_or_else(|| "punct".into()),
        normalization: normalization.unwrap_or(false),
        backwards: backwards.unwrap_or(false),
    })
}

/// Options that contradict each other.
fn check_combinations(spec: &Document, o: &CollationOptions) -> Result<(), SpecError> {
    if o.backwards && o.strength == 1 {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "'backwards' is invalid with 'strength' of 1 in: {}",
                shell_doc(spec)
            ),
        ));
    }
    if o.case_first != "off" && !o.case_level && o.strength <= 2 {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: {}",
                shell_doc(spec)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn refused(spec: Document) -> String {
        parse_collation(&spec).unwrap_err().to_string()
    }

    #[test]
    fn locales_the_server_does_not_support() {
        let e = refused(doc! {"locale": "xx_bogus"});
        assert!(
            e.contains("BadValue (2): Field 'locale' is invalid in: { locale: \"xx_bogus\" }")
                && !e.contains("Did you mean"),
            "{e}"
        );
        assert!(refused(doc! {"locale": "fr_FR"}).ends_with(". Did you mean 'fr'?"));
        assert!(refused(doc! {"locale": "en-US"}).ends_with(". Did you mean 'en_US'?"));
        assert!(
            refused(doc! {"locale": "en@collation=phonebook"}).ends_with(". Did you mean 'en'?")
        );
        assert!(refused(doc! {"locale": ""}).contains("cannot be the empty string"));
        assert!(refused(doc! {"locale": 5}).contains(
            "TypeMismatch (14): \"locale\" had the wrong type. Expected string, found int"
        ));
        assert!(
            refused(doc! {"strength": 2})
                .contains("NoSuchKey (4): Missing expected field \"locale\"")
        );
        for ok in [
            "en",
            "en_US",
            "de@collation=phonebook",
            "zh_Hant",
            "sr_Latn@collation=search",
            "root",
        ] {
            assert!(
                parse_collation(&doc! {"locale": ok}).unwrap().is_some(),
                "{ok}"
            );
        }
    }

    #[test]
    fn fields_values_and_versions() {
        let cases = [
            (
                doc! {"locale": "en", "foo": 1},
                "FailedToParse (9): Collation spec contains unknown field. Collation spec: { locale: \"en\", foo: 1 }",
            ),
            (
                doc! {"locale": "en", "strength": 6},
                "FailedToParse (9): Field 'strength' must be an integer 1 through 5. Got: 6",
            ),
            (
                doc! {"locale": "en", "strength": 0},
                "must be an integer 1 through 5. Got: 0",
            ),
            (
                doc! {"locale": "en", "strength": 2.5},
                "BadValue (2): Expected field \"strength\" to have a value exactly representable",
            ),
            (
                doc! {"locale": "en", "strength": "2"},
                "to have numeric type, but found string",
            ),
            (
                doc! {"locale": "en", "caseFirst": "first"},
                "Field 'caseFirst' must be 'upper', 'lower', or 'off'. Got: first",
            ),
            (
                doc! {"locale": "en", "alternate": "x"},
                "Field 'alternate' must be 'non-ignorable' or 'shifted'. Got: x",
            ),
            (
                doc! {"locale": "en", "maxVariable": "x"},
                "Field 'maxVariable' must be 'punct' or 'space'. Got: x",
            ),
            (
                doc! {"locale": "en", "caseLevel": 1},
                "\"caseLevel\" had the wrong type. Expected bool, found int",
            ),
            (
                doc! {"locale": "en", "numericOrdering": "true"},
                "\"numericOrdering\" had the wrong type",
            ),
            (
                doc! {"locale": "en", "normalization": null},
                "\"normalization\" had the wrong type. Expected bool, found null",
            ),
            (
                doc! {"locale": "en", "backwards": 0},
                "\"backwards\" had the wrong type",
            ),
            (
                doc! {"locale": "en", "version": "58.2"},
                "IncompatibleCollationVersion (161): Requested collation version 58.2 but the only available collator version was 57.1",
            ),
            (
                doc! {"locale": "en", "version": 57},
                "\"version\" had the wrong type",
            ),
            (
                doc! {"locale": "simple", "strength": 2},
                "FailedToParse (9): If locale=simple, no other fields should be present in",
            ),
            (
                doc! {"locale": "fr", "strength": 1, "backwards": true},
                "'backwards' is invalid with 'strength' of 1",
            ),
            (
                doc! {"locale": "en", "strength": 2, "caseFirst": "upper"},
                "'caseFirst' is invalid unless 'caseLevel' is on",
            ),
        ];
        for (spec, want) in cases {
            let e = refused(spec.clone());
            assert!(e.contains(want), "{spec}: {e}");
        }
        let full = doc! {"locale": "en", "caseLevel": false, "caseFirst": "off", "strength": 2, "numericOrdering": false, "alternate": "non-ignorable", "maxVariable": "punct", "normalization": false, "backwards": false, "version": "57.1"};
        assert_eq!(parse_collation(&full).unwrap().unwrap().strength, 2);
        assert!(
            parse_collation(&doc! {"locale": "simple"})
                .unwrap()
                .is_none()
        );
        assert!(
            parse_collation(
                &doc! {"locale": "en", "strength": 1, "caseLevel": true, "caseFirst": "upper"}
            )
            .is_ok()
        );
    }

    #[test]
    fn locale_tags_for_icu4x() {
        let tag = |l: &str| {
            parse_collation(&doc! {"locale": l})
                .unwrap()
                .unwrap()
                .bcp47()
        };
        assert_eq!(tag("de@collation=phonebook"), "de-u-co-phonebk");
        assert_eq!(tag("zh_Hant"), "zh-Hant");
        assert_eq!(tag("en_US_POSIX"), "en-US-POSIX");
        assert_eq!(tag("es@collation=traditional"), "es-u-co-trad");
    }
}
