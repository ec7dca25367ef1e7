//! The server's checks of an index specification, in its order, with its error codes and its
//! wording: what `createIndexes` refuses, dupkey refuses before it reads a document. The
//! collation is checked in `collation.rs`, the partial filter in `filter.rs`.

use std::fmt::Write as _;

use bson::{Bson, Document};
use dupkey_conventions::types::type_alias;

use crate::SpecError;

/// A server error code with the name the server reports as `codeName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub i32, pub &'static str);

pub const BAD_VALUE: Code = Code(2, "BadValue");
pub const NO_SUCH_KEY: Code = Code(4, "NoSuchKey");
pub const FAILED_TO_PARSE: Code = Code(9, "FailedToParse");
pub const TYPE_MISMATCH: Code = Code(14, "TypeMismatch");
pub const CANNOT_CREATE_INDEX: Code = Code(67, "CannotCreateIndex");
pub const INCOMPATIBLE_COLLATION_VERSION: Code = Code(161, "IncompatibleCollationVersion");
pub const INVALID_INDEX_SPECIFICATION_OPTION: Code = Code(197, "InvalidIndexSpecificationOption");
pub const NOT_IMPLEMENTED: Code = Code(238, "NotImplemented");
/// Raised when the key's ordering is built: more than 32 fields.
pub const TOO_MANY_COMPOUND_KEYS: Code = Code(13103, "Location13103");
pub const HASHED_UNIQUE: Code = Code(16764, "Location16764");

/// The most fields a key pattern may have (the server keeps one direction bit per field in a
/// 32-bit word).
pub const MAX_KEY_FIELDS: usize = 32;
/// The largest key pattern, as BSON, the server accepts.
pub const MAX_KEY_PATTERN_BYTES: usize = 2048;

/// The refusal `code` gives, as a [`SpecError`]. Control characters the spec carries into the
/// message (a field name with a line break) are escaped: the error stays one line.
pub fn refuse(code: Code, message: impl Into<String>) -> SpecError {
    let mut message: String = message.into();
    if message.contains(char::is_control) {
        message = message
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
    }
    SpecError::Refused {
        code: code.0,
        code_name: code.1,
        message,
    }
}

/// Fields an index spec may carry (any other is refused with 197).
const ALLOWED_FIELDS: &[&str] = &[
    "2dsphereIndexVersion",
    "background",
    "bits",
    "bucketSize",
    "clustered",
    "coarsestIndexedLevel",
    "collation",
    "columnstoreCompressor",
    "columnstoreProjection",
    "default_language",
    "dropDups",
    "expireAfterSeconds",
    "finestIndexedLevel",
    "hidden",
    "key",
    "language_override",
    "max",
    "min",
    "name",
    "ns",
    "originalSpec",
    "partialFilterExpression",
    "prepareUnique",
    "sparse",
    "storageEngine",
    "textIndexVersion",
    "unique",
    "v",
    "weights",
    "wildcardProjection",
];

/// The only fields of a clustered index's spec.
const CLUSTERED_FIELDS: &[&str] = &["name", "unique", "v", "key", "clustered"];
/// The only fields of an `_id` index's spec.
const ID_FIELDS: &[&str] = &["collation", "name", "v", "key", "ns", "_id"];
/// Options read as booleans (a number or a bool).
const BOOLEAN_FIELDS: &[&str] = &[
    "background",
    "unique",
    "sparse",
    "dropDups",
    "prepareUnique",
    "clustered",
];
/// Options of text and geo indexes that must be numbers.
const NUMERIC_FIELDS: &[&str] = &[
    "2dsphereIndexVersion",
    "textIndexVersion",
    "bits",
    "min",
    "max",
    "coarsestIndexedLevel",
    "finestIndexedLevel",
];
/// Index types (plugins) the server knows.
const PLUGINS: &[&str] = &[
    "2d",
    "2dsphere",
    "2dsphere_bucket",
    "text",
    "hashed",
    "wildcard",
    "columnstore",
    "geoHaystack",
];

