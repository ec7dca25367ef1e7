//! Model classes: NestJS `@Schema()` classes with `@Prop(...)` fields, Typegoose classes with
//! `@prop(...)` fields, `@index(...)` and `@modelOptions(...)`; and the models a class gets
//! injected (`@InjectModel(User.name) private userModel: Model<UserDocument>`).

use std::collections::HashMap;

use oxc_ast::ast::{
    CallExpression, Class, ClassElement, Decorator, Expression, FormalParameter,
    MethodDefinitionKind, PropertyDefinition, TSType, TSTypeName, TSTypeQueryExprName,
};
use oxc_span::GetSpan;

use super::indexes;
use super::lines::LineIndex;
use super::models::{self, SchemaInfo};
use super::syntax::{self, prop, string};
use crate::facts::{FieldDecl, IndexDecl, ModelDecl, Target};

/// A decorator's name and its call (`@Prop({...})` → `Prop` and the call; `@Schema` → no call).
pub fn decorator<'e, 'a>(
    d: &'e Decorator<'a>,
) -> Option<(&'a str, Option<&'e CallExpression<'a>>)> {
    match syntax::as_call(&d.expression) {
        Some(call) => Some((syntax::callee_name(call)?, Some(call))),
        None => syntax::ident(&d.expression)
            .or_else(|| syntax::member(&d.expression).map(|m| m.1))
            .map(|n| (n, None)),
    }
}

fn has_decorator(decorators: &[Decorator<'_>], names: &[&str]) -> bool {
    decorators
        .iter()
        .filter_map(decorator)
        .any(|(n, _)| names.contains(&n))
}

const PROP: &[&str] = &["Prop", "prop"];

/// The model a class declares, with the indexes of its class decorators, or `None` when the
/// class is not a NestJS or Typegoose model.
pub fn model_class(class: &Class<'_>, lines: &LineIndex) -> Option<(ModelDecl, Vec<IndexDecl>)> {
    let name = class.id.as_ref()?.name.to_string();
    let schema_decorated = has_decorator(&class.decorators, &["Schema", "modelOptions"]);
    let props: Vec<&PropertyDefinition<'_>> = class
        .body
        .body
        .iter()
        .filter_map(|e| match e {
            ClassElement::PropertyDefinition(p) if has_decorator(&p.decorators, PROP) => Some(&**p),
            _ => None,
        })
        .collect();
    if !schema_decorated && props.is_empty() {
        return None;
    }
    let mut info = SchemaInfo::default();
    let mut model_indexes = Vec::new();
    for (dname, call) in class.decorators.iter().filter_map(decorator) {
        let Some(call) = call else { continue };
        match dname {
            "Schema" => {
                if let Some(opts) = syntax::arg(call, 0).and_then(syntax::object) {
                    models::read_schema_options(opts, &mut info);
                }
            }
            "modelOptions" => {
                let schema_options = syntax::arg(call, 0)
                    .and_then(syntax::object)
                    .and_then(|o| prop(o, "schemaOptions"))
                    .and_then(|p| syntax::object(&p.value));
                if let Some(opts) = schema_options {
                    models::read_schema_options(opts, &mut info);
                }
            }
            "index" => {
                if let Some(keys) = syntax::arg(call, 0) {
                    let target = Target::Model(name.clone());
                    let options = syntax::arg(call, 1);
                    model_indexes
                        .push(indexes::index_decl(target, keys, options, call.span, lines));
                }
            }
            _ => {}
        }
    }
    let fields = props.iter().filter_map(|p| prop_field(p, lines)).collect();
    let model = ModelDecl {
        collection: Some(
            info.collection
                .unwrap_or_else(|| models::collection_name(&name)),
        ),
        model_name: Some(name.clone()),
        name,
        schema: None,
        fields,
        auto_index_off: info.auto_index_off,
        span: lines.of(class.span),
    };
    Some((model, model_indexes))
}

/// A `@Prop({...})` / `@prop({...})` field: its options, and `?:` or `| null` as nullable.
fn prop_field(p: &PropertyDefinition<'_>, lines: &LineIndex) -> Option<FieldDecl> {
    let path = p.key.static_name()?.into_owned();
    let mut field = FieldDecl {
        path,
        span: lines.of(p.span),
        ..FieldDecl::default()
    };
    for (_, call) in p
        .decorators
        .iter()
        .filter_map(decorator)
        .filter(|(n, _)| PROP.contains(n))
    {
        if let Some(opts) = call
            .and_then(|c| syntax::arg(c, 0))
            .and_then(syntax::object)
        {
            models::apply_options(&mut field, opts, lines);
            if let Some(t) = prop(opts, "type") {
                field.in_array = matches!(syntax::inner(&t.value), Expression::ArrayExpression(_));
            }
        }
    }
    if let Some(annotation) = &p.type_annotation {
        let ty = &annotation.type_annotation;
        field
            .type_name
            .get_or_insert_with(|| lines.text(ty.span()).to_string());
        field.nullable |= admits_null(ty);
        field.in_array |= matches!(ty, TSType::TSArrayType(_));
    }
    // `name?: string` is left out of the document when unset (Mongoose does not store
    // `undefined`): optional, not null. Only a type that admits null makes it nullable.
    field.required &= !p.optional;
    Some(field)
}

fn admits_null(ty: &TSType<'_>) -> bool {
    match ty {
        TSType::TSNullKeyword(_) | TSType::TSUndefinedKeyword(_) => true,
        TSType::TSUnionType(u) => u.types.iter().any(admits_null),
        _ => false,
    }
}

/// The class's injected models by property name: `@InjectModel(User.name)` (or `'User'`,
/// `User`) on a constructor parameter or a property, else a `Model<UserDocument>` or
/// `ReturnModelType<typeof User>` type.
pub fn injected_models(class: &Class<'_>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for element in &class.body.body {
        match element {
            ClassElement::MethodDefinition(m) if m.kind == MethodDefinitionKind::Constructor => {
                for param in &m.value.params.items {
                    if let Some((name, model)) = injected_param(param) {
                        out.insert(name, model);
                    }
                }
            }
            ClassElement::PropertyDefinition(p) => {
                let Some(name) = p.key.static_name() else {
                    continue;
                };
                let model = inject_model_arg(&p.decorators).or_else(|| {
                    p.type_annotation
                        .as_ref()
                        .and_then(|t| model_type(&t.type_annotation))
                });
                if let Some(model) = model {
                    out.insert(name.into_owned(), model);
                }
            }
            _ => {}
        }
    }
    out
}

