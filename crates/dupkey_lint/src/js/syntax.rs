//! Small readers over oxc's syntax tree shared by the extractors: a call's receiver and
//! method, an object literal's keys, literal values. Each looks through parentheses and
//! TypeScript wrappers (`x as T`, `x!`) the way the code means them.

use oxc_ast::ast::{
    Argument, CallExpression, ChainElement, Expression, ObjectExpression, ObjectProperty,
    ObjectPropertyKind,
};

/// The expression without parentheses, `as`/`satisfies`/`!` wrappers and `await`.
pub fn inner<'e, 'a>(expr: &'e Expression<'a>) -> &'e Expression<'a> {
    let mut expr = expr.get_inner_expression();
    while let Expression::AwaitExpression(await_expr) = expr {
        expr = await_expr.argument.get_inner_expression();
    }
    expr
}

/// The call an expression is, looking through `await`, parentheses and optional chaining.
pub fn as_call<'e, 'a>(expr: &'e Expression<'a>) -> Option<&'e CallExpression<'a>> {
    match inner(expr) {
        Expression::CallExpression(call) => Some(call),
        Expression::ChainExpression(chain) => match &chain.expression {
            ChainElement::CallExpression(call) => Some(call),
            _ => None,
        },
        _ => None,
    }
}

/// `object.property` (or `object["property"]`, `object?.property`): the object and the name.
pub fn member<'e, 'a>(expr: &'e Expression<'a>) -> Option<(&'e Expression<'a>, &'a str)> {
    let expr = inner(expr);
    let member = match expr {
        Expression::ChainExpression(chain) => chain.expression.member_expression()?,
        _ => expr.as_member_expression()?,
    };
    Some((member.object(), member.static_property_name()?))
}

/// A method call `receiver.method(args)`: the receiver and the method name.
pub fn method_call<'e, 'a>(call: &'e CallExpression<'a>) -> Option<(&'e Expression<'a>, &'a str)> {
    member(&call.callee)
}

/// The name of a plain identifier expression.
pub fn ident<'a>(expr: &Expression<'a>) -> Option<&'a str> {
    match inner(expr) {
        Expression::Identifier(id) => Some(id.name.as_str()),
        _ => None,
    }
}

/// `this`, looking through wrappers.
pub fn is_this(expr: &Expression<'_>) -> bool {
    matches!(inner(expr), Expression::ThisExpression(_))
}

/// The n-th argument when it is an expression (not a spread).
pub fn arg<'e, 'a>(call: &'e CallExpression<'a>, n: usize) -> Option<&'e Expression<'a>> {
    call.arguments.get(n).and_then(Argument::as_expression)
}

pub fn object<'e, 'a>(expr: &'e Expression<'a>) -> Option<&'e ObjectExpression<'a>> {
    match inner(expr) {
        Expression::ObjectExpression(obj) => Some(obj),
        _ => None,
    }
}

/// The named property of an object literal (the last one when written twice, as JS keeps it).
pub fn prop<'e, 'a>(obj: &'e ObjectExpression<'a>, name: &str) -> Option<&'e ObjectProperty<'a>> {
    obj.properties.iter().rev().find_map(|p| match p {
        ObjectPropertyKind::ObjectProperty(p) if key_name(p).as_deref() == Some(name) => Some(&**p),
        _ => None,
    })
}

/// The static name of a property's key (`a`, `'a'`), `None` when computed from a variable.
pub fn key_name(p: &ObjectProperty<'_>) -> Option<String> {
    if p.computed && !matches!(p.key.as_expression(), Some(Expression::StringLiteral(_))) {
        return None;
    }
    p.key.static_name().map(|n| n.into_owned())
}

/// The literal properties of an object, in order, with `known` false when a spread or a
/// computed key adds names the front end cannot read.
pub fn literal_props<'e, 'a>(
    obj: &'e ObjectExpression<'a>,
) -> (Vec<(String, &'e ObjectProperty<'a>)>, bool) {
    let mut out = Vec::new();
    let mut known = true;
    for p in &obj.properties {
        match p {
            ObjectPropertyKind::ObjectProperty(p) => match key_name(p) {
                Some(name) => out.push((name, &**p)),
                None => known = false,
            },
            ObjectPropertyKind::SpreadProperty(_) => known = false,
        }
    }
    (out, known)
}

/// A string literal or a template literal without substitutions.
pub fn string<'a>(expr: &Expression<'a>) -> Option<&'a str> {
    match inner(expr) {
        Expression::StringLiteral(s) => Some(s.value.as_str()),
        Expression::TemplateLiteral(t) if t.expressions.is_empty() && t.quasis.len() == 1 => {
            t.quasis[0].value.cooked.map(|c| c.as_str())
        }
        _ => None,
    }
}

pub fn number(expr: &Expression<'_>) -> Option<f64> {
    match inner(expr) {
        Expression::NumericLiteral(n) => Some(n.value),
        Expression::UnaryExpression(u)
            if u.operator == oxc_syntax::operator::UnaryOperator::UnaryNegation =>
        {
            number(&u.argument).map(|n| -n)
        }
        _ => None,
    }
}

/// `true`, or Mongoose's `[true, 'message']` form of a boolean option.
pub fn is_true(expr: &Expression<'_>) -> bool {
    match inner(expr) {
        Expression::BooleanLiteral(b) => b.value,
        Expression::ArrayExpression(arr) => arr
            .elements
            .first()
            .and_then(|e| e.as_expression())
            .is_some_and(is_true),
        Expression::NumericLiteral(n) => n.value == 1.0,
        _ => false,
    }
}

pub fn is_function(expr: &Expression<'_>) -> bool {
    matches!(
        inner(expr),
        Expression::FunctionExpression(_) | Expression::ArrowFunctionExpression(_)
    )
}

/// The span start of a function expression, to recognise it when the walker enters it.
pub fn function_start(expr: &Expression<'_>) -> Option<u32> {
    match inner(expr) {
        Expression::FunctionExpression(f) => Some(f.span.start),
        Expression::ArrowFunctionExpression(f) => Some(f.span.start),
        _ => None,
    }
}

/// The callee's name for `f(...)` and `a.b.f(...)`.
pub fn callee_name<'a>(call: &CallExpression<'a>) -> Option<&'a str> {
    ident(&call.callee).or_else(|| member(&call.callee).map(|(_, name)| name))
}

/// Every call of a method chain from the outside in: `A.find(x).sort(y).limit(1)` gives
/// `limit`, `sort`, `find`, then the chain's base expression (`A`).
pub fn chain<'e, 'a>(
    expr: &'e Expression<'a>,
) -> (Vec<(&'a str, &'e CallExpression<'a>)>, &'e Expression<'a>) {
    let mut calls = Vec::new();
    let mut cur = expr;
    while let Some(call) = as_call(cur) {
        let Some((receiver, name)) = method_call(call) else {
            break;
        };
        calls.push((name, call));
        cur = receiver;
    }
    (calls, cur)
}
