//! Index declarations outside a field: `schema.index(keys, options)`, Typegoose's
//! `@index(keys, options)`, the driver's `createIndex(keys, options)` and
//! `createIndexes([{ key, unique, ... }])`, with their partial filter conditions.

use oxc_ast::ast::{Expression, ObjectExpression};
use oxc_span::GetSpan;

use super::lines::LineIndex;
use super::syntax::{self, inner, is_true, literal_props, prop, string};
use crate::facts::{FilterCondition, IndexDecl, PartialFilter, Target};

/// An index from a key object and an options object (the options may be absent).
pub fn index_decl(
    target: Target,
    keys: &Expression<'_>,
    options: Option<&Expression<'_>>,
    span: oxc_span::Span,
    lines: &LineIndex,
) -> IndexDecl {
    let mut decl = IndexDecl {
        target,
        keys: key_list(keys, lines),
        span: lines.of(span),
        ..IndexDecl::default()
    };
    if let Some(options) = options.and_then(syntax::object) {
        read_options(&mut decl, options, lines);
    }
    decl
}

/// `createIndexes([{ key: {...}, unique: true, name, partialFilterExpression }])`: the
/// driver's index models, each with its options beside the key.
pub fn index_models(target: &Target, models: &Expression<'_>, lines: &LineIndex) -> Vec<IndexDecl> {
    let Expression::ArrayExpression(arr) = inner(models) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for element in arr.elements.iter().filter_map(|e| e.as_expression()) {
        let Some(model) = syntax::object(element) else {
            continue;
        };
        let Some(key) = prop(model, "key") else {
            continue;
        };
        let mut decl = IndexDecl {
            target: target.clone(),
            keys: key_list(&key.value, lines),
            span: lines.of(model.span),
            ..IndexDecl::default()
        };
        read_options(&mut decl, model, lines);
        out.push(decl);
    }
    out
}

/// Key fields in order with their direction or type as written (`1`, `-1`, `hashed`).
fn key_list(keys: &Expression<'_>, lines: &LineIndex) -> Vec<(String, String)> {
    let Some(obj) = syntax::object(keys) else {
        return Vec::new();
    };
    literal_props(obj)
        .0
        .into_iter()
        .map(|(name, p)| {
            let kind = string(&p.value)
                .map(str::to_string)
                .unwrap_or_else(|| lines.text(p.value.span()).to_string());
            (name, kind)
        })
        .collect()
}

fn read_options(decl: &mut IndexDecl, options: &ObjectExpression<'_>, lines: &LineIndex) {
    if let Some(p) = prop(options, "unique").filter(|p| is_true(&p.value)) {
        decl.unique = Some(lines.of(p.span));
    }
    if let Some(p) = prop(options, "sparse").filter(|p| is_true(&p.value)) {
        decl.sparse = Some(lines.of(p.span));
    }
    if let Some(p) = prop(options, "name") {
        decl.name = string(&p.value).map(str::to_string);
    }
    if let Some(filter) = prop(options, "partialFilterExpression") {
        decl.partial_filter = Some(partial_filter(&filter.value, lines));
    }
}

/// The conditions of a partial filter. Each condition's span covers the whole operator
/// property (`$exists: true`), so a rewrite can replace it; `$and` clauses are flattened into
/// their conditions, other top-level operators (`$or`) are kept whole with an empty field.
pub fn partial_filter(expr: &Expression<'_>, lines: &LineIndex) -> PartialFilter {
    let mut conditions = Vec::new();
    if let Some(obj) = syntax::object(expr) {
        read_conditions(obj, &mut conditions, lines);
    }
    PartialFilter {
        conditions,
        span: lines.of(expr.span()),
    }
}

fn read_conditions(obj: &ObjectExpression<'_>, out: &mut Vec<FilterCondition>, lines: &LineIndex) {
    for (name, p) in literal_props(obj).0 {
        if name == "$and"
            && let Expression::ArrayExpression(clauses) = inner(&p.value)
        {
            for clause in clauses.elements.iter().filter_map(|e| e.as_expression()) {
                if let Some(clause) = syntax::object(clause) {
                    read_conditions(clause, out, lines);
                }
            }
            continue;
        }
        if name.starts_with('$') {
            out.push(condition("", &name, &p.value, p.span, lines));
            continue;
        }
        let operators = syntax::object(&p.value)
            .map(literal_props)
            .filter(|(ops, _)| !ops.is_empty() && ops.iter().all(|(k, _)| k.starts_with('$')));
        match operators {
            Some((ops, _)) => {
                for (op, q) in ops {
                    out.push(condition(&name, &op, &q.value, q.span, lines));
                }
            }
            None => out.push(condition(&name, "$eq", &p.value, p.span, lines)),
        }
    }
}

fn condition(
    field: &str,
    operator: &str,
    operand: &Expression<'_>,
    span: oxc_span::Span,
    lines: &LineIndex,
) -> FilterCondition {
    FilterCondition {
        field: field.to_string(),
        operator: operator.to_string(),
        operand: lines.text(operand.span()).to_string(),
        span: lines.of(span),
    }
}
