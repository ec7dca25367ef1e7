//! Plan steps that change field values: renumbering shared numbers in the field's own format,
//! backfilling null or missing keys, removing explicit nulls.

use super::*;

impl Builder<'_> {
    pub(super) fn renumber(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        r: &Renumber,
    ) -> Result<(), CompileError> {
        if r.field.contains('.') || r.field == "_id" {
            self.manual(
                ctx,
                &r.namespace,
                format!(
                    "renumber {}: only top-level fields are renumbered by a plan",
                    r.field
                ),
            );
            return Ok(());
        }
        let counter = r
            .counter
            .clone()
            .or_else(|| counter_for(self.report, &r.namespace, &r.field));
        let counter_now = counter
            .as_ref()
            .and_then(|c| values::counter_value(self.snap, c));
        let mut updates = Vec::new();
        let mut changes = Vec::new();
        for group in &r.groups {
            let Some(mut members) = self.members(ctx, &r.namespace, group) else {
                continue;
            };
            // The oldest keeps its number: it was most likely handed out first.
            members.sort_by_key(|(id, _, _)| values::order_key(id));
            for (id, raw, doc) in members.iter().skip(1) {
                let old = doc.get(&r.field).cloned().unwrap_or(Bson::Null);
                let n = self.next_number(&r.namespace, &r.field, &r.format, counter_now);
                let new = r.format.write(n);
                changes.push(format!("{old} → {new}"));
                updates.push(FieldUpdate {
                    id: ExtJson(id.clone()),
                    sha256: crate::digest::sha256_hex(raw.as_bytes()),
                    set: ExtJsonDocument(bson::doc! { r.field.as_str(): new }),
                    unset: Vec::new(),
                });
            }
        }
        if updates.is_empty() {
            return Ok(());
        }
        // With a counter, apply draws the numbers from it when it writes (the application's
        // next number comes after them); one behind the data is raised first, or it would hand
        // out numbers already in use.
        let drawn_from = counter.as_ref().filter(|_| counter_now.is_some());
        if let (Some(c), Some(now)) = (drawn_from, counter_now) {
            let used = values::largest_used(&self.snap.values(&r.namespace, &r.field), &r.format);
            if used > now {
                self.raise_before_draws(ctx, c, used, now);
            }
        }
        let what = format!(
            "give {} document(s) sharing a {} with another the next free numbers{} (old → \
             planned: {})",
            updates.len(),
            r.field,
            match drawn_from {
                Some(c) => format!(
                    ", drawn from the counter {} {} when applied",
                    c.namespace,
                    Bson::Document(c.selector.clone()).into_relaxed_extjson()
                ),
                None => String::new(),
            },
            abbreviate(&changes)
        );
        let ids: Vec<Bson> = updates.iter().map(|u| u.id.0.clone()).collect();
        let step = Self::step(
            &r.namespace,
            Applicability::Safe,
            ctx.describe(what),
            Operation::UpdateDocuments {
                documents: updates,
                draw: Some(draw(&r.field, &r.format, drawn_from)),
            },
        );
        let id = self.push(ctx, Phase::Data, "renumber", step);
        self.touch(&r.namespace, &ids, &id);
        if let (Some(c), None) = (&counter, drawn_from) {
            // The counter could not be read: the planned numbers are written, and the counter
            // raised past them afterwards.
            let prefix = r.format.prefix.clone();
            let key = (r.namespace.clone(), r.field.clone(), prefix);
            if let Some(&last) = self.numbers.get(&key) {
                self.set_counter(
                    ctx,
                    c,
                    last,
                    counter_now,
                    "move the counter past the numbers just handed out",
                );
            }
        }
        Ok(())
    }

    /// The next number of `namespace.field` in `format`'s prefix: after the largest in use,
    /// the counter's value and every number this plan already handed out.
    pub(super) fn next_number(
        &mut self,
        namespace: &str,
        field: &str,
        format: &NumberFormat,
        counter: Option<i64>,
    ) -> i64 {
        let key = (
            namespace.to_string(),
            field.to_string(),
            format.prefix.clone(),
        );
        let last = match self.numbers.get(&key) {
            Some(&n) => n,
            None => {
                let used = values::largest_used(&self.snap.values(namespace, field), format);
                used.max(counter.unwrap_or(0))
            }
        };
        self.numbers.insert(key, last + 1);
        last + 1
    }

    pub(super) fn backfill(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        b: &Backfill,
    ) -> Result<(), CompileError> {
        if b.fields.iter().any(|f| f.contains('.') || f == "_id") {
            self.manual(
                ctx,
                &b.namespace,
                format!(
                    "backfill {}: only top-level fields are backfilled by a plan",
                    b.fields.join(", ")
                ),
            );
            return Ok(());
        }
        // A numbered field fed by a counter takes its numbers from that counter when applied.
        let counter = match (&b.format, b.fields.as_slice()) {
            (Some(_), [field]) => counter_for(self.report, &b.namespace, field)
                .and_then(|c| values::counter_value(self.snap, &c).map(|now| (c, now))),
            _ => None,
        };
        let docs = self.filtered(&b.namespace, &b.filter)?;
        let mut updates = Vec::new();
        for (id, raw) in docs {
            let mut set = Document::new();
            for field in &b.fields {
                let value = match &b.format {
                    Some(format) => {
                        let now = counter.as_ref().map(|(_, now)| *now);
                        format.write(self.next_number(&b.namespace, field, format, now))
                    }
                    None => values::fresh_like(&self.snap.values(&b.namespace, field)),
                };
                set.insert(field.as_str(), value);
            }
            updates.push(FieldUpdate {
                id: ExtJson(id),
                sha256: crate::digest::sha256_hex(raw.as_bytes()),
                set: ExtJsonDocument(set),
                unset: Vec::new(),
            });
        }
        let what = format!(
            "give {} document(s) without {} a fresh value ({})",
            updates.len(),
            b.fields.join(", "),
            match (&b.format, &counter) {
                (Some(_), Some((c, _))) => format!(
                    "the next numbers in the field's format, drawn from the counter {} {} when \
                     applied",
                    c.namespace,
                    Bson::Document(c.selector.clone()).into_relaxed_extjson()
                ),
                (Some(_), None) => "the next numbers in the field's format".to_string(),
                (None, _) => "random, of the kind the field already holds".to_string(),
            }
        );
        let draw = match (&b.format, b.fields.as_slice()) {
            (Some(format), [field]) if !updates.is_empty() => {
                if let Some((c, now)) = &counter {
                    let used = values::largest_used(&self.snap.values(&b.namespace, field), format);
                    if used > *now {
                        self.raise_before_draws(ctx, c, used, *now);
                    }
                }
                Some(draw(field, format, counter.as_ref().map(|(c, _)| c)))
            }
            _ => None,
        };
        self.update_step(ctx, &b.namespace, "backfill", what, updates, draw);
        Ok(())
    }

    pub(super) fn unset_nulls(
        &mut self,
        ctx: &mut FindingCtx<'_>,
        u: &UnsetNulls,
    ) -> Result<(), CompileError> {
        let fields: Vec<String> = u
            .fields
            .iter()
            .filter(|f| !f.contains('.'))
            .cloned()
            .collect();
        let docs = self.filtered(&u.namespace, &u.filter)?;
        let mut updates = Vec::new();
        for (id, raw) in docs {
            let nulls: Vec<String> = fields
                .iter()
                .filter(|f| matches!(raw.get(f.as_str()), Ok(Some(bson::RawBsonRef::Null))))
                .cloned()
                .collect();
            if nulls.is_empty() {
                continue;
            }
            updates.push(FieldUpdate {
                id: ExtJson(id),
                sha256: crate::digest::sha256_hex(raw.as_bytes()),
                set: ExtJsonDocument::default(),
                unset: nulls,
            });
        }
        let what = format!(
            "remove the explicit null of {} from {} document(s)",
            fields.join(", "),
            updates.len()
        );
        self.update_step(ctx, &u.namespace, "unset-nulls", what, updates, None);
        Ok(())
    }

    /// The documents `filter` matches that no earlier step changes.
    pub(super) fn filtered(
        &mut self,
        namespace: &str,
        filter: &Document,
    ) -> Result<Vec<(Bson, RawDocumentBuf)>, CompileError> {
        let docs = self
            .snap
            .matching(namespace, filter)
            .map_err(|e| CompileError::Input(e.to_string()))?;
        let mut out = Vec::new();
        for raw in docs {
            let Some(id) = raw
                .get("_id")
                .ok()
                .flatten()
                .and_then(|v| Bson::try_from(v).ok())
            else {
                continue;
            };
            if !self
                .touched
                .contains_key(&(namespace.to_string(), id_key(&id)))
            {
                out.push((id, raw.clone()));
            }
        }
        Ok(out)
    }

    pub(super) fn update_step(
        &mut self,
        ctx: &FindingCtx<'_>,
        namespace: &str,
        action: &str,
        what: String,
        updates: Vec<FieldUpdate>,
        draw: Option<Draw>,
    ) {
        if updates.is_empty() {
            return;
        }
        let ids: Vec<Bson> = updates.iter().map(|u| u.id.0.clone()).collect();
        let step = Self::step(
            namespace,
            Applicability::Safe,
            ctx.describe(what),
            Operation::UpdateDocuments {
                documents: updates,
                draw,
            },
        );
        let id = self.push(ctx, Phase::Data, action, step);
        self.touch(namespace, &ids, &id);
    }
}

/// How apply takes the numbers of `field`: from `counter` when there is one.
pub(super) fn draw(field: &str, format: &NumberFormat, counter: Option<&CounterRef>) -> Draw {
    Draw {
        field: field.to_string(),
        format: NumberText {
            prefix: format.prefix.clone(),
            width: format.width,
            string: format.string,
        },
        counter: counter.map(|c| CounterSource {
            namespace: c.namespace.clone(),
            filter: ExtJsonDocument(c.selector.clone()),
            field: c.field.clone(),
        }),
    }
}
