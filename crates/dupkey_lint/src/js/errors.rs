//! Tests on a caught error meant to recognise a duplicate key: `err.code === 11000` (right),
//! `err.name === 'MongoServerError'` or `instanceof MongoServerError` alone (true for every
//! server error), message text (`/E11000/.test(err.message)`), and codes that never match
//! (`err.code === '11000'`, `11001` alone).

use oxc_ast::ast::{
    BinaryExpression, CallExpression, Expression, LogicalExpression, SwitchStatement,
};
use oxc_ast_visit::Visit;
use oxc_span::GetSpan;
use oxc_syntax::operator::{BinaryOperator, LogicalOperator, UnaryOperator};

use super::lines::LineIndex;
use super::syntax::{self, inner, string};
use crate::facts::{ErrorTest, ErrorTestKind};

/// What one comparison says, before it is weighed against the others of its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Code,
    Name,
    Message,
    /// `=== '11000'`, `=== 'E11000'`: a string never equals the numeric code.
    StringCode,
    /// 11001 (the pre-2.6 code for duplicate keys on update) tested without 11000.
    OtherCode,
}

/// The error tests of an `&&`/`||` chain, weighed together: `err.code === 11000 ||
/// err.code === 11001` is right, and so is `err.name === 'MongoServerError' && err.code ===
/// 11000`.
pub fn logical_tests(l: &LogicalExpression<'_>, lines: &LineIndex) -> Vec<ErrorTest> {
    let mut atoms = Vec::new();
    flatten(&l.left, &mut atoms);
    flatten(&l.right, &mut atoms);
    let classified = atoms
        .into_iter()
        .filter_map(|e| classify(e, lines).map(|(atom, err)| (atom, e.span(), err)))
        .collect();
    weigh(classified, lines)
}

/// A comparison standing alone (`err.code === 11000`, `err instanceof MongoServerError`,
/// `err.message.indexOf('E11000') !== -1`).
pub fn binary_tests(b: &BinaryExpression<'_>, lines: &LineIndex) -> Vec<ErrorTest> {
    match classify_binary(b, lines) {
        Some((atom, err)) => weigh(vec![(atom, b.span, err)], lines),
        None => Vec::new(),
    }
}

/// A call standing alone (`err.message.includes('duplicate')`, `/E11000/.test(err.message)`).
pub fn call_tests(call: &CallExpression<'_>, lines: &LineIndex) -> Vec<ErrorTest> {
    match message_call(call, lines) {
        Some(err) => weigh(vec![(Atom::Message, call.span, err)], lines),
        None => Vec::new(),
    }
}

fn weigh(classified: Vec<(Atom, oxc_span::Span, String)>, lines: &LineIndex) -> Vec<ErrorTest> {
    let has_code = classified.iter().any(|(a, _, _)| *a == Atom::Code);
    let mut out = Vec::new();
    for (atom, span, err) in classified {
        let (kind, replacement) = match atom {
            Atom::Code => (ErrorTestKind::Code, None),
            Atom::Name | Atom::Message | Atom::OtherCode if has_code => continue,
            Atom::Name => (ErrorTestKind::Name, Some(format!("{err}.code === 11000"))),
            Atom::Message => (ErrorTestKind::Message, None),
            Atom::StringCode | Atom::OtherCode => (
                ErrorTestKind::WrongCode,
                Some(format!("{err}.code === 11000")),
            ),
        };
        out.push(ErrorTest {
            kind,
            text: lines.text(span).to_string(),
            replacement,
            span: lines.of(span),
        });
    }
    out
}

fn flatten<'e, 'a>(expr: &'e Expression<'a>, out: &mut Vec<&'e Expression<'a>>) {
    match inner(expr) {
        Expression::LogicalExpression(l) if l.operator != LogicalOperator::Coalesce => {
            flatten(&l.left, out);
            flatten(&l.right, out);
        }
        Expression::UnaryExpression(u) if u.operator == UnaryOperator::LogicalNot => {
            flatten(&u.argument, out);
        }
        e => out.push(e),
    }
}

/// One comparison or call: what it tests, and the error expression's text.
fn classify(expr: &Expression<'_>, lines: &LineIndex) -> Option<(Atom, String)> {
    match inner(expr) {
        Expression::BinaryExpression(b) => classify_binary(b, lines),
        Expression::CallExpression(_) | Expression::ChainExpression(_) => {
            let call = syntax::as_call(expr)?;
            message_call(call, lines).map(|err| (Atom::Message, err))
        }
        _ => None,
    }
}