/// Every check of `validateIndexSpec` and of the index catalog that does not need the
/// collection, in the server's order. `name` is the spec's name (or the default name a driver
/// would generate); the collation and the partial filter are checked by their parsers.
pub fn check_spec(spec: &Document) -> Result<(), SpecError> {
    check_field_names(spec)?;
    let mut version = 2;
    for (field, value) in spec {
        check_field(spec, field, value, &mut version)?;
    }
    let Some(Bson::Document(key)) = spec.get("key") else {
        return Err(refuse(
            FAILED_TO_PARSE,
            "The 'key' field is a required property of an index specification",
        ));
    };
    check_clustered(spec)?;
    let plugin = plugin_name(key);
    if spec.contains_key("collation") && version < 2 {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            format!(
                "Invalid index specification {}; cannot create an index with the 'collation' option and v={version}",
                shell_doc(spec)
            ),
        ));
    }
    if plugin != "text" && spec.contains_key("weights") {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            format!(
                "Invalid index specification {}; the field 'weights' can only be specified with text indexes",
                shell_doc(spec)
            ),
        ));
    }
    if truthy(spec.get("unique")) && truthy(spec.get("prepareUnique")) {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            format!(
                "Invalid index specification {}; cannot create an index with the 'unique' option and the 'prepareUnique' option",
                shell_doc(spec)
            ),
        ));
    }
    check_ttl(spec, key)?;
    check_name(spec, key)?;
    check_catalog_rules(spec, key, plugin)
}

/// 197 for a field the server does not know (or that an `_id`/clustered spec may not carry).
fn check_field_names(spec: &Document) -> Result<(), SpecError> {
    let clustered = spec.contains_key("clustered");
    let (allowed, what) = if clustered {
        (CLUSTERED_FIELDS, "a clustered index specification")
    } else {
        (ALLOWED_FIELDS, "an index specification")
    };
    for field in spec.keys() {
        if !allowed.contains(&field.as_str()) {
            return Err(refuse(
                INVALID_INDEX_SPECIFICATION_OPTION,
                format!(
                    "The field '{field}' is not valid for {what}. Specification: {}",
                    shell_doc(spec)
                ),
            ));
        }
    }
    Ok(())
}

/// The per-field checks, in the order the fields are written.
fn check_field(
    spec: &Document,
    field: &str,
    value: &Bson,
    version: &mut i32,
) -> Result<(), SpecError> {
    let must_be = |kind: &str| {
        refuse(
            TYPE_MISMATCH,
            format!(
                "The field '{field}' must be {kind}, but got {}",
                type_alias(value)
            ),
        )
    };
    match field {
        "key" => {
            let Bson::Document(key) = value else {
                return Err(must_be("an object"));
            };
            check_key_pattern(spec, key)
        }
        "name" if !matches!(value, Bson::String(_)) => Err(must_be("a string")),
        // The server's own message names 'name' here, not 'hidden'.
        "hidden" if !matches!(value, Bson::Boolean(_)) => Err(refuse(
            TYPE_MISMATCH,
            format!(
                "The field 'name' must be a bool, but got {}",
                type_alias(value)
            ),
        )),
        "v" => {
            *version = check_version(spec, value)?;
            Ok(())
        }
        "originalSpec" | "collation" => match value {
            Bson::Document(d) if d.is_empty() => Err(refuse(
                BAD_VALUE,
                format!("The field '{field}' cannot be an empty object."),
            )),
            Bson::Document(_) => Ok(()),
            _ => Err(must_be("an object")),
        },
        "partialFilterExpression" if !matches!(value, Bson::Document(_)) => {
            Err(must_be("an object"))
        }
        "wildcardProjection" | "columnstoreProjection" => check_projection(spec, field, value),
        "weights" if !matches!(value, Bson::Document(_) | Bson::Array(_) | Bson::String(_)) => {
            Err(must_be("an object"))
        }
        "default_language" | "language_override" if !matches!(value, Bson::String(_)) => {
            Err(must_be("a string"))
        }
        f if BOOLEAN_FIELDS.contains(&f) && number(value).is_none() => {
            if matches!(value, Bson::Boolean(_)) {
                return Ok(());
            }
            // The server's text has no closing quote after the field name.
            Err(refuse(
                TYPE_MISMATCH,
                format!(
                    "The field '{field} has value {field}: {}, which is not convertible to bool",
                    shell(value)
                ),
            ))
        }
        f if NUMERIC_FIELDS.contains(&f) && number(value).is_none() => Err(must_be("a number")),
        _ => Ok(()),
    }
}

