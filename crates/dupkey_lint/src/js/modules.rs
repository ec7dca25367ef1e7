//! Imports and exports, ES modules and CommonJS alike: `import User from`, `import { User }`,
//! `import * as models`, `const User = require(...)`, `const { User } = require(...)`,
//! `export ...`, `module.exports = X`, `module.exports.X = ...`, `exports.X = ...`.

use oxc_ast::ast::{
    AssignmentTarget, BindingPattern, Expression, ImportDeclaration, ImportDeclarationSpecifier,
    VariableDeclarator,
};

use super::lines::LineIndex;
use super::models;
use super::syntax::{self, inner, literal_props, string};
use crate::facts::{Export, Import};

pub fn es_imports(decl: &ImportDeclaration<'_>, lines: &LineIndex) -> Vec<Import> {
    let source = decl.source.value.to_string();
    let span = lines.of(decl.span);
    let Some(specifiers) = &decl.specifiers else {
        return Vec::new();
    };
    specifiers
        .iter()
        .map(|s| {
            let (local, imported) = match s {
                ImportDeclarationSpecifier::ImportSpecifier(s) => {
                    (s.local.name.to_string(), s.imported.name().to_string())
                }
                ImportDeclarationSpecifier::ImportDefaultSpecifier(s) => {
                    (s.local.name.to_string(), "default".to_string())
                }
                ImportDeclarationSpecifier::ImportNamespaceSpecifier(s) => {
                    (s.local.name.to_string(), "*".to_string())
                }
            };
            Import {
                local,
                imported,
                source: source.clone(),
                span,
            }
        })
        .collect()
}

/// `require('x')`, `require('x').Y`, `await import('x')`: the specifier and the member taken.
fn required<'a>(expr: &Expression<'a>) -> Option<(&'a str, Option<&'a str>)> {
    if let Some((obj, name)) = syntax::member(expr) {
        return required(obj).map(|(s, _)| (s, Some(name)));
    }
    match inner(expr) {
        Expression::ImportExpression(i) => string(&i.source).map(|s| (s, None)),
        Expression::CallExpression(call) if syntax::ident(&call.callee) == Some("require") => {
            string(syntax::arg(call, 0)?).map(|s| (s, None))
        }
        _ => None,
    }
}

/// The specifier a `require(...)` expression names, if it is one.
pub fn require_source<'a>(expr: &Expression<'a>) -> Option<&'a str> {
    required(expr).map(|(s, _)| s)
}

/// `const User = require('./models/User')` and `const { User, Post: P } = require(...)`.
pub fn require_imports(d: &VariableDeclarator<'_>, lines: &LineIndex) -> Vec<Import> {
    let Some((source, member)) = d.init.as_ref().and_then(required) else {
        return Vec::new();
    };
    let span = lines.of(d.span);
    let import = |local: &str, imported: &str| Import {
        local: local.to_string(),
        imported: imported.to_string(),
        source: source.to_string(),
        span,
    };
    match &d.id {
        BindingPattern::BindingIdentifier(id) => {
            vec![import(&id.name, member.unwrap_or("default"))]
        }
        BindingPattern::ObjectPattern(obj) => obj
            .properties
            .iter()
            .filter_map(|p| {
                let imported = p.key.static_name()?;
                let local = p.value.get_identifier_name()?;
                Some(import(&local, &imported))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `module.exports = ...`, `module.exports.X = ...`, `exports.X = ...`.
pub fn commonjs_exports(target: &AssignmentTarget<'_>, value: &Expression<'_>) -> Vec<Export> {
    let Some(member) = target.as_member_expression() else {
        return Vec::new();
    };
    let Some(name) = member.static_property_name() else {
        return Vec::new();
    };
    let object = member.object();
    if syntax::ident(object) == Some("module") && name == "exports" {
        return whole_exports(value);
    }
    let on_exports = syntax::ident(object) == Some("exports")
        || syntax::member(object)
            .is_some_and(|(m, e)| e == "exports" && syntax::ident(m) == Some("module"));
    if on_exports {
        return vec![Export {
            exported: name.to_string(),
            local: exported_local(value),
        }];
    }
    Vec::new()
}

/// `module.exports = User` / `= mongoose.model('User', s)` / `= { User, Post: PostModel }`.
fn whole_exports(value: &Expression<'_>) -> Vec<Export> {
    if let Some(obj) = syntax::object(value) {
        return literal_props(obj)
            .0
            .into_iter()
            .map(|(name, p)| Export {
                exported: name,
                local: exported_local(&p.value),
            })
            .collect();
    }
    vec![Export {
        exported: "default".to_string(),
        local: exported_local(value),
    }]
}

/// The local name an exported value stands for: an identifier, or the model a model
/// definition declares (that declaration is named after its model).
pub fn exported_local(value: &Expression<'_>) -> Option<String> {
    if let Some(name) = syntax::ident(value) {
        return Some(name.to_string());
    }
    if let Some(model) = models::as_model_definition(value) {
        return Some(model.model_name);
    }
    match inner(value) {
        Expression::ClassExpression(c) => c.id.as_ref().map(|id| id.name.to_string()),
        Expression::FunctionExpression(f) => f.id.as_ref().map(|id| id.name.to_string()),
        _ => None,
    }
}
