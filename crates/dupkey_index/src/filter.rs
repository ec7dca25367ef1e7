//! Partial filter expressions, matched with query semantics.
//!
//! A document is in a partial index when it matches the filter as a `find` would: a path that
//! crosses an array matches when any element does, `{f: null}` matches a missing field, and
//! `{$exists: true}` matches a field holding null (the classic trap). Comparisons are
//! type-bracketed: `{$gt: ""}` matches strings only.

use bson::spec::ElementType;
use bson::{Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf};

use crate::SpecError;
use crate::encode::{canonical_type, ctype, encode_value};
use crate::spec_checks::{BAD_VALUE, CANNOT_CREATE_INDEX, TYPE_MISMATCH, refuse};

/// A parsed `partialFilterExpression`.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Field { path: String, cond: Cond },
}

#[derive(Debug, Clone)]
pub enum Cond {
    Eq(Operand),
    Exists,
    Cmp(CmpOp, Operand),
    Type(Vec<TypeSel>),
    In(Vec<Operand>),
    /// Several conditions on one field: `{a: {$gt: 1, $lt: 9}}`.
    All(Vec<Cond>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A constant of the filter, with its canonical encoding for comparisons.
#[derive(Debug, Clone)]
pub struct Operand {
    pub value: Bson,
    encoded: Vec<u8>,
}

impl Operand {
    fn new(value: Bson) -> Self {
        let raw = RawDocumentBuf::try_from(&bson::doc! { "v": value.clone() }).unwrap_or_default();
        let mut encoded = Vec::new();
        if let Some(Ok(v)) = raw.get("v").transpose() {
            encode_value(&mut encoded, v, None);
        }
        Operand { value, encoded }
    }

    fn is_null(&self) -> bool {
        matches!(self.value, Bson::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeSel {
    Number,
    Type(ElementType),
}

impl Filter {
    /// Parses a filter, refusing what the server refuses in a partial index (with its code
    /// and wording): operators other than equality, comparisons, `$type`, `$exists: true`,
    /// `$in`, `$and` and `$or`, and trees deeper than [`MAX_DEPTH`].
    pub fn parse(doc: &Document) -> Result<Filter, SpecError> {
        parse_at(doc, 0)
    }

    pub fn matches(&self, doc: &RawDocument) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(doc)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(doc)),
            Filter::Field { path, cond } => {
                let mut values = Vec::new();
                collect_path(RawBsonRef::Document(doc), &split(path), &mut values);
                cond.matches(&values)
            }
        }
    }
}

impl Filter {
    /// [`Filter::matches`] for a filter on top-level fields holding no array, straight from
    /// the document's bytes and without allocating; `None` when it is not such a filter on
    /// this document (a dotted path, an array value), where [`Filter::matches`] decides.
    pub fn matches_top_level(&self, doc: &RawDocument) -> Option<bool> {
        match self {
            // A false conjunct decides alone, a true disjunct too, whatever the others are.
            Filter::And(fs) => settle(fs, doc, false),
            Filter::Or(fs) => settle(fs, doc, true),
            Filter::Field { path, cond } => {
                if path.contains('.') {
                    return None;
                }
                // Damaged bytes: the caller's full check names them.
                match crate::raw::lookup(doc, path).ok()? {
                    None => Some(cond.matches(&[])),
                    Some(RawBsonRef::Array(_)) => None,
                    Some(v) => Some(cond.matches(&[v])),
                }
            }
        }
    }
}

/// The answer of `fs` joined where one part answering `decisive` settles it alone (false for
/// `$and`, true for `$or`): that, or else the other answer when every part gave one.
fn settle(fs: &[Filter], doc: &RawDocument, decisive: bool) -> Option<bool> {
    let mut settled = Some(!decisive);
    for f in fs {
        match f.matches_top_level(doc) {
            Some(answer) if answer == decisive => return Some(decisive),
            Some(_) => {}
            None => settled = None,
        }
    }
    settled
}

/// How deep the server lets a partial filter's expression tree go (its
/// `internalPartialFilterExpressionMaxDepth`, 4 by default): `{$and: [{$and: [{$and: [{x: 3}]}]}]}`
/// is the deepest accepted.
pub const MAX_DEPTH: usize = 4;

fn unsupported(op: &str) -> SpecError {
    refuse(
        CANNOT_CREATE_INDEX,
        format!("Expression not supported in partial index: {op}"),
    )
}

/// The node at `level` (0 for the root) may exist: checked before going deeper, so a filter
/// nested thousands of levels is refused at its fifth.
fn check_level(level: usize) -> Result<(), SpecError> {
    if level + 1 > MAX_DEPTH {
        return Err(refuse(
            CANNOT_CREATE_INDEX,
            format!("partialFilterExpression depth may not exceed {MAX_DEPTH}"),
        ));
    }
    Ok(())
}

/// The expressions an entry of a filter document adds to the document's conjunction: one per
/// operator of a field's operator object, one otherwise.
fn expression_count(key: &str, value: &Bson) -> usize {
    match value {
        Bson::Document(d) if !key.starts_with('$') && is_operator_object(d) => d.len(),
        _ => 1,
    }
}

fn is_operator_object(d: &Document) -> bool {
    d.keys().next().is_some_and(|k| k.starts_with('$'))
}

/// A filter document at `level`: a single expression stays at that level, several become the
/// children (one level down) of a conjunction there, as the server's parser builds them.
fn parse_at(doc: &Document, level: usize) -> Result<Filter, SpecError> {
    check_level(level)?;
    let count: usize = doc.iter().map(|(k, v)| expression_count(k, v)).sum();
    let children = if count == 1 { level } else { level + 1 };
    let mut parts = Vec::with_capacity(doc.len());
    for (k, v) in doc {
        parts.push(parse_entry(k, v, children)?);
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

fn parse_entry(key: &str, value: &Bson, level: usize) -> Result<Filter, SpecError> {
    match key {
        "$and" | "$or" => {
            check_level(level)?;
            let Bson::Array(items) = value else {
                return Err(refuse(BAD_VALUE, format!("{key} must be an array")));
            };
            if items.is_empty() {
                return Err(refuse(BAD_VALUE, "$and/$or/$nor must be a nonempty array"));
            }
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                let Bson::Document(d) = item else {
                    return Err(refuse(
                        BAD_VALUE,
                        "$or/$and/$nor entries need to be full objects",
                    ));
                };
                parts.push(parse_at(d, level + 1)?);
            }
            Ok(if key == "$and" {
                Filter::And(parts)
            } else {
                Filter::Or(parts)
            })
        }
        "$nor" | "$alwaysTrue" | "$alwaysFalse" => Err(unsupported(key)),
        "$where" | "$text" | "$expr" | "$jsonSchema" => Err(refuse(
            BAD_VALUE,
            format!("{key} is not allowed in this context"),
        )),
        k if k.starts_with('$') => Err(refuse(
            BAD_VALUE,
            format!(
                "unknown top level operator: {k}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField."
            ),
        )),
        path => {
            check_level(level)?;
            Ok(Filter::Field {
                path: path.to_string(),
                cond: parse_cond(value)?,
            })
        }
    }
}

/// Operators the server parses but refuses in a partial index.
const REFUSED_OPERATORS: &[&str] = &[
    "$ne",
    "$nin",
    "$not",
    "$regex",
    "$options",
    "$elemMatch",
    "$size",
    "$mod",
    "$all",
    "$bitsAllSet",
    "$bitsAllClear",
    "$bitsAnySet",
    "$bitsAnyClear",
    "$near",
    "$nearSphere",
    "$geoNear",
    "$comment",
    "$_internalSchemaType",
];

fn parse_cond(value: &Bson) -> Result<Cond, SpecError> {
    let ops = match value {
        Bson::Document(d) if is_operator_object(d) => d,
        Bson::RegularExpression(_) => return Err(unsupported("$regex")),
        other => return Ok(Cond::Eq(Operand::new(other.clone()))),
    };
    let mut conds = Vec::new();
    for (op, arg) in ops {
        conds.push(match op.as_str() {
            "$eq" => Cond::Eq(Operand::new(arg.clone())),
            "$exists" => {
                if truthy(arg) {
                    Cond::Exists
                } else {
                    return Err(unsupported("$not"));
                }
            }
            "$gt" => Cond::Cmp(CmpOp::Gt, Operand::new(arg.clone())),
            "$gte" => Cond::Cmp(CmpOp::Gte, Operand::new(arg.clone())),
            "$lt" => Cond::Cmp(CmpOp::Lt, Operand::new(arg.clone())),
            "$lte" => Cond::Cmp(CmpOp::Lte, Operand::new(arg.clone())),
            "$type" => Cond::Type(parse_types(arg)?),
            "$in" => Cond::In(parse_in(arg)?),
            "$geoWithin" | "$geoIntersects" | "$within" => {
                return Err(SpecError::Unsupported(format!(
                    "the server accepts {op} in a partial filter, but dupkey does not evaluate geo queries; check this index on a copy of the data instead"
                )));
            }
            other if REFUSED_OPERATORS.contains(&other) => return Err(unsupported(other)),
            other => return Err(refuse(BAD_VALUE, format!("unknown operator: {other}"))),
        });
    }
    Ok(if conds.len() == 1 {
        conds.remove(0)
    } else {
        Cond::All(conds)
    })
}

/// `$in`'s values. A regular expression among them matches strings by pattern, which dupkey
/// does not evaluate.
fn parse_in(arg: &Bson) -> Result<Vec<Operand>, SpecError> {
    let Bson::Array(items) = arg else {
        return Err(refuse(BAD_VALUE, "$in needs an array"));
    };
    if items
        .iter()
        .any(|v| matches!(v, Bson::RegularExpression(_)))
    {
        return Err(SpecError::Unsupported(
            "the server accepts a regular expression in $in in a partial filter, but dupkey does not evaluate regular expressions; check this index on a copy of the data instead".into(),
        ));
    }
    Ok(items.iter().cloned().map(Operand::new).collect())
}

fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(d) => *d != 0.0,
        Bson::Null | Bson::Undefined => false,
        _ => true,
    }
}

fn parse_types(arg: &Bson) -> Result<Vec<TypeSel>, SpecError> {
    let items: Vec<&Bson> = match arg {
        Bson::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    items.into_iter().map(parse_type).collect()
}

fn parse_type(t: &Bson) -> Result<TypeSel, SpecError> {
    let code: u8 = match t {
        Bson::String(s) => match s.as_str() {
            "number" => return Ok(TypeSel::Number),
            "double" => 1,
            "string" => 2,
            "object" => 3,
            "array" => 4,
            "binData" => 5,
            "undefined" => 6,
            "objectId" => 7,
            "bool" => 8,
            "date" => 9,
            "null" => 10,
            "regex" => 11,
            "dbPointer" => 12,
            "javascript" => 13,
            "symbol" => 14,
            "javascriptWithScope" => 15,
            "int" => 16,
            "timestamp" => 17,
            "long" => 18,
            "decimal" => 19,
            "minKey" => 0xFF,
            "maxKey" => 0x7F,
            other => {
                return Err(refuse(
                    BAD_VALUE,
                    format!("Unknown type name alias: {other}"),
                ));
            }
        },
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
            let n = crate::spec_checks::number(t).unwrap_or(f64::NAN);
            // -1 is MinKey; other codes are the BSON type bytes 1 to 19 and 127.
            match n {
                -1.0 => 0xFF,
                _ if n.fract() == 0.0 && ((1.0..=19.0).contains(&n) || n == 127.0) => n as u8,
                _ => {
                    return Err(refuse(
                        BAD_VALUE,
                        format!(
                            "Invalid numerical type code: {}",
                            crate::spec_checks::shell(t)
                        ),
                    ));
                }
            }
        }
        _ => {
            return Err(refuse(
                TYPE_MISMATCH,
                "type must be represented as a number or a string",
            ));
        }
    };
    ElementType::from(code)
        .map(TypeSel::Type)
        .ok_or_else(|| refuse(BAD_VALUE, format!("Invalid numerical type code: {code}")))
}

fn split(path: &str) -> Vec<&str> {
    path.split('.').collect()
}

/// The values a path reaches, query-style: through arrays of documents, and positional
/// components. A missing path reaches nothing.
fn collect_path<'a>(cur: RawBsonRef<'a>, path: &[&str], out: &mut Vec<RawBsonRef<'a>>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(cur);
        return;
    };
    match cur {
        RawBsonRef::Document(d) => {
            if let Ok(Some(v)) = d.get(*first) {
                collect_path(v, rest, out);
            }
        }
        RawBsonRef::Array(a) => {
            if first.bytes().all(|b| b.is_ascii_digit())
                && let Ok(i) = first.parse::<usize>()
                && let Some(Ok(v)) = a.into_iter().nth(i)
            {
                collect_path(v, rest, out);
            }
            for item in a.into_iter().flatten() {
                if let RawBsonRef::Document(d) = item
                    && let Ok(Some(v)) = d.get(*first)
                {
                    collect_path(v, rest, out);
                }
            }
        }
        _ => {}
    }
}