/// `v`: a number that is exactly an int32, and 1 or 2.
fn check_version(spec: &Document, value: &Bson) -> Result<i32, SpecError> {
    let Some(n) = number(value) else {
        return Err(refuse(
            TYPE_MISMATCH,
            format!(
                "The field 'v' must be a number, but got {}",
                type_alias(value)
            ),
        ));
    };
    if n.fract() != 0.0 || n < f64::from(i32::MIN) || n > f64::from(i32::MAX) || n.is_nan() {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "Index version must be representable as a 32-bit integer, but got {}",
                shell(value)
            ),
        ));
    }
    let v = n as i32;
    if v != 1 && v != 2 {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            format!(
                "Invalid index specification {}; cannot create an index with v={v}",
                shell_doc(spec)
            ),
        ));
    }
    Ok(v)
}

fn check_projection(spec: &Document, field: &str, value: &Bson) -> Result<(), SpecError> {
    let wildcard = field == "wildcardProjection";
    let (plugin, code) = if wildcard {
        ("wildcard", BAD_VALUE)
    } else {
        ("columnstore", INVALID_INDEX_SPECIFICATION_OPTION)
    };
    let key = match spec.get("key") {
        Some(Bson::Document(k)) => k.clone(),
        _ => Document::new(),
    };
    if plugin_name(&key) != plugin {
        return Err(refuse(
            code,
            format!("The field '{field}' is only allowed in '{plugin}' indexes"),
        ));
    }
    match value {
        Bson::Document(d) if d.is_empty() => Err(refuse(
            FAILED_TO_PARSE,
            format!("The '{field}' field can't be an empty object"),
        )),
        Bson::Document(_) => Ok(()),
        other => Err(refuse(
            TYPE_MISMATCH,
            format!(
                "The field '{field}' must be a non-empty object, but got {}",
                type_alias(other)
            ),
        )),
    }
}

fn check_clustered(spec: &Document) -> Result<(), SpecError> {
    let Some(clustered) = spec.get("clustered") else {
        return Ok(());
    };
    if !truthy(Some(clustered)) {
        return Err(refuse(
            Code(6_492_800, "Location6492800"),
            "Value 'false' for field 'clustered' is invalid",
        ));
    }
    if !truthy(spec.get("unique")) {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            "The 'unique' field is required when 'clustered' is specified",
        ));
    }
    Ok(())
}

/// `validateKeyPattern` (with the latest, v2, rules) and the checks made next to it.
fn check_key_pattern(spec: &Document, key: &Document) -> Result<(), SpecError> {
    let fail = |message: &str| Err(refuse(CANNOT_CREATE_INDEX, message));
    if bson_size(key) > MAX_KEY_PATTERN_BYTES {
        return fail("Index key pattern too large.");
    }
    if key.is_empty() {
        return fail("Index keys cannot be empty.");
    }
    let plugin = plugin_name(key);
    if plugin == "geoHaystack" {
        return fail("GeoHaystack indexes cannot be created in version 5.0 and above");
    }
    if !plugin.is_empty() && !PLUGINS.contains(&plugin) {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            format!("Unknown index plugin '{plugin}'"),
        ));
    }
    let mut wildcards = 0;
    for (path, value) in key {
        check_key_value(value, plugin)?;
        if is_wildcard_path(path) {
            wildcards += 1;
        }
        check_key_path(path, value, plugin)?;
    }
    for value in key.values() {
        if matches!(value, Bson::String(s) if s.is_empty()) {
            return fail("Values in the index key pattern cannot be empty strings");
        }
    }
    if wildcards > 1 {
        return fail("A wildcard index can only have one wildcard component");
    }
    if plugin == "wildcard"
        && key.contains_key("$**")
        && key.len() > 1
        && !spec.contains_key("wildcardProjection")
    {
        return fail(
            "Compound wildcard indexes on all fields must also specify 'wildcardProjection' option",
        );
    }
    Ok(())
}

fn check_key_value(value: &Bson, plugin: &str) -> Result<(), SpecError> {
    let fail = |message: String| Err(refuse(CANNOT_CREATE_INDEX, message));
    match (number(value), value) {
        (Some(n), _) if n.is_nan() => {
            fail("Values in the index key pattern cannot be NaN.".into())
        }
        (Some(0.0), _) => fail("Values in the index key pattern cannot be 0.".into()),
        (Some(_), _) => Ok(()),
        (None, Bson::String(s)) if s != plugin => {
            fail("Can't use more than one index plugin for a single index.".into())
        }
        (None, Bson::String(s)) if s == "wildcard" => fail(
            "The key pattern value for an 'wildcard' index must be a non-zero number, not a string."
                .into(),
        ),
        (None, Bson::String(_)) => Ok(()),
        (None, other) => fail(format!(
            "Values in v:2 index key pattern cannot be of type {}. Only numbers > 0, numbers < 0, and strings are allowed.",
            type_alias(other)
        )),
    }
}

