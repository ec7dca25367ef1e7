//! Plan steps for counters and indexes: raising a counter (one step per counter), building
//! an index, making one unique, and retiring (hiding, then dropping) the index it replaces.

use super::*;

impl Builder<'_> {
    pub(super) fn resync(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        r: &ResyncCounter,
    ) -> Result<(), CompileError> {
        let current = values::counter_value(self.snap, &r.counter);
        self.set_counter(
            ctx,
            &r.counter,
            r.target,
            current,
            "raise the counter to the largest number in use, never lowering it",
        );
        Ok(())
    }

    pub(super) fn set_counter(
        &mut self,
        ctx: &FindingCtx<'_>,
        c: &CounterRef,
        value: i64,
        current: Option<i64>,
        why: &str,
    ) {
        self.raise_counter(ctx, Phase::Counter, c, value, current, why);
    }

    /// Raises `c` to `value` before any step draws from it: the counter's one step moves to
    /// the front of the plan (or is made there).
    pub(super) fn raise_before_draws(
        &mut self,
        ctx: &FindingCtx<'_>,
        c: &CounterRef,
        value: i64,
        current: i64,
    ) {
        let why = "raise the counter to the largest number in use before numbers are drawn from it";
        self.raise_counter(ctx, Phase::Prepare, c, value, Some(current), why);
    }

    /// The counter's one step raises it to at least `value`; made in `phase`, or an existing
    /// one moved there when `phase` is [`Phase::Prepare`].
    fn raise_counter(
        &mut self,
        ctx: &FindingCtx<'_>,
        phase: Phase,
        c: &CounterRef,
        value: i64,
        current: Option<i64>,
        why: &str,
    ) {
        let what = format!(
            "{why}: {} {} → {value} ($max)",
            c.field,
            current.map_or("unknown".into(), |v| v.to_string())
        );
        if self.raise_planned_counter(ctx, c, value, &what) {
            if phase == Phase::Prepare {
                for (at, step) in &mut self.steps {
                    if matches!(&step.operation, Operation::SetCounter { filter, field, .. }
                        if step.namespace == c.namespace && filter.0 == c.selector && *field == c.field)
                    {
                        *at = Phase::Prepare;
                    }
                }
            }
            return;
        }
        let step = Self::step(
            &c.namespace,
            Applicability::Safe,
            ctx.describe(what),
            Operation::SetCounter {
                filter: ExtJsonDocument(c.selector.clone()),
                field: c.field.clone(),
                value,
                current,
            },
        );
        self.push(ctx, phase, "counter", step);
    }

    /// One step per counter: a second would find the counter where the first left it, not
    /// where the plan saw it, and undo would take that for numbers handed out since. So a
    /// later raise of a counter already in the plan raises that step's value instead.
    pub(super) fn raise_planned_counter(
        &mut self,
        ctx: &FindingCtx<'_>,
        c: &CounterRef,
        value: i64,
        what: &str,
    ) -> bool {
        for (_, step) in &mut self.steps {
            let Operation::SetCounter {
                filter,
                field,
                value: planned,
                ..
            } = &mut step.operation
            else {
                continue;
            };
            if step.namespace == c.namespace && filter.0 == c.selector && *field == c.field {
                *planned = (*planned).max(value);
                step.description
                    .push_str(&format!("; and {}: {what}", ctx.finding.code));
                return true;
            }
        }
        false
    }

    pub(super) fn create_index(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        c: &CreateIndex,
    ) -> Result<(), CompileError> {
        let mut spec = c.spec();
        let mut key = c.key.clone();
        let mut reversed = false;
        if c.replaces.is_some() && self.options.before_5_0 {
            match values::reversed_key(&c.key) {
                Some(r) => {
                    spec.insert("key", r.clone());
                    key = r;
                    reversed = true;
                }
                None => self.notes.push(format!(
                    "{} {}: the server is older than 5.0 and the key {} has a non-numeric \
                     direction: its replacement cannot be built beside it",
                    ctx.finding.code, c.namespace, c.key
                )),
            }
        }
        let name = match spec.get_str("name") {
            Ok(n) => n.to_string(),
            Err(_) => values::default_index_name(&key),
        };
        spec.insert("name", name.clone());
        let planned = !self
            .indexes_built
            .insert((c.namespace.clone(), name.clone()));
        if planned || self.snap.index(&c.namespace, &name).is_some() {
            self.notes.push(format!(
                "{} {}: index {name} already exists or is built by an earlier step; not built again",
                ctx.finding.code, c.namespace
            ));
            return Ok(());
        }
        let what = match &c.replaces {
            Some(old) if reversed => format!(
                "build {name} to replace {old}, before {old} is hidden and dropped; on the \
                 reversed key, because servers before 5.0 refuse a second index on the same \
                 key, and the directions do not change what is unique"
            ),
            Some(old) => {
                format!("build {name} to replace {old}, before {old} is hidden and dropped")
            }
            None => format!("build the unique index {name}, after the data repairs it needs"),
        };
        let step = Self::step(
            &c.namespace,
            Applicability::Safe,
            ctx.describe(what),
            Operation::CreateIndex {
                spec: ExtJsonDocument(spec),
            },
        );
        self.push(ctx, Phase::Build, "create-index", step);
        ctx.built.push(name.clone());
        if let Some(old) = &c.replaces {
            self.retire_index(
                ctx,
                &c.namespace,
                old,
                Applicability::Safe,
                &format!("replaced by {name}"),
            );
        }
        Ok(())
    }

    pub(super) fn make_unique(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        m: &MakeUnique,
    ) -> Result<(), CompileError> {
        let Some(old) = self.snap.index(&m.namespace, &m.name) else {
            self.notes.push(format!(
                "{} {}: index {} is no longer there; not made unique",
                ctx.finding.code, m.namespace, m.name
            ));
            return Ok(());
        };
        if self.options.prepare_unique && old.get_bool("prepareUnique").ok() != Some(true) {
            let step = Self::step(
                &m.namespace,
                Applicability::Safe,
                ctx.describe(format!(
                    "set prepareUnique on {} so that no new duplicate arrives while the \
                     duplicates are removed; undo clears it",
                    m.name
                )),
                Operation::PrepareUniqueIndex {
                    name: m.name.clone(),
                    definition: ExtJsonDocument(old.clone()),
                },
            );
            self.push(ctx, Phase::Prepare, "prepare-unique", step);
        }
        let mut options = Document::new();
        options.insert("name", format!("{}_unique", m.name));
        options.insert("unique", true);
        for (k, v) in old {
            if !matches!(
                k.as_str(),
                "v" | "key" | "name" | "ns" | "unique" | "hidden" | "background" | "prepareUnique"
            ) {
                options.insert(k.clone(), v.clone());
            }
        }
        let create = CreateIndex {
            namespace: m.namespace.clone(),
            key: m.key.clone(),
            options,
            replaces: Some(m.name.clone()),
        };
        self.create_index(ctx, &create)
    }

    pub(super) fn drop_index(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        d: &DropIndex,
    ) -> Result<(), CompileError> {
        // Dropping what this finding just replaced keeps the guarantee; dropping a stale
        // index (DK104) removes one somebody may still rely on.
        let (applicability, why) = if ctx.built.is_empty() {
            (
                Applicability::Unsafe,
                "a stale index; unsafe: code may still rely on it (apply --unsafe)".to_string(),
            )
        } else {
            (
                Applicability::Safe,
                format!("replaced by {}", ctx.built.join(", ")),
            )
        };
        self.retire_index(ctx, &d.namespace, &d.name, applicability, &why);
        Ok(())
    }

    /// Hides (unless asked not to) and then drops an index, once per plan.
    pub(super) fn retire_index(
        &mut self,
        ctx: &FindingCtx<'_>,
        namespace: &str,
        name: &str,
        applicability: Applicability,
        why: &str,
    ) {
        if !self
            .indexes_dropped
            .insert((namespace.to_string(), name.to_string()))
        {
            return;
        }
        let Some(definition) = self.snap.index(namespace, name).cloned() else {
            self.notes.push(format!(
                "{} {namespace}: index {name} is no longer there; nothing to drop",
                ctx.finding.code
            ));
            return;
        };
        if !self.options.no_hide {
            let step = Self::step(
                namespace,
                applicability,
                ctx.describe(format!(
                    "hide {name} ({why}) so that queries stop using it before it is dropped"
                )),
                Operation::HideIndex {
                    name: name.to_string(),
                    definition: ExtJsonDocument(definition.clone()),
                },
            );
            self.push(ctx, Phase::Hide, "hide-index", step);
        }
        let step = Self::step(
            namespace,
            applicability,
            ctx.describe(format!(
                "drop {name} ({why}); its definition is archived for undo"
            )),
            Operation::DropIndex {
                name: name.to_string(),
                definition: ExtJsonDocument(definition),
            },
        );
        self.push(ctx, Phase::Drop, "drop-index", step);
    }
}