impl Cond {
    fn matches(&self, values: &[RawBsonRef<'_>]) -> bool {
        match self {
            Cond::All(cs) => cs.iter().all(|c| c.matches(values)),
            Cond::Exists => !values.is_empty(),
            Cond::Eq(op) => eq_matches(op, values),
            Cond::In(ops) => ops.iter().any(|op| eq_matches(op, values)),
            Cond::Cmp(cmp, op) => {
                if op.is_null() {
                    // {$gte: null} and {$lte: null} behave as equality with null.
                    return matches!(cmp, CmpOp::Gte | CmpOp::Lte) && eq_matches(op, values);
                }
                each_candidate(values, |v| compare(*cmp, op, v))
            }
            Cond::Type(types) => {
                each_candidate_with_arrays(values, |v| types.iter().any(|t| type_matches(*t, v)))
            }
        }
    }
}

fn eq_matches(op: &Operand, values: &[RawBsonRef<'_>]) -> bool {
    if op.is_null()
        && (values.is_empty()
            || values
                .iter()
                .any(|v| matches!(v, RawBsonRef::Null | RawBsonRef::Undefined)))
    {
        return true;
    }
    // The whole array, or any element of it, may equal the operand.
    each_candidate_with_arrays(values, |v| {
        let mut e = Vec::new();
        encode_value(&mut e, v, None);
        e == op.encoded || (op.is_null() && matches!(v, RawBsonRef::Null))
    })
}

/// Scalars, and the elements of arrays (not the arrays themselves).
fn each_candidate(values: &[RawBsonRef<'_>], mut f: impl FnMut(RawBsonRef<'_>) -> bool) -> bool {
    values.iter().any(|v| match v {
        RawBsonRef::Array(a) => a.into_iter().flatten().any(&mut f),
        other => f(*other),
    })
}

/// Arrays themselves and their elements.
fn each_candidate_with_arrays(
    values: &[RawBsonRef<'_>],
    mut f: impl FnMut(RawBsonRef<'_>) -> bool,
) -> bool {
    values.iter().any(|v| match v {
        RawBsonRef::Array(a) => f(*v) || a.into_iter().flatten().any(&mut f),
        other => f(*other),
    })
}

fn compare(cmp: CmpOp, op: &Operand, v: RawBsonRef<'_>) -> bool {
    // Type bracketing: only values of the operand's canonical type compare.
    let op_type = op.encoded.first().copied().unwrap_or(0);
    let t = canonical_type(v);
    let same_bracket = t == op_type
        || (t == ctype::FALSE && op_type == ctype::TRUE)
        || (t == ctype::TRUE && op_type == ctype::FALSE);
    if !same_bracket {
        return false;
    }
    let mut e = Vec::new();
    encode_value(&mut e, v, None);
    let ord = e.cmp(&op.encoded);
    match cmp {
        CmpOp::Gt => ord.is_gt(),
        CmpOp::Gte => ord.is_ge(),
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Lte => ord.is_le(),
    }
}

fn type_matches(t: TypeSel, v: RawBsonRef<'_>) -> bool {
    match t {
        TypeSel::Number => canonical_type(v) == ctype::NUMBER,
        TypeSel::Type(et) => v.element_type() == et,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    fn f(d: Document) -> Filter {
        Filter::parse(&d).unwrap()
    }

    #[test]
    fn exists_true_matches_null() {
        let filter = f(doc! {"email": {"$exists": true}});
        assert!(filter.matches(&rawdoc! {"email": null}));
        assert!(!filter.matches(&rawdoc! {"other": 1}));
    }

    #[test]
    fn type_string_excludes_null_and_missing() {
        let filter = f(doc! {"email": {"$type": "string"}});
        assert!(filter.matches(&rawdoc! {"email": "a"}));
        assert!(!filter.matches(&rawdoc! {"email": null}));
        assert!(!filter.matches(&rawdoc! {}));
        assert!(filter.matches(&rawdoc! {"email": ["a", 1]}));
    }

    #[test]
    fn comparisons_are_type_bracketed() {
        let filter = f(doc! {"a": {"$gt": 5}});
        assert!(filter.matches(&rawdoc! {"a": 6.5}));
        assert!(!filter.matches(&rawdoc! {"a": "9"}));
        assert!(filter.matches(&rawdoc! {"a": [1, 10]}));
        assert!(f(doc! {"a": {"$gt": ""}}).matches(&rawdoc! {"a": "x"}));
        assert!(!f(doc! {"a": {"$gt": ""}}).matches(&rawdoc! {"a": null}));
    }

    #[test]
    fn equality_with_null_matches_missing() {
        let filter = f(doc! {"a": null});
        assert!(filter.matches(&rawdoc! {}));
        assert!(filter.matches(&rawdoc! {"a": null}));
        assert!(!filter.matches(&rawdoc! {"a": 1}));
    }

    #[test]
    fn dotted_paths_through_arrays() {
        let filter = f(doc! {"a.b": 2});
        assert!(filter.matches(&rawdoc! {"a": [{"b": 1}, {"b": 2}]}));
        assert!(!filter.matches(&rawdoc! {"a": [{"b": 1}]}));
    }

    #[test]
    fn the_top_level_matcher_agrees_or_defers() {
        let filters = [
            doc! {"a": {"$exists": true}},
            doc! {"a": {"$type": "string"}},
            doc! {"a": {"$type": ["number", "null"]}},
            doc! {"a": null},
            doc! {"a": 5},
            doc! {"a": {"$gte": 2, "$lt": 9}},
            doc! {"a": {"$lte": null}},
            doc! {"a": {"$in": [1, "x", null]}},
            doc! {"a": {"$exists": true}, "b": {"$gt": 0}},
            doc! {"$or": [{"a": {"$type": "string"}}, {"b": 1}]},
            doc! {"$and": [{"a.c": 1}, {"b": {"$gt": 5}}]},
            doc! {"$or": [{"a.c": 1}, {"b": 1}]},
        ];
        let docs = [
            rawdoc! {},
            rawdoc! {"a": null},
            rawdoc! {"a": "x", "b": 1},
            rawdoc! {"a": 5.0, "b": -1},
            rawdoc! {"a": 3_i64, "b": 7},
            rawdoc! {"a": bson::Decimal128::from_bytes([0; 16])},
            rawdoc! {"a": [1, "x"], "b": 1},
            rawdoc! {"a": {"c": 1}, "b": 6},
            rawdoc! {"a": bson::RawBson::Undefined},
        ];
        let mut decided = 0;
        for filter in &filters {
            let parsed = f(filter.clone());
            for d in &docs {
                let full = parsed.matches(d);
                if let Some(fast) = parsed.matches_top_level(d) {
                    assert_eq!(fast, full, "{filter} on {d:?}");
                    decided += 1;
                }
            }
        }
        // Arrays and dotted paths defer, unless another part decides alone.
        let array = rawdoc! {"a": [1, "x"], "b": 1};
        assert_eq!(
            f(doc! {"a": {"$exists": true}}).matches_top_level(&array),
            None
        );
        assert_eq!(
            f(doc! {"a.c": 1}).matches_top_level(&rawdoc! {"a": {"c": 1}}),
            None
        );
        let and = f(doc! {"$and": [{"a.c": 1}, {"b": {"$gt": 5}}]});
        assert_eq!(and.matches_top_level(&rawdoc! {"b": 1}), Some(false));
        assert_eq!(and.matches_top_level(&rawdoc! {"b": 9}), None);
        let or = f(doc! {"$or": [{"a.c": 1}, {"b": 1}]});
        assert_eq!(or.matches_top_level(&rawdoc! {"b": 1}), Some(true));
        assert_eq!(or.matches_top_level(&rawdoc! {"b": 2}), None);
        assert!(decided > 80, "{decided}");
    }

    #[test]
    fn rejects_what_the_server_rejects() {
        for bad in [
            doc! {"a": {"$ne": 1}},
            doc! {"a": {"$exists": false}},
            doc! {"a": {"$not": {"$gt": 1}}},
            doc! {"a": {"$regex": "x"}},
            doc! {"$nor": [{"a": 1}]},
        ] {
            let err = Filter::parse(&bad).unwrap_err().to_string();
            assert!(
                err.contains("CannotCreateIndex (67): Expression not supported in partial index"),
                "{err}"
            );
        }
        let cases = [
            (
                doc! {"$where": "1"},
                "BadValue (2): $where is not allowed in this context",
            ),
            (
                doc! {"$expr": {"$eq": ["$a", 1]}},
                "$expr is not allowed in this context",
            ),
            (doc! {"$foo": 1}, "unknown top level operator: $foo"),
            (
                doc! {"a": {"$foo": 1}},
                "BadValue (2): unknown operator: $foo",
            ),
            (doc! {"$and": 5}, "$and must be an array"),
            (doc! {"$or": []}, "must be a nonempty array"),
            (doc! {"$and": [1]}, "entries need to be full objects"),
            (doc! {"a": {"$type": "str"}}, "Unknown type name alias: str"),
            (
                doc! {"a": {"$type": 258}},
                "Invalid numerical type code: 258",
            ),
            (doc! {"a": {"$in": 1}}, "$in needs an array"),
        ];
        for (bad, want) in cases {
            let err = Filter::parse(&bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
        let err = Filter::parse(
            &crate::spec_json::parse_spec_json(
                r#"{"a": {"$in": [{"$regularExpression": {"pattern": "^a", "options": ""}}]}}"#,
            )
            .unwrap(),
        )
        .unwrap_err();
        assert!(matches!(err, SpecError::Unsupported(_)), "{err}");
        assert!(f(doc! {"a": {"$type": -1}}).matches(&rawdoc! {"a": bson::RawBson::MinKey}));
    }

    /// The server's tree depth limit: four levels pass, five do not, however the levels are
    /// made (explicit `$and`/`$or`, or several conditions in one document).
    #[test]
    fn partial_filter_depth_is_the_servers() {
        let ok = [
            doc! {"$and": [{"$and": [{"$and": [{"x": 3}]}]}]},
            doc! {"$or": [{"$and": [{"x": 1, "y": 2}]}]},
            doc! {"$and": [{"$or": [{"x": {"$gt": 1, "$lt": 5}}]}]},
            doc! {"x": 1, "y": {"$gt": 1}},
        ];
        for spec in ok {
            assert!(Filter::parse(&spec).is_ok(), "{spec}");
        }
        let deep = [
            doc! {"$and": [{"$and": [{"$and": [{"$and": [{"x": 3}]}]}]}]},
            doc! {"$or": [{"$and": [{"$or": [{"x": 1, "y": 2}]}]}]},
            doc! {"$and": [{"$or": [{"$and": [{"x": {"$gt": 1, "$lt": 5}}]}]}]},
        ];
        for spec in deep {
            let err = Filter::parse(&spec).unwrap_err().to_string();
            assert!(
                err.contains(
                    "CannotCreateIndex (67): partialFilterExpression depth may not exceed 4"
                ),
                "{spec}: {err}"
            );
        }
        // A thousand levels are refused at the fifth, without recursing through them.
        let mut nested = doc! {"x": 1};
        for _ in 0..1_000 {
            nested = doc! {"$and": [nested]};
        }
        assert!(Filter::parse(&nested).is_err());
    }

    #[test]
    fn a_wide_conjunction_parses_and_matches_fast() {
        let clauses: Vec<Bson> = (0..5_000)
            .map(|i| Bson::Document(doc! {format!("f{i}"): {"$exists": true}}))
            .collect();
        let started = std::time::Instant::now();
        let filter = f(doc! {"$and": clauses});
        let doc = rawdoc! {"f0": 1};
        for _ in 0..1_000 {
            assert!(!filter.matches(&doc));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