fn classify_binary(b: &BinaryExpression<'_>, lines: &LineIndex) -> Option<(Atom, String)> {
    if b.operator == BinaryOperator::Instanceof {
        let class = syntax::ident(&b.right).or_else(|| syntax::member(&b.right).map(|m| m.1))?;
        return matches!(
            class,
            "MongoServerError" | "MongoError" | "MongoBulkWriteError"
        )
        .then(|| (Atom::Name, lines.text(b.left.span()).to_string()));
    }
    if !b.operator.is_equality() && !b.operator.is_compare() {
        return None;
    }
    let strict = matches!(
        b.operator,
        BinaryOperator::StrictEquality | BinaryOperator::StrictInequality
    );
    for (side, other) in [(&b.left, &b.right), (&b.right, &b.left)] {
        if let Some(found) = compare(side, other, strict, lines) {
            return Some(found);
        }
    }
    None
}

/// `side` is `err.<something>` and `other` the literal it is compared with.
fn compare(
    side: &Expression<'_>,
    other: &Expression<'_>,
    strict: bool,
    lines: &LineIndex,
) -> Option<(Atom, String)> {
    if let Some(call) = syntax::as_call(side) {
        // `err.message.indexOf('E11000') !== -1`
        return message_call(call, lines).map(|err| (Atom::Message, err));
    }
    let (err, property) = syntax::member(side)?;
    let err_text = lines.text(err.span()).to_string();
    match property {
        "code" => {
            if names_duplicate_code(other) {
                return Some((Atom::Code, err_text));
            }
            if let Some(n) = syntax::number(other) {
                return match n as i64 {
                    11000 => Some((Atom::Code, err_text)),
                    11001 => Some((Atom::OtherCode, err_text)),
                    _ => None,
                };
            }
            let s = string(other)?;
            match s {
                "11000" if !strict => Some((Atom::Code, err_text)),
                "11000" | "E11000" | "11001" => Some((Atom::StringCode, err_text)),
                _ => None,
            }
        }
        "codeName" => (string(other)? == "DuplicateKey").then_some((Atom::Code, err_text)),
        "name" => matches!(
            string(other)?,
            "MongoError" | "MongoServerError" | "MongoBulkWriteError" | "BulkWriteError"
        )
        .then_some((Atom::Name, err_text)),
        _ => None,
    }
}

/// A constant named for the duplicate-key code (`DUPLICATE_KEY_CODE`,
/// `MongoErrorCodes.DuplicateKey`, `DUP_KEY`): its value is not followed, its name says it.
fn names_duplicate_code(expr: &Expression<'_>) -> bool {
    let name = syntax::ident(expr).or_else(|| syntax::member(expr).map(|(_, p)| p));
    name.is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.contains("duplicate") || n.contains("dup_key") || n.contains("dupkey")
    })
}

/// `err.message.includes('duplicate')`, `/E11000/.test(err.message)`,
/// `String(err).includes('E11000')`: the error's text searched for a duplicate-key marker.
fn message_call(call: &CallExpression<'_>, lines: &LineIndex) -> Option<String> {
    let (receiver, method) = syntax::method_call(call)?;
    match method {
        "includes" | "indexOf" | "startsWith" | "match" | "search" | "endsWith" => {
            let needle = syntax::arg(call, 0)?;
            if !mentions_duplicate(needle, lines) {
                return None;
            }
            error_of_text(receiver, lines)
        }
        "test" | "exec" => {
            if !mentions_duplicate(receiver, lines) {
                return None;
            }
            error_of_text(syntax::arg(call, 0)?, lines)
        }
        _ => None,
    }
}

fn mentions_duplicate(expr: &Expression<'_>, lines: &LineIndex) -> bool {
    let text = match inner(expr) {
        Expression::RegExpLiteral(r) => lines.text(r.span).to_lowercase(),
        e => match string(e) {
            Some(s) => s.to_lowercase(),
            None => return false,
        },
    };
    text.contains("e11000") || text.contains("duplicate") || text.contains("dup key")
}

/// `err.message` / `err.errmsg` / `String(err)` / `err.toString()`: the error's name as
/// written.
fn error_of_text(expr: &Expression<'_>, lines: &LineIndex) -> Option<String> {
    if let Some((err, prop)) = syntax::member(expr) {
        return matches!(prop, "message" | "errmsg").then(|| lines.text(err.span()).to_string());
    }
    let call = syntax::as_call(expr)?;
    match syntax::method_call(call) {
        Some((err, "toString")) => Some(lines.text(err.span()).to_string()),
        _ if syntax::ident(&call.callee) == Some("String") => {
            syntax::arg(call, 0).map(|e| lines.text(e.span()).to_string())
        }
        _ => None,
    }
}

