//! Numbers made from counts, maxima and counter reads: `await X.countDocuments() + 1`,
//! `find().sort({n: -1}).limit(1)` then `+ 1`, a counter document read, incremented in code
//! and saved. The walker asks here whether an expression carries such a number.

use oxc_ast::ast::Expression;

use super::scope::Binding;
use super::syntax::{self, inner};
use super::walker::Walker;
use crate::facts::NumberSource;

/// Conversions that pass a number through rather than make one.
const NOT_HELPERS: &[&str] = &[
    "String",
    "Number",
    "parseInt",
    "parseFloat",
    "BigInt",
    "require",
];

/// Deeper expressions than this are not searched for a number (generated code).
const MAX_DEPTH: u32 = 24;

/// `X.countDocuments(...)` (and `count`, `estimatedDocumentCount`), possibly chained
/// (`.exec()`, `.lean()`).
pub fn is_count(expr: &Expression<'_>) -> bool {
    let (calls, _) = syntax::chain(expr);
    model_base(&calls)
        .last()
        .is_some_and(|(m, _)| matches!(*m, "countDocuments" | "count" | "estimatedDocumentCount"))
}

/// `X.find().sort({ n: -1 }).limit(1)` or `X.findOne().sort({ n: -1 })` (with `.lean()`,
/// `.select()`, `.exec()` anywhere): the document with the largest value.
pub fn is_maximum(expr: &Expression<'_>) -> bool {
    let (calls, _) = syntax::chain(expr);
    let calls = model_base(&calls);
    let Some((base, _)) = calls.last() else {
        return false;
    };
    let descending = calls.iter().any(|(m, call)| {
        *m == "sort"
            && syntax::arg(call, 0).is_some_and(|a| match syntax::object(a) {
                Some(obj) => syntax::literal_props(obj).0.iter().any(|(_, p)| {
                    syntax::number(&p.value) == Some(-1.0)
                        || matches!(syntax::string(&p.value), Some("desc" | "descending"))
                }),
                // `.sort('-ticketNumber')`
                None => syntax::string(a).is_some_and(|s| s.starts_with('-')),
            })
    });
    let one = *base == "findOne"
        || calls.iter().any(|(m, call)| {
            *m == "limit" && syntax::arg(call, 0).and_then(syntax::number) == Some(1.0)
        });
    descending && one && matches!(*base, "find" | "findOne")
}

/// A chain (outermost call first) without the `mongoose.model('Ticket')` lookup it starts
/// from: `mongoose.model('Ticket').countDocuments()` counts like `Ticket.countDocuments()`.
fn model_base<'c, T>(calls: &'c [(&'c str, T)]) -> &'c [(&'c str, T)] {
    match calls.split_last() {
        Some(((name, _), rest)) if *name == "model" && !rest.is_empty() => rest,
        _ => calls,
    }
}

impl Walker<'_, '_> {
    /// Whether an expression carries a number from a count, maximum or counter read.
    pub fn number_source(&self, expr: &Expression<'_>) -> Option<NumberSource> {
        self.number_in(expr, 0)
    }

    fn number_in(&self, expr: &Expression<'_>, depth: u32) -> Option<NumberSource> {
        if depth > MAX_DEPTH {
            return None;
        }
        let next = |e: &Expression<'_>| self.number_in(e, depth + 1);
        let expr = inner(expr);
        if let Some(name) = syntax::ident(expr) {
            return match self.binding(name) {
                Some(Binding::Number(src)) => Some(*src),
                Some(Binding::Loaded { number, .. }) => *number,
                _ => None,
            };
        }
        match expr {
            // `top?.lotNumber`: a member read through optional chaining.
            Expression::ChainExpression(c) if c.expression.as_member_expression().is_some() => {
                let member = c.expression.as_member_expression()?;
                self.member_number(member.object(), depth)
            }
            Expression::CallExpression(_) | Expression::ChainExpression(_) => {
                if is_count(expr) {
                    return Some(NumberSource::Count);
                }
                if is_maximum(expr) {
                    return Some(NumberSource::Maximum);
                }
                let call = syntax::as_call(expr)?;
                if let Some(source) =
                    syntax::ident(&call.callee).and_then(|f| self.number_fns.get(f))
                {
                    return Some(*source);
                }
                // `String(n + 1)`, `(n + 1).toString().padStart(5, '0')`, `parseInt(x) + 1`.
                let receiver = syntax::method_call(call).and_then(|(r, _)| next(r));
                receiver.or_else(|| {
                    call.arguments
                        .iter()
                        .filter_map(|a| a.as_expression())
                        .filter(|a| !syntax::is_function(a))
                        .find_map(next)
                })
            }
            Expression::StaticMemberExpression(m) => self.member_number(&m.object, depth),
            Expression::ComputedMemberExpression(m) => self.member_number(&m.object, depth),
            Expression::BinaryExpression(b) => next(&b.left).or_else(|| next(&b.right)),
            Expression::TemplateLiteral(t) => t.expressions.iter().find_map(next),
            Expression::ConditionalExpression(c) => {
                next(&c.consequent).or_else(|| next(&c.alternate))
            }
            Expression::LogicalExpression(l) => next(&l.left).or_else(|| next(&l.right)),
            Expression::UnaryExpression(u) => next(&u.argument),
            _ => None,
        }
    }

    /// The function of this file whose result an expression carries (`await nextNo()`,
    /// `` `INV-${await nextNo()}` ``, a name bound to such a call), to settle once the file
    /// is read.
    pub fn called_function(&self, expr: &Expression<'_>) -> Option<String> {
        self.called_in(expr, 0)
    }

    fn called_in(&self, expr: &Expression<'_>, depth: u32) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let next = |e: &Expression<'_>| self.called_in(e, depth + 1);
        let expr = inner(expr);
        if let Some(name) = syntax::ident(expr) {
            return match self.binding(name) {
                Some(Binding::Call(f)) => Some(f.clone()),
                _ => None,
            };
        }
        match expr {
            Expression::CallExpression(_) | Expression::ChainExpression(_) => {
                let call = syntax::as_call(expr)?;
                if let Some(f) = syntax::ident(&call.callee) {
                    return (!NOT_HELPERS.contains(&f))
                        .then(|| f.to_string())
                        .or_else(|| {
                            call.arguments
                                .iter()
                                .filter_map(|a| a.as_expression())
                                .find_map(next)
                        });
                }
                syntax::method_call(call).and_then(|(r, _)| next(r))
            }
            Expression::BinaryExpression(b) => next(&b.left).or_else(|| next(&b.right)),
            Expression::TemplateLiteral(t) => t.expressions.iter().find_map(next),
            Expression::ConditionalExpression(c) => {
                next(&c.consequent).or_else(|| next(&c.alternate))
            }
            Expression::UnaryExpression(u) => next(&u.argument),
            _ => None,
        }
    }

    /// `last.seq`, `last[0].seq`, `counter.seq` after `counter.seq++`.
    fn member_number(&self, object: &Expression<'_>, depth: u32) -> Option<NumberSource> {
        if let Some(name) = syntax::ident(object)
            && self.frame().increments.iter().any(|(v, _)| v == name)
        {
            return Some(NumberSource::CounterReadWrite);
        }
        self.number_in(object, depth + 1)
    }
}
