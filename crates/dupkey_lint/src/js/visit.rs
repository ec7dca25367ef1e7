//! The walker's visits: each hook reads what its node says, then walks on so nested code is
//! read too. Functions open a frame; `try` blocks and `.catch()` chains push a handler.

use oxc_ast::ast::{
    ArrowFunctionExpression, AssignmentExpression, AwaitExpression, BinaryExpression,
    CallExpression, Class, ClassElement, Declaration, DoWhileStatement, ExportDeclaration,
    ExportDefaultDeclaration, ExportDefaultDeclarationKind, ExportFromDeclaration,
    ExportNamedDeclaration, ForInStatement, ForOfStatement, ForStatement, Function, IfStatement,
    ImportDeclaration, LogicalExpression, NewExpression, ObjectProperty, ReturnStatement,
    SwitchStatement, TSExportAssignment, TryStatement, UpdateExpression, VariableDeclarator,
    WhileStatement,
};
use oxc_ast_visit::{Visit, walk};
use oxc_syntax::scope::ScopeFlags;

use super::classes;
use super::errors;
use super::modules;
use super::syntax;
use super::walker::{ClassScope, Walker};
use crate::facts::{DupHandling, Export, Target};

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl<'a> Visit<'a> for Walker<'_, '_> {
    fn visit_import_declaration(&mut self, decl: &ImportDeclaration<'a>) {
        let imports = modules::es_imports(decl, self.lines);
        for import in &imports {
            self.note_import(&import.local, &import.source);
        }
        self.facts.imports.extend(imports);
    }

    fn visit_variable_declarator(&mut self, d: &VariableDeclarator<'a>) {
        let imports = modules::require_imports(d, self.lines);
        for import in &imports {
            self.note_import(&import.local, &import.source);
        }
        self.facts.imports.extend(imports);
        if let (Some(name), Some(init)) = (d.id.get_identifier_name(), &d.init) {
            if let Some(start) = syntax::function_start(init) {
                self.name_function(start, &name);
            }
            self.bind(&name, init);
        } else if let (Some(first), Some(init)) = (first_of_array_pattern(&d.id), &d.init) {
            // `const [last] = await Ticket.find().sort({ n: -1 }).limit(1)`: the first element
            // of what was read is the document it names.
            self.bind(&first, init);
        }
        walk::walk_variable_declarator(self, d);
    }

    fn visit_object_property(&mut self, p: &ObjectProperty<'a>) {
        if let (Some(start), Some(name)) = (syntax::function_start(&p.value), syntax::key_name(p)) {
            self.name_function(start, &name);
        }
        walk::walk_object_property(self, p);
    }

    fn visit_assignment_expression(&mut self, a: &AssignmentExpression<'a>) {
        let exports = modules::commonjs_exports(&a.left, &a.right);
        self.facts.exports.extend(exports);
        self.assignment(a);
        walk::walk_assignment_expression(self, a);
    }

    fn visit_update_expression(&mut self, u: &UpdateExpression<'a>) {
        if let Some(member) = u.argument.as_member_expression() {
            self.counter_increment(member.object(), u.span);
        }
        walk::walk_update_expression(self, u);
    }

    fn visit_await_expression(&mut self, a: &AwaitExpression<'a>) {
        if let Some(call) = syntax::as_call(&a.argument) {
            self.awaited.insert(call.span.start);
        }
        walk::walk_await_expression(self, a);
    }

    fn visit_call_expression(&mut self, call: &CallExpression<'a>) {
        let tests = if self.reading_conditions() {
            errors::call_tests(call, self.lines)
        } else {
            Default::default()
        };
        let read = !tests.is_empty();
        self.error_tests(tests);
        self.with_condition(read, |w| w.call(call));
    }

    fn visit_new_expression(&mut self, new: &NewExpression<'a>) {
        if let Some(model) = syntax::ident(&new.callee).filter(|m| self.is_model_name(m))
            && let Some(doc) = new.arguments.first().and_then(|a| a.as_expression())
        {
            self.literal_numbers(&Target::Model(model.to_string()), doc);
        }
        walk::walk_new_expression(self, new);
    }

    fn visit_logical_expression(&mut self, l: &LogicalExpression<'a>) {
        // Only the outermost condition is read (it reads its parts): reading each nested
        // `||` again would be quadratic in the length of a chain.
        let tests = if self.reading_conditions() {
            errors::logical_tests(l, self.lines)
        } else {
            Default::default()
        };
        self.error_tests(tests);
        self.with_condition(true, |w| walk::walk_logical_expression(w, l));
    }

    fn visit_binary_expression(&mut self, b: &BinaryExpression<'a>) {
        let tests = if self.reading_conditions() {
            errors::binary_tests(b, self.lines)
        } else {
            Default::default()
        };
        let read = !tests.is_empty();
        self.error_tests(tests);
        self.with_condition(read, |w| walk::walk_binary_expression(w, b));
    }

    fn visit_if_statement(&mut self, s: &IfStatement<'a>) {
        let duplicate = errors::answers_duplicate(&s.consequent);
        self.duplicate_branch += u32::from(duplicate);
        self.visit_expression(&s.test);
        self.duplicate_branch -= u32::from(duplicate);
        self.visit_statement(&s.consequent);
        if let Some(alternate) = &s.alternate {
            self.visit_statement(alternate);
        }
    }

    fn visit_switch_statement(&mut self, s: &SwitchStatement<'a>) {
        let tests = errors::switch_tests(s, self.lines);
        self.facts.error_tests.extend(tests);
        walk::walk_switch_statement(self, s);
    }

    fn visit_try_statement(&mut self, t: &TryStatement<'a>) {
        let handling = t.handler.as_ref().map(|h| {
            if errors::block_checks_code(&h.body, self.lines) {
                DupHandling::Code11000
            } else {
                DupHandling::Generic
            }
        });
        if let Some(h) = &handling {
            self.push_handler(h.clone());
        }
        let ops_before = self.frame().facts.ops.len();
        self.visit_block_statement(&t.block);
        if handling.is_some() {
            self.pop_handler();
        }
        // A catch around a write that can meet a unique index is where duplicates are
        // handled: a class or name test there is meant as the duplicate test.
        let writes = self.frame().facts.ops[ops_before.min(self.frame().facts.ops.len())..]
            .iter()
            .any(|o| o.kind == crate::facts::OpKind::Create || o.upsert);
        if let Some(handler) = &t.handler {
            self.duplicate_branch += u32::from(writes);
            self.visit_catch_clause(handler);
            self.duplicate_branch -= u32::from(writes);
        }
        if let Some(finalizer) = &t.finalizer {
            self.visit_block_statement(finalizer);
        }
    }

    fn visit_while_statement(&mut self, s: &WhileStatement<'a>) {
        self.in_loop(|w| walk::walk_while_statement(w, s));
    }

    fn visit_do_while_statement(&mut self, s: &DoWhileStatement<'a>) {
        self.in_loop(|w| walk::walk_do_while_statement(w, s));
    }

    fn visit_for_statement(&mut self, s: &ForStatement<'a>) {
        self.in_loop(|w| walk::walk_for_statement(w, s));
    }

    fn visit_for_of_statement(&mut self, s: &ForOfStatement<'a>) {
        self.in_loop(|w| walk::walk_for_of_statement(w, s));
    }

    fn visit_for_in_statement(&mut self, s: &ForInStatement<'a>) {
        self.in_loop(|w| walk::walk_for_in_statement(w, s));
    }

    fn visit_function(&mut self, f: &Function<'a>, flags: ScopeFlags) {
        let name = f.id.as_ref().map(|id| id.name.to_string());
        self.enter_function(f.span.start, name, &f.params);
        walk::walk_function(self, f, flags);
        self.leave_function(f.span);
    }

    fn visit_arrow_function_expression(&mut self, f: &ArrowFunctionExpression<'a>) {
        self.enter_function(f.span.start, None, &f.params);
        walk::walk_arrow_function_expression(self, f);
        // `async () => (await X.countDocuments()) + 1` returns its expression.
        if let Some(body) = f.get_expression() {
            self.note_return(body);
        }
        self.leave_function(f.span);
    }

    fn visit_return_statement(&mut self, r: &ReturnStatement<'a>) {
        if let Some(value) = &r.argument {
            self.note_return(value);
        }
        walk::walk_return_statement(self, r);
    }

    fn visit_class(&mut self, class: &Class<'a>) {
        if let Some((model, indexes)) = classes::model_class(class, self.lines) {
            self.note_model_name(&model.name);
            self.facts.models.push(model);
            self.facts.indexes.extend(indexes);
        }
        let scope = ClassScope {
            models: classes::injected_models(class),
            ..ClassScope::default()
        };
        self.classes.push(scope);
        for element in &class.body.body {
            match element {
                ClassElement::MethodDefinition(m) => {
                    if let Some(name) = m.key.static_name() {
                        self.name_function(m.value.span.start, &name);
                    }
                    if classes::is_route_method(&m.decorators) {
                        self.mark_route(m.value.span.start);
                    }
                }
                // `create = async (req, res) => { ... }` as a class field.
                ClassElement::PropertyDefinition(p) => {
                    let start = p.value.as_ref().and_then(syntax::function_start);
                    if let (Some(start), Some(name)) = (start, p.key.static_name()) {
                        self.name_function(start, &name);
                    }
                }
                _ => {}
            }
        }
        walk::walk_class(self, class);
        self.classes.pop();
    }

    fn visit_export_declaration(&mut self, e: &ExportDeclaration<'a>) {
        for name in declared_names(&e.declaration) {
            if self.role.next_route && HTTP_METHODS.contains(&name.as_str()) {
                self.route_name(&name);
            }
            self.facts.exports.push(Export {
                exported: name.clone(),
                local: Some(name),
            });
        }
        walk::walk_export_declaration(self, e);
    }

    fn visit_export_named_declaration(&mut self, e: &ExportNamedDeclaration<'a>) {
        for s in &e.specifiers {
            self.facts.exports.push(Export {
                exported: s.exported.name().to_string(),
                local: Some(s.local.name().to_string()),
            });
        }
        walk::walk_export_named_declaration(self, e);
    }

    fn visit_export_from_declaration(&mut self, e: &ExportFromDeclaration<'a>) {
        // A re-export is an import of the name followed by its export, so a model found
        // through a barrel file (`models/index.ts`) leads on to its own file.
        for s in &e.specifiers {
            let local = s.local.name().to_string();
            self.facts.imports.push(crate::facts::Import {
                local: local.clone(),
                imported: local.clone(),
                source: e.source.value.to_string(),
                span: self.lines.of(e.span),
            });
            self.facts.exports.push(Export {
                exported: s.exported.name().to_string(),
                local: Some(local),
            });
        }
        walk::walk_export_from_declaration(self, e);
    }

    fn visit_export_default_declaration(&mut self, e: &ExportDefaultDeclaration<'a>) {
        let local = match &e.declaration {
            ExportDefaultDeclarationKind::FunctionDeclaration(f) => {
                if self.role.pages_api {
                    self.mark_route(f.span.start);
                }
                Some(
                    f.id.as_ref()
                        .map_or("default".to_string(), |id| id.name.to_string()),
                )
            }
            ExportDefaultDeclarationKind::ClassDeclaration(c) => {
                c.id.as_ref().map(|id| id.name.to_string())
            }
            ExportDefaultDeclarationKind::TSInterfaceDeclaration(_) => None,
            other => other.as_expression().and_then(|expr| {
                if self.role.pages_api {
                    if let Some(start) = syntax::function_start(expr) {
                        self.mark_route(start);
                    } else if let Some(name) = syntax::ident(expr) {
                        self.route_name(name);
                    }
                }
                modules::exported_local(expr)
            }),
        };
        if let ExportDefaultDeclarationKind::FunctionDeclaration(f) = &e.declaration
            && f.id.is_none()
        {
            self.name_function(f.span.start, "default");
        }
        self.facts.exports.push(Export {
            exported: "default".to_string(),
            local,
        });
        walk::walk_export_default_declaration(self, e);
    }

    fn visit_ts_export_assignment(&mut self, e: &TSExportAssignment<'a>) {
        self.facts.exports.push(Export {
            exported: "default".to_string(),
            local: modules::exported_local(&e.expression),
        });
        walk::walk_ts_export_assignment(self, e);
    }
}

/// The names a declaration binds (`export const A = ..., B`, `export class C`).
fn declared_names(decl: &Declaration<'_>) -> Vec<String> {
    match decl {
        Declaration::VariableDeclaration(v) => v
            .declarations
            .iter()
            .filter_map(|d| d.id.get_identifier_name().map(|n| n.to_string()))
            .collect(),
        Declaration::FunctionDeclaration(f) => f.id.iter().map(|id| id.name.to_string()).collect(),
        Declaration::ClassDeclaration(c) => c.id.iter().map(|id| id.name.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// `[first]` or `[first, ...rest]`: the name of the first element of an array pattern.
fn first_of_array_pattern(pattern: &oxc_ast::ast::BindingPattern<'_>) -> Option<String> {
    let oxc_ast::ast::BindingPattern::ArrayPattern(array) = pattern else {
        return None;
    };
    array
        .elements
        .first()?
        .as_ref()?
        .get_identifier_name()
        .map(|n| n.to_string())
}