/// `switch (err.code) { case 11000: ... }`.
pub fn switch_tests(s: &SwitchStatement<'_>, lines: &LineIndex) -> Vec<ErrorTest> {
    let Some((_, "code")) = syntax::member(&s.discriminant) else {
        return Vec::new();
    };
    s.cases
        .iter()
        .filter_map(|c| c.test.as_ref())
        .filter(|t| syntax::number(t) == Some(11000.0))
        .map(|t| ErrorTest {
            kind: ErrorTestKind::Code,
            text: lines.text(t.span()).to_string(),
            replacement: None,
            span: lines.of(t.span()),
        })
        .collect()
}

/// Whether a catch body (or a `.catch` handler) tells duplicate keys apart: a code test,
/// a `switch` on the code, or a call to a helper named for it (`isDuplicateKeyError(err)`).
pub fn block_checks_code(body: &oxc_ast::ast::BlockStatement<'_>, lines: &LineIndex) -> bool {
    let mut finder = CodeCheck {
        lines,
        found: false,
    };
    finder.visit_block_statement(body);
    finder.found
}

pub fn function_checks_code(body: &oxc_ast::ast::FunctionBody<'_>, lines: &LineIndex) -> bool {
    let mut finder = CodeCheck {
        lines,
        found: false,
    };
    finder.visit_function_body(body);
    finder.found
}

pub fn arrow_checks_code(body: &oxc_ast::ast::ArrowFunctionBody<'_>, lines: &LineIndex) -> bool {
    let mut finder = CodeCheck {
        lines,
        found: false,
    };
    finder.visit_arrow_function_body(body);
    finder.found
}

struct CodeCheck<'l, 's> {
    lines: &'l LineIndex<'s>,
    found: bool,
}

impl<'a> Visit<'a> for CodeCheck<'_, '_> {
    fn visit_binary_expression(&mut self, b: &BinaryExpression<'a>) {
        self.found |= matches!(classify_binary(b, self.lines), Some((Atom::Code, _)));
        oxc_ast_visit::walk::walk_binary_expression(self, b);
    }

    fn visit_switch_statement(&mut self, s: &SwitchStatement<'a>) {
        self.found |= !switch_tests(s, self.lines).is_empty();
        oxc_ast_visit::walk::walk_switch_statement(self, s);
    }

    fn visit_call_expression(&mut self, call: &CallExpression<'a>) {
        let name = syntax::callee_name(call).unwrap_or("").to_ascii_lowercase();
        self.found |= name.contains("duplicate") || name.contains("dupkey");
        oxc_ast_visit::walk::walk_call_expression(self, call);
    }
}

/// Whether a branch answers a duplicate: it mentions one in a string (`'already exists'`,
/// `'duplicate'`, `'taken'`, `'E11000'`), answers 409, or throws a conflict
/// (`ConflictException`, `HttpStatus.CONFLICT`).
pub fn answers_duplicate(branch: &oxc_ast::ast::Statement<'_>) -> bool {
    let mut speech = DuplicateSpeech::default();
    speech.visit_statement(branch);
    speech.found
}

#[derive(Default)]
struct DuplicateSpeech {
    found: bool,
}

const DUPLICATE_WORDS: &[&str] = &[
    "duplicate",
    "already",
    "exists",
    "taken",
    "in use",
    "unique",
    "conflict",
    "e11000",
];

impl<'a> Visit<'a> for DuplicateSpeech {
    fn visit_string_literal(&mut self, s: &oxc_ast::ast::StringLiteral<'a>) {
        let lower = s.value.to_lowercase();
        self.found |= DUPLICATE_WORDS.iter().any(|w| lower.contains(w));
    }

    fn visit_template_element(&mut self, t: &oxc_ast::ast::TemplateElement<'a>) {
        let lower = t.value.raw.to_lowercase();
        self.found |= DUPLICATE_WORDS.iter().any(|w| lower.contains(w));
    }

    fn visit_numeric_literal(&mut self, n: &oxc_ast::ast::NumericLiteral<'a>) {
        self.found |= n.value == 409.0;
    }

    fn visit_identifier_reference(&mut self, id: &oxc_ast::ast::IdentifierReference<'a>) {
        // `conflict()`, `ConflictException`, `handleDuplicate(...)`.
        let lower = id.name.to_lowercase();
        self.found |= lower.contains("conflict") || lower.contains("duplicate");
    }

    fn visit_static_member_expression(&mut self, m: &oxc_ast::ast::StaticMemberExpression<'a>) {
        self.found |= m.property.name == "CONFLICT";
        oxc_ast_visit::walk::walk_static_member_expression(self, m);
    }
}