/// A parameter that holds a model: `@InjectModel(User.name) users: Model<UserDocument>`,
/// or any parameter typed `Model<User>`.
pub(super) fn injected_param(param: &FormalParameter<'_>) -> Option<(String, String)> {
    let name = param.pattern.get_identifier_name()?.to_string();
    let model = inject_model_arg(&param.decorators).or_else(|| {
        param
            .type_annotation
            .as_ref()
            .and_then(|t| model_type(&t.type_annotation))
    })?;
    Some((name, model))
}

fn inject_model_arg(decorators: &[Decorator<'_>]) -> Option<String> {
    let (_, call) = decorators
        .iter()
        .filter_map(decorator)
        .find(|(n, _)| *n == "InjectModel")?;
    let arg = syntax::arg(call?, 0)?;
    if let Some(s) = string(arg) {
        return Some(s.to_string());
    }
    // `User.name` is the class's name; `User` (Typegoose's nestjs-typegoose) is the class.
    match syntax::member(arg) {
        Some((obj, "name")) => syntax::ident(obj).map(str::to_string),
        _ => syntax::ident(arg).map(str::to_string),
    }
}

/// `Model<UserDocument>` → `User`, `Model<User>` → `User`, `ReturnModelType<typeof User>` →
/// `User`.
fn model_type(ty: &TSType<'_>) -> Option<String> {
    let TSType::TSTypeReference(r) = ty else {
        return None;
    };
    let outer = type_name(&r.type_name)?;
    let first = r.type_arguments.as_ref()?.params.first()?;
    match (outer, first) {
        ("Model" | "PaginateModel" | "SoftDeleteModel", TSType::TSTypeReference(arg)) => {
            let name = type_name(&arg.type_name)?;
            Some(
                name.strip_suffix("Document")
                    .filter(|s| !s.is_empty())
                    .unwrap_or(name)
                    .to_string(),
            )
        }
        ("ReturnModelType", TSType::TSTypeQuery(q)) => match &q.expr_name {
            TSTypeQueryExprName::IdentifierReference(id) => Some(id.name.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn type_name<'a>(name: &TSTypeName<'a>) -> Option<&'a str> {
    match name {
        TSTypeName::IdentifierReference(id) => Some(id.name.as_str()),
        TSTypeName::QualifiedName(q) => Some(q.right.name.as_str()),
        TSTypeName::ThisExpression(_) => None,
    }
}

/// NestJS route decorators on a controller method.
pub fn is_route_method(decorators: &[Decorator<'_>]) -> bool {
    has_decorator(
        decorators,
        &[
            "Get", "Post", "Put", "Patch", "Delete", "All", "Options", "Head",
        ],
    )
}
