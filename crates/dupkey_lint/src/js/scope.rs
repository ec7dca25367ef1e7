//! What the walker knows while inside one function: the names it bound to collections,
//! models, new or loaded documents and numbers, the handlers around the current point, and
//! the loops; and the facts gathered for that function.

use std::collections::HashMap;

use crate::facts::{DupHandling, FunctionFacts, NumberAssignment, NumberSource, Span, Target};

/// What a local name was bound to.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// `const users = db.collection('users')`.
    Collection(String),
    /// `const User = mongoose.model('User')`, a model variable.
    Model(String),
    /// `const u = new User({...})`: a fresh document of a model, with its literal keys.
    NewDoc {
        model: String,
        keys: Option<Vec<String>>,
    },
    /// `const u = await User.findOne(...)`: a loaded document (or list), and the number it
    /// carries when the read was a maximum (`sort({n: -1}).limit(1)`).
    Loaded {
        target: Target,
        number: Option<NumberSource>,
    },
    /// A number derived from a count, a maximum or a counter read.
    Number(NumberSource),
    /// `const filter = { email }`: an object literal's keys, for a call that passes it.
    Object(Option<Vec<String>>),
    /// `const no = await nextInvoiceNo()`: the result of a function of this file, which may
    /// turn out (once the whole file is read) to return a number from a count.
    Call(String),
}

/// One function being walked (the module's top level is the first frame).
#[derive(Debug, Default)]
pub struct Frame {
    pub facts: FunctionFacts,
    pub bindings: HashMap<String, Binding>,
    /// Handlers around the current point, innermost last: enclosing `try` blocks with a
    /// catch, and `.catch(handler)` chained on the current expression.
    pub handlers: Vec<DupHandling>,
    pub loops: u32,
    /// The function is a callback of `forEach`/`map`/...: each of its calls runs per item.
    pub loop_callback: bool,
    /// The schema whose hook or static this function is (`this` is its document or model).
    pub hook_schema: Option<String>,
    /// `c.seq++` and the like on a loaded document: the variable and the increment's span.
    pub increments: Vec<(String, Span)>,
    /// `x.save()` calls: the variable and the call's start offset.
    pub saves: Vec<(String, u32)>,
    /// The enclosing function's condition depth, restored on leaving: a function written
    /// inside a condition has conditions of its own.
    pub outer_condition_depth: u32,
    /// The function returns a number from a count, maximum or counter read.
    pub returns_number: Option<NumberSource>,
    /// Fields given the result of a function call (`no: await nextNo()`), settled once the
    /// file is read and it is known whether that function returns such a number.
    pub pending_numbers: Vec<(String, NumberAssignment)>,
}

impl Frame {
    /// The handling a duplicate-key error raised here meets: a handler that checks code 11000
    /// anywhere around it wins (an inner generic one usually rethrows to it).
    pub fn handling(&self) -> DupHandling {
        if self.handlers.contains(&DupHandling::Code11000) {
            DupHandling::Code11000
        } else if self.handlers.is_empty() {
            DupHandling::None
        } else {
            DupHandling::Generic
        }
    }

    pub fn in_loop(&self) -> bool {
        self.loops > 0 || self.loop_callback
    }
}