/// A key field name: no empty part, and no part starting with `$` but a DBRef's (`a.$id`) or a
/// wildcard's last one (`a.$**`).
fn check_key_path(path: &str, value: &Bson, plugin: &str) -> Result<(), SpecError> {
    let fail = |message: &str| Err(refuse(CANNOT_CREATE_INDEX, message));
    if path.is_empty() {
        return fail("Index keys cannot be an empty field.");
    }
    if path == "$**"
        && (number(value).is_some()
            || matches!(value, Bson::String(s) if s == "text" || s == "columnstore"))
    {
        return Ok(());
    }
    if path == "_fts" && !matches!(value, Bson::String(s) if s == "text") {
        return fail("Index key contains an illegal field name: '_fts'");
    }
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return fail("Index keys cannot contain an empty field.");
        }
        if !part.starts_with('$') {
            continue;
        }
        let dbref = i != 0 && matches!(*part, "$db" | "$id" | "$ref");
        let wildcard = i == parts.len() - 1
            && *part == "$**"
            && (plugin == "wildcard" || plugin == "columnstore");
        if !dbref && !wildcard {
            return fail("Index key contains an illegal field name: field name starts with '$'.");
        }
    }
    Ok(())
}

/// `expireAfterSeconds`: a number, not NaN, an int32, not negative, on a one-field key.
fn check_ttl(spec: &Document, key: &Document) -> Result<(), SpecError> {
    let Some(value) = spec.get("expireAfterSeconds") else {
        return Ok(());
    };
    let fail = |message: String| Err(refuse(CANNOT_CREATE_INDEX, message));
    let Some(n) = number(value) else {
        return fail(format!(
            "TTL index 'expireAfterSeconds' option must be numeric, but received a type of '{}'",
            type_alias(value)
        ));
    };
    if n.is_nan() {
        return fail("TTL index 'expireAfterSeconds' option must not be NaN".into());
    }
    if n.trunc() < f64::from(i32::MIN) || n.trunc() > f64::from(i32::MAX) {
        return fail(
            "TTL index 'expireAfterSeconds' must be within the range of a 32-bit integer".into(),
        );
    }
    if n.trunc() < 0.0 {
        return fail("TTL index 'expireAfterSeconds' option cannot be less than 0".into());
    }
    if key.len() != 1 {
        return fail(format!(
            "TTL indexes are single-field indexes, compound indexes do not support TTL. Index spec: {}",
            shell_doc(spec)
        ));
    }
    Ok(())
}

/// The index name: reserved names, and the `_id` index's own rules.
fn check_name(spec: &Document, key: &Document) -> Result<(), SpecError> {
    let name = match spec.get("name") {
        Some(Bson::String(n)) => n.as_str(),
        _ => "",
    };
    if is_id_pattern(key) {
        if spec.contains_key("clustered") {
            return Ok(());
        }
        for field in spec.keys() {
            if !ID_FIELDS.contains(&field.as_str()) {
                return Err(refuse(
                    INVALID_INDEX_SPECIFICATION_OPTION,
                    format!(
                        "The field '{field}' is not valid for an _id index specification. Specification: {}",
                        shell_doc(spec)
                    ),
                ));
            }
        }
        if !is_exactly_id_ascending(key) {
            return Err(refuse(
                BAD_VALUE,
                format!(
                    "The field 'key' for an _id index must be {{_id: 1}}, but got {}",
                    shell_doc(key)
                ),
            ));
        }
        return Ok(());
    }
    if name == "_id_" {
        return Err(refuse(
            BAD_VALUE,
            format!(
                "The index name '_id_' is reserved for the _id index, which must have key pattern {{_id: 1}}, found key: {}",
                shell_doc(key)
            ),
        ));
    }
    if name == "*" {
        return Err(refuse(BAD_VALUE, "The index name '*' is not valid."));
    }
    Ok(())
}

