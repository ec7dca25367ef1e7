use crate::facts::{DefaultValue, Language};
use crate::finding::LintFinding;
use crate::project::{ModelRef, Project};
use crate::rules::language;

lint_rule! {
    /// ## What it finds
    /// A unique field whose default is a random value with too little entropy:
    /// `Math.random()`-based codes, `Date.now()`, `nanoid(6)`, `random.randint`,
    /// `''.join(random.choices(..., k=6))`, `secrets.token_hex(3)`, `uuid4().hex[:6]`. The
    /// finding is at the default.
    ///
    /// ## Why it fails
    /// Collisions come far sooner than intuition says: with six base-36 characters (about two
    /// billion values) the chance that two of 50,000 codes collide is already about one in two
    /// (the birthday bound). Each collision is an E11000 on an insert that nothing retries.
    ///
    /// ## Instead
    /// A value with at least 122 random bits (`crypto.randomUUID()`, `uuid.uuid4()`,
    /// `secrets.token_urlsafe()`, an ObjectId), or a short code drawn with retry on E11000:
    /// `dupkey_atomic`'s unique tokens in Rust retry against the index; elsewhere insert,
    /// catch code 11000 on that index, draw again.
    pub static RULE = {
        code: "DK306",
        name: "weak-random-unique-value",
        severity: Warning,
        summary: "a unique field defaults to a short random value that collides",
        check: check,
    };
}

fn check(project: &Project, out: &mut Vec<LintFinding>) {
    for (file, facts) in project.files.iter().enumerate() {
        for model in &facts.models {
            let model_ref = ModelRef { file, model };
            let keys = project.unique_keys(model_ref);
            for field in &model.fields {
                let Some(DefaultValue::WeakRandom { generator, span }) = &field.default else {
                    continue;
                };
                let unique = field.unique.is_some()
                    || keys.iter().any(|k| k.fields.len() == 1 && k.fields[0] == field.path);
                if !unique {
                    continue;
                }
                let strong = match language(facts) {
                    Language::Python => "`uuid.uuid4().hex` or `secrets.token_urlsafe()`",
                    Language::Rust => "`dupkey_atomic`'s unique tokens (they retry on E11000)",
                    _ => "`crypto.randomUUID()` or `nanoid()` (21 characters)",
                };
                out.push(RULE.at(
                    facts,
                    *span,
                    format!(
                        "unique field `{}` of `{}` defaults to `{generator}`: too few random \
                         values, so inserts collide and fail with E11000",
                        field.path, model.name
                    ),
                    format!(
                        "default to {strong}, or keep short codes and retry the insert on \
                         code 11000"
                    ),
                ));
            }
        }
    }
}