/// The catalog's own checks (`_isSpecOk`) that need no collection.
fn check_catalog_rules(spec: &Document, key: &Document, plugin: &str) -> Result<(), SpecError> {
    let fail = |message: String| Err(refuse(CANNOT_CREATE_INDEX, message));
    if let Some(Bson::String(name)) = spec.get("name") {
        if name.contains('\0') {
            return fail("index name cannot contain NUL bytes".into());
        }
        if name.is_empty() {
            return fail("index name cannot be empty".into());
        }
    }
    if spec.contains_key("collation") && !matches!(plugin, "" | "2dsphere" | "hashed" | "wildcard")
    {
        return fail(format!(
            "Index type '{plugin}' does not support collation: {}",
            shell(&spec.get("collation").cloned().unwrap_or(Bson::Null))
        ));
    }
    if plugin == "wildcard" {
        for option in ["sparse", "unique"] {
            if truthy(spec.get(option)) {
                return fail(format!(
                    "Index type 'wildcard' does not support the '{option}' option"
                ));
            }
        }
        if spec.contains_key("expireAfterSeconds") {
            return fail("cannot make a TTL index :: caused by :: Index type 'wildcard' does not support the 'expireAfterSeconds' option".into());
        }
    }
    if plugin == "columnstore" {
        return Err(refuse(
            NOT_IMPLEMENTED,
            "Columnstore indexes can no longer be created",
        ));
    }
    let sparse = truthy(spec.get("sparse"));
    let partial = spec.contains_key("partialFilterExpression");
    if partial && sparse {
        return fail("cannot mix \"partialFilterExpression\" and \"sparse\" options".into());
    }
    if is_id_pattern(key) {
        if spec.get("unique").is_some_and(|u| !truthy(Some(u))) {
            return fail("_id index cannot be non-unique".into());
        }
        if partial {
            return fail("_id index cannot be a partial index".into());
        }
        if sparse {
            return fail("_id index cannot be sparse".into());
        }
    }
    match spec.get("storageEngine") {
        Some(Bson::Document(d)) if d.is_empty() => fail(
            "Empty \"storageEngine\" options are invalid. Please remove the field or include valid options.".into(),
        ),
        Some(Bson::Document(_)) | None => Ok(()),
        Some(_) => fail("\"storageEngine\" options must be a document if present".into()),
    }
}

/// After the spec checks: what the key generator and the index type refuse.
pub fn check_build(key: &Document, unique: bool) -> Result<(), SpecError> {
    if key.len() > MAX_KEY_FIELDS {
        return Err(refuse(TOO_MANY_COMPOUND_KEYS, "too many compound keys"));
    }
    let hashed = key
        .values()
        .filter(|v| matches!(v, Bson::String(s) if s == "hashed"))
        .count();
    if hashed > 0 && unique {
        return Err(refuse(
            HASHED_UNIQUE,
            "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.",
        ));
    }
    if hashed > 1 {
        return Err(refuse(
            Code(31303, "Location31303"),
            format!(
                "A maximum of one index field is allowed to be hashed but found {hashed} for 'key' {}",
                shell_doc(key)
            ),
        ));
    }
    Ok(())
}

/// The index type: the first string value of the key pattern, or `wildcard` for a `$**`
/// field met first; `""` for an ordinary (btree) index.
pub fn plugin_name(key: &Document) -> &str {
    for (path, value) in key {
        if let Bson::String(s) = value {
            return s;
        }
        if is_wildcard_path(path) {
            return "wildcard";
        }
    }
    ""
}

fn is_wildcard_path(path: &str) -> bool {
    path == "$**" || path.ends_with(".$**")
}

/// A spec without `key` whose every value is a key-pattern value (a number, or an index type
/// the server knows, such as `"text"`): `{"email": 1}` meant as the index on `email`.
pub fn is_bare_key_pattern(doc: &Document) -> bool {
    !doc.is_empty()
        && !doc.contains_key("key")
        && doc.iter().all(|(_, v)| match v {
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => true,
            Bson::String(t) => PLUGINS.contains(&t.as_str()),
            _ => false,
        })
}

/// `{_id: 1}` or `{_id: -1}` (by integer value): a key the `_id` index rules apply to.
pub fn is_id_pattern(key: &Document) -> bool {
    let mut fields = key.iter();
    match (fields.next(), fields.next()) {
        (Some((name, value)), None) if name == "_id" => {
            number(value).is_some_and(|n| n.trunc() == 1.0 || n.trunc() == -1.0)
        }
        _ => false,
    }
}

fn is_exactly_id_ascending(key: &Document) -> bool {
    key.get("_id").and_then(number) == Some(1.0)
}

/// A numeric value as the server's `number()` reads it.
pub fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        Bson::Decimal128(d) => Some(d.to_string().parse().unwrap_or(f64::NAN)),
        _ => None,
    }
}

/// An option's truth as the server reads it (`trueValue`).
pub fn truthy(value: Option<&Bson>) -> bool {
    match value {
        None | Some(Bson::Null | Bson::Undefined) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(v) => number(v).is_none_or(|n| n != 0.0),
    }
}

/// The size of `doc` as BSON.
pub fn bson_size(doc: &Document) -> usize {
    // Walked rather than serialized: a key of 20,000 fields is measured without being copied.
    5 + doc
        .iter()
        .map(|(k, v)| 2 + k.len() + value_size(v))
        .sum::<usize>()
}

fn value_size(v: &Bson) -> usize {
    match v {
        Bson::Double(_) | Bson::Int64(_) | Bson::DateTime(_) | Bson::Timestamp(_) => 8,
        Bson::Int32(_) => 4,
        Bson::Boolean(_) => 1,
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => 0,
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => 5 + s.len(),
        Bson::ObjectId(_) => 12,
        Bson::Decimal128(_) => 16,
        Bson::Document(d) => bson_size(d),
        Bson::Array(a) => {
            5 + a
                .iter()
                .enumerate()
                .map(|(i, v)| 2 + i.to_string().len() + value_size(v))
                .sum::<usize>()
        }
        Bson::Binary(b) => 5 + b.bytes.len(),
        Bson::RegularExpression(r) => r.pattern.len() + r.options.len() + 2,
        Bson::JavaScriptCodeWithScope(c) => 4 + 5 + c.code.len() + bson_size(&c.scope),
        Bson::DbPointer(_) => 5 + 12 + 8,
    }
}

/// The longest rendering of a spec put in a message; a longer one is cut.
const SHOWN_CHARS: usize = 400;

/// A value the way the server prints BSON in messages (`{ key: { a: 1 }, name: "a_1" }`), cut
/// at [`SHOWN_CHARS`].
pub fn shell(value: &Bson) -> String {
    let mut out = String::new();
    write_shell(&mut out, value);
    cut(out)
}

/// [`shell`] for a document.
pub fn shell_doc(doc: &Document) -> String {
    let mut out = String::new();
    write_doc(&mut out, doc);
    cut(out)
}

fn cut(mut out: String) -> String {
    if out.len() > SHOWN_CHARS {
        let mut cut = SHOWN_CHARS;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

fn write_doc(out: &mut String, doc: &Document) {
    if doc.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (i, (k, v)) in doc.iter().enumerate() {
        if out.len() > SHOWN_CHARS {
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{k}: ");
        write_shell(out, v);
    }
    out.push_str(" }");
}

fn write_shell(out: &mut String, value: &Bson) {
    // Stop early on huge values: only the first SHOWN_CHARS are kept anyway.
    if out.len() > SHOWN_CHARS {
        return;
    }
    match value {
        Bson::Document(d) => write_doc(out, d),
        Bson::Array(a) if a.is_empty() => out.push_str("[]"),
        Bson::Array(a) => {
            out.push_str("[ ");
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_shell(out, v);
            }
            out.push_str(" ]");
        }
        Bson::String(s) => {
            let _ = write!(out, "\"{s}\"");
        }
        Bson::Double(d) if d.fract() == 0.0 && d.is_finite() && d.abs() < 1e15 => {
            let _ = write!(out, "{d:.1}");
        }
        Bson::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn refused(spec: Document) -> String {
        match check_spec(&spec).and_then(|()| {
            check_build(
                spec.get_document("key").unwrap(),
                truthy(spec.get("unique")),
            )
        }) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("accepted: {spec}"),
        }
    }

    #[test]
    fn names_the_server_reserves_or_refuses() {
        assert!(
            refused(doc! {"key": {"a": 1}, "name": ""})
                .contains("CannotCreateIndex (67): index name cannot be empty")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "name": "*"})
                .contains("BadValue (2): The index name '*' is not valid.")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "name": "_id_"})
                .contains("The index name '_id_' is reserved")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "name": 5})
                .contains("TypeMismatch (14): The field 'name' must be a string, but got int")
        );
        assert!(refused(doc! {"key": {"a": 1}, "name": "a\0b"}).contains("NUL"));
        assert!(check_spec(&doc! {"key": {"_id": 1}, "name": "_id_"}).is_ok());
    }

    #[test]
    fn versions_other_than_1_and_2() {
        for v in [Bson::Int32(0), Bson::Int32(3), Bson::Int32(-1)] {
            let e = refused(doc! {"key": {"a": 1}, "name": "a_1", "v": v.clone()});
            assert!(
                e.contains("CannotCreateIndex (67)")
                    && e.contains("cannot create an index with v="),
                "{e}"
            );
        }
        assert!(
            refused(doc! {"key": {"a": 1}, "v": 1.5})
                .contains("BadValue (2): Index version must be representable as a 32-bit integer")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "v": "2"})
                .contains("The field 'v' must be a number, but got string")
        );
        assert!(check_spec(&doc! {"key": {"a": 1}, "v": 1.0}).is_ok());
        assert!(
            refused(doc! {"key": {"a": 1}, "v": 1, "collation": {"locale": "en"}})
                .contains("cannot create an index with the 'collation' option and v=1")
        );
    }

    #[test]
    fn key_patterns() {
        let cases = [
            (doc! {"key": {}}, "Index keys cannot be empty."),
            (
                doc! {"key": {"a": 0}},
                "Values in the index key pattern cannot be 0.",
            ),
            (doc! {"key": {"a": f64::NAN}}, "cannot be NaN."),
            (
                doc! {"key": {"a": true}},
                "cannot be of type bool. Only numbers > 0",
            ),
            (
                doc! {"key": {"a": ""}},
                "Values in the index key pattern cannot be empty strings",
            ),
            (doc! {"key": {"a": "foo"}}, "Unknown index plugin 'foo'"),
            (
                doc! {"key": {"a": "text", "b": "2dsphere"}},
                "Can't use more than one index plugin",
            ),
            (
                doc! {"key": {"a": "geoHaystack", "b": 1}},
                "GeoHaystack indexes cannot be created",
            ),
            (doc! {"key": {"$a": 1}}, "field name starts with '$'."),
            (doc! {"key": {"a.$b": 1}}, "field name starts with '$'."),
            (
                doc! {"key": {"a..b": 1}},
                "Index keys cannot contain an empty field.",
            ),
            (
                doc! {"key": {".a": 1}},
                "Index keys cannot contain an empty field.",
            ),
            (
                doc! {"key": {"": 1}},
                "Index keys cannot be an empty field.",
            ),
            (doc! {"key": {"_fts": 1}}, "illegal field name: '_fts'"),
            (
                doc! {"key": {"a": "wildcard"}},
                "must be a non-zero number, not a string",
            ),
            (
                doc! {"key": {"a": "hashed"}, "unique": true},
                "Location16764",
            ),
            (
                doc! {"key": {"a": "hashed", "b": "hashed"}},
                "A maximum of one index field is allowed to be hashed",
            ),
            (
                doc! {"key": {"$**": 1}, "unique": true},
                "Index type 'wildcard' does not support the 'unique' option",
            ),
            (
                doc! {"key": {"$**": 1}, "sparse": true},
                "does not support the 'sparse' option",
            ),
            (
                doc! {"key": {"a": 1}, "wildcardProjection": {"a": 1}},
                "only allowed in 'wildcard' indexes",
            ),
            (
                doc! {"key": {"a": "text"}, "collation": {"locale": "en"}},
                "Index type 'text' does not support collation",
            ),
        ];
        for (spec, want) in cases {
            let e = refused(spec.clone());
            assert!(e.contains(want), "{spec}: {e}");
        }
        assert!(
            check_spec(&doc! {"key": {"a.$id": 1}}).is_ok(),
            "a DBRef part"
        );
        assert!(check_spec(&doc! {"key": {"a.$**": 1}}).is_ok());
        assert!(check_spec(&doc! {"key": {"$**": "text"}}).is_ok());
        assert!(check_spec(&doc! {"key": {"a": -0.5, "b": "2dsphere"}}).is_ok());
    }

    #[test]
    fn more_than_32_fields_or_2048_bytes() {
        let mut key = Document::new();
        for i in 0..33 {
            key.insert(format!("f{i}"), 1);
        }
        assert!(
            refused(doc! {"key": key.clone()})
                .contains("Location13103 (13103): too many compound keys")
        );
        key.remove("f32");
        assert!(check_build(&key, true).is_ok());
        let mut wide = Document::new();
        for i in 0..20_000 {
            wide.insert(format!("field{i}"), 1);
        }
        assert!(refused(doc! {"key": wide}).contains("Index key pattern too large."));
        let long = doc! {"key": {"x".repeat(2100): 1}};
        assert!(refused(long).contains("too large"));
    }

    #[test]
    fn id_index_rules() {
        assert!(refused(doc! {"key": {"_id": 1}, "unique": true}).contains("InvalidIndexSpecificationOption (197): The field 'unique' is not valid for an _id index specification"));
        assert!(
            refused(doc! {"key": {"_id": 1}, "sparse": true})
                .contains("not valid for an _id index")
        );
        assert!(refused(doc! {"key": {"_id": -1}}).contains(
            "BadValue (2): The field 'key' for an _id index must be {_id: 1}, but got { _id: -1 }"
        ));
        assert!(check_spec(&doc! {"key": {"_id": 1}, "name": "by_id", "v": 2}).is_ok());
        assert!(
            check_spec(
                &doc! {"key": {"_id": 1}, "name": "_id_", "unique": true, "clustered": true, "v": 2}
            )
            .is_ok()
        );
        assert!(
            refused(doc! {"key": {"_id": 1}, "name": "_id_", "unique": false, "clustered": true})
                .contains("required when 'clustered'")
        );
    }

    #[test]
    fn option_types_and_ttl() {
        assert!(refused(doc! {"key": {"a": 1}, "unique": "yes"}).contains("TypeMismatch (14): The field 'unique has value unique: \"yes\", which is not convertible to bool"));
        assert!(
            refused(doc! {"key": {"a": 1}, "sparse": null}).contains("not convertible to bool")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "hidden": 1}).contains("must be a bool, but got int")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "collation": "en"})
                .contains("The field 'collation' must be an object, but got string")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "collation": {}})
                .contains("The field 'collation' cannot be an empty object.")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "partialFilterExpression": 5})
                .contains("The field 'partialFilterExpression' must be an object, but got int")
        );
        assert!(refused(doc! {"key": {"a": 1}, "foo": 1}).contains("InvalidIndexSpecificationOption (197): The field 'foo' is not valid for an index specification. Specification: { key: { a: 1 }, foo: 1 }"));
        assert!(
            refused(doc! {"key": {"a": 1}, "unique": true, "prepareUnique": true})
                .contains("'unique' option and the 'prepareUnique' option")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "weights": {"a": 1}})
                .contains("can only be specified with text indexes")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "storageEngine": {}})
                .contains("Empty \"storageEngine\"")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "default_language": 1}).contains("must be a string")
        );
        assert!(refused(doc! {"key": {"a": 1}, "bits": "26"}).contains("must be a number"));
        assert!(
            refused(doc! {"unique": true})
                .contains("FailedToParse (9): The 'key' field is a required property")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "expireAfterSeconds": -1})
                .contains("cannot be less than 0")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "expireAfterSeconds": "1"})
                .contains("must be numeric, but received a type of 'string'")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "expireAfterSeconds": f64::NAN})
                .contains("must not be NaN")
        );
        assert!(
            refused(doc! {"key": {"a": 1}, "expireAfterSeconds": 1_i64 << 40})
                .contains("range of a 32-bit integer")
        );
        assert!(
            refused(doc! {"key": {"a": 1, "b": 1}, "expireAfterSeconds": 10})
                .contains("compound indexes do not support TTL")
        );
        assert!(check_spec(&doc! {"key": {"a": 1}, "expireAfterSeconds": 0.5, "unique": 1, "background": true, "hidden": false}).is_ok());
    }

    #[test]
    fn a_line_break_in_the_spec_stays_out_of_the_message() {
        let e = refused(doc! {"key": {"a": 1}, "u\nique": true});
        assert!(e.contains("'u\\nique'") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn messages_print_bson_the_server_way() {
        assert_eq!(
            shell(&Bson::Document(
                doc! {"key": {"a": 1, "b": -1.0}, "name": "x", "l": 5_i64, "e": {}}
            )),
            "{ key: { a: 1, b: -1.0 }, name: \"x\", l: 5, e: {} }"
        );
        assert!(shell(&Bson::String("y".repeat(1000))).ends_with("..."));
    }

    #[test]
    fn a_bare_key_pattern_is_told_from_a_spec() {
        assert!(is_bare_key_pattern(&doc! {"email": 1}));
        assert!(is_bare_key_pattern(&doc! {"a": -1, "loc": "2dsphere"}));
        assert!(!is_bare_key_pattern(&doc! {"key": {"email": 1}}));
        assert!(!is_bare_key_pattern(&doc! {"email": 1, "unique": true}));
        assert!(!is_bare_key_pattern(&doc! {"email": "nonsense"}));
        assert!(!is_bare_key_pattern(&doc! {}));
    }
}
