use crate::counters::counter_feeds;
use dupkey_rulekit::declare_rule;
use crate::remedy::{CounterRef, CounterSource, Remedy, ResyncCounter};
use crate::rule::{Ctx, Finding, Severity};
use dupkey_conventions::shell;
use crate::stats::Plan;

declare_rule! {
    /// ## What it does
    /// Finds counters whose value is below the largest number already used in the field they
    /// feed. Counters are recognised in collections named like `counters`, `identitycounters`
    /// or `sequences`: hand-written `{ _id: "ticket", seq: 7 }`, mongoose-sequence
    /// `{ id, reference_value, seq }` and mongoose-auto-increment `{ model, field, count }`.
    /// Formatted numbers (`TKT-00042`, `INV/2025-26/000123`) are compared per prefix, and a
    /// counter scoped to a period (`{ type: "invoice", year: "2025-26" }`) only with numbers of
    /// that period. A period written inside a label scopes it the same way: `{ _id:
    /// "quote_2025" }` is compared with `Q-2025-…` numbers only, `{ _id: "cn-2024-25" }` with
    /// `CN/2024-25/…`, and a counter whose period no number prefix holds is compared with
    /// nothing. A label written in the numbers' prefix names them outright: `{ _id: "TKT", seq:
    /// 41 }` feeds the `TKT-…` numbers, whatever their field is called. When names do not tell
    /// which field a counter feeds, say it in `dupkey.toml` (`[[counter]]`).
    ///
    /// ## Why is this bad?
    /// The next values the counter hands out are taken: each insert fails with
    /// `E11000 … dup key: { ticket_number: "TKT-00008" }` (or, with no unique index, silently
    /// stores a second TKT-00008). Counters fall behind after a restore of an older counters
    /// collection, an import, documents numbered by another code path (`countDocuments() + 1`),
    /// or a counter reset. Retrying does not help: the counter has to catch up.
    ///
    /// The finding's `count` is how far behind the counter is (numbers that will collide, at
    /// most); `samples` holds the counter document's `_id`.
    ///
    /// ## Example
    /// ```js
    /// db.counters.findOne({ _id: "ticket" })            // { _id: "ticket", seq: 7 }
    /// db.tickets.find().sort({ ticket_number: -1 }).limit(1)   // TKT-00042, numbered by countDocuments()
    /// ```
    ///
    /// ## Use instead
    /// One atomic source of numbers, used by every code path:
    /// ```js
    /// const { seq } = await db.counters.findOneAndUpdate(
    ///   { _id: "ticket" }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: "after" })
    /// const ticket_number = "TKT-" + String(seq).padStart(5, "0")
    /// ```
    /// never `countDocuments() + 1`, which two requests read alike.
    ///
    /// ## Fix
    /// The finding prints, with the real names and numbers:
    /// ```js
    /// db.getSiblingDB("supportai").getCollection("counters").updateOne({ _id: "ticket" }, { $max: { seq: 42 } })
    /// ```
    /// `$max` only ever moves the counter forward, so running it while the application writes
    /// is safe.
    ///
    /// ## References
    /// - MongoDB manual, "Create an Auto-Incrementing Sequence Field" (findAndModify `$inc`)
    /// - MongoDB manual, `$max` update operator
    pub static RULE: crate::Rule = {
        code: "DK202",
        name: "counter-behind-data",
        severity: Severity::Error,
        summary: "a counter whose value is below the largest number already used (formatted numbers like `INV/2025-26/000123` parsed per prefix and period)",
        needs: Plan { numbers: true, ..Plan::NONE },
        check: check,
    };
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for feed in counter_feeds(ctx.model) {
        let Some((max, example)) = feed.max_used() else {
            continue;
        };
        let counter = &feed.counter;
        if counter.value >= max {
            continue;
        }
        let mut f = Finding::new(&RULE, &counter.namespace);
        f.field = Some(counter.value_field.clone());
        f.count = (max - counter.value) as u64;
        f.samples = counter.selector.get("_id").cloned().into_iter().collect();
        let prefixes: Vec<String> = feed
            .series
            .iter()
            .filter_map(|s| s.prefix.as_ref().map(|p| format!("`{p}`")))
            .collect();
        let numbered = if prefixes.is_empty() {
            String::new()
        } else {
            format!(" (prefix {})", prefixes.join(", "))
        };
        let matched = if feed.configured {
            " (as dupkey.toml maps it)"
        } else {
            ""
        };
        f.message = format!(
            "counter {} stands at {} {}, but {}.{}{numbered}{matched} already uses numbers up to {max} ({}): the next {} it hands out {} taken, and each such insert fails with E11000 (or stores a duplicate where no unique index guards the field)",
            shell::document(&counter.selector),
            counter.value_field,
            counter.value,
            feed.target_namespace,
            feed.field,
            ctx.value(example),
            crate::rules::plural(f.count, "number", "numbers"),
            if f.count == 1 { "is" } else { "are" },
        );
        let counter_ref = CounterRef {
            namespace: counter.namespace.clone(),
            selector: counter.selector.clone(),
            field: counter.value_field.clone(),
        };
        let resync = Remedy::ResyncCounter(ResyncCounter {
            counter: counter_ref,
            target: max,
            source: CounterSource {
                namespace: feed.target_namespace.clone(),
                field: feed.field.clone(),
                prefixes: feed.series.iter().map(|s| s.prefix.clone()).collect(),
                example: example.clone(),
            },
        });
        let remedies = vec![
            Remedy::note(
                "move the counter past the largest number in use ($max never moves it backwards)",
            ),
            resync,
            Remedy::note(format!(
                "and let every code path take numbers only from it: findOneAndUpdate({}, {{ $inc: {{ {}: 1 }} }}, {{ upsert: true, returnDocument: \"after\" }}), never countDocuments() + 1",
                shell::document(&counter.selector),
                shell::name(&counter.value_field),
            )),
        ];
        f.set_remedies(ctx, remedies);
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::testing::{ixs, scan};
    use bson::rawdoc;

    fn tickets() -> Vec<bson::RawDocumentBuf> {
        [1, 2, 42]
            .iter()
            .map(|n| rawdoc! {"_id": *n, "ticket_number": format!("TKT-{n:05}")})
            .collect()
    }

    #[test]
    fn a_hand_written_counter_behind_formatted_numbers() {
        let uniq =
            ixs(r#"[{"key": {"ticket_number": 1}, "name": "ticket_number_1", "unique": true}]"#);
        let f = scan(
            "DK202",
            Config::default(),
            &[
                (
                    "s.counters",
                    vec![],
                    vec![rawdoc! {"_id": "ticket", "seq": 7}],
                ),
                ("s.tickets", uniq, tickets()),
            ],
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].namespace.as_str(), f[0].count), ("s.counters", 35));
        assert!(
            f[0].message
                .contains("s.tickets.ticket_number (prefix `TKT-`)"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix
                .contains(".updateOne({ _id: \"ticket\" }, { $max: { seq: 42 } })"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn counters_per_period_and_in_sync() {
        let invoices: Vec<_> = [("2024-25", 500), ("2025-26", 3)]
            .iter()
            .map(|(y, n)| rawdoc! {"_id": *n, "invoiceNumber": format!("INV/{y}/{n:06}")})
            .collect();
        let counters = vec![rawdoc! {"_id": 1, "type": "invoice", "year": "2025-26", "seq": 3}];
        let f = scan(
            "DK202",
            Config::default(),
            &[
                ("a.counters", vec![], counters),
                ("a.invoices", vec![], invoices.clone()),
            ],
        );
        assert!(
            f.is_empty(),
            "the 2025-26 counter is not behind 2024-25 numbers: {f:?}"
        );
        let behind = vec![rawdoc! {"_id": 1, "type": "invoice", "year": "2024-25", "seq": 12}];
        let f = scan(
            "DK202",
            Config::default(),
            &[
                ("a.counters", vec![], behind),
                ("a.invoices", vec![], invoices),
            ],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].count, 488);
    }

    #[test]
    fn mongoose_plugins_and_configured_mappings() {
        let f = scan(
            "DK202",
            Config::default(),
            &[
                (
                    "m.identitycounters",
                    vec![],
                    vec![rawdoc! {"_id": 1, "model": "Ticket", "field": "ref", "count": 5}],
                ),
                (
                    "m.tickets",
                    vec![],
                    (1..=9).map(|i| rawdoc! {"_id": i, "ref": i}).collect(),
                ),
            ],
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].count, 4);
        // Names that say nothing: only dupkey.toml can tie them.
        let docs = || -> Vec<(&str, Vec<bson::Document>, Vec<bson::RawDocumentBuf>)> {
            vec![
                ("x.counters", vec![], vec![rawdoc! {"_id": "c1", "seq": 2}]),
                (
                    "x.things",
                    vec![],
                    (1..=9).map(|i| rawdoc! {"_id": i, "num": i}).collect(),
                ),
            ]
        };
        assert!(scan("DK202", Config::default(), &docs()).is_empty());
        let config = Config::parse(
            "[[counter]]\nnamespace = \"x.counters\"\nid = \"c1\"\ntarget = \"x.things\"\ntarget_field = \"num\"\n",
        )
        .unwrap();
        let f = scan("DK202", config, &docs());
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("as dupkey.toml maps it"));
    }

    #[test]
    fn a_counter_named_by_the_number_prefix() {
        let tickets: Vec<_> = (1..=30)
            .map(|n| rawdoc! {"_id": n, "ref": format!("TKT-{n:05}")})
            .chain((1..=5).map(|n| rawdoc! {"_id": 100 + n, "ref": format!("BUG-{n:05}")}))
            .collect();
        let run = |counters: Vec<bson::RawDocumentBuf>| {
            scan(
                "DK202",
                Config::default(),
                &[
                    ("h.counters", vec![], counters),
                    ("h.tickets", vec![], tickets.clone()),
                ],
            )
        };
        // Each counter is compared with its own prefix only.
        let in_step = vec![
            rawdoc! {"_id": "TKT", "seq": 30},
            rawdoc! {"_id": "BUG", "seq": 5},
        ];
        assert!(run(in_step).is_empty());
        let f = run(vec![
            rawdoc! {"_id": "TKT", "seq": 26},
            rawdoc! {"_id": "BUG", "seq": 5},
        ]);
        assert_eq!((f.len(), f[0].count), (1, 4), "{f:?}");
        assert!(f[0].message.contains("prefix `TKT-`"), "{}", f[0].message);
        // A label in no prefix names nothing.
        assert!(run(vec![rawdoc! {"_id": "QA", "seq": 1}]).is_empty());
    }

    #[test]
    fn a_period_inside_the_counter_name_scopes_it() {
        let quotes: Vec<_> = (1..=80)
            .map(|n| rawdoc! {"_id": n, "quoteNumber": format!("Q-2024-{n:04}")})
            .chain(
                (1..=20).map(|n| rawdoc! {"_id": 100 + n, "quoteNumber": format!("Q-2025-{n:04}")}),
            )
            .collect();
        let uniq = ixs(r#"[{"key": {"quoteNumber": 1}, "name": "q", "unique": true}]"#);
        let run = |counters: Vec<bson::RawDocumentBuf>| {
            scan(
                "DK202",
                Config::default(),
                &[
                    ("s.counters", vec![], counters),
                    ("s.quotes", uniq.clone(), quotes.clone()),
                ],
            )
        };
        let in_step = vec![
            rawdoc! {"_id": "quote_2025", "seq": 20},
            rawdoc! {"_id": "quote-2024", "seq": 80},
        ];
        assert!(run(in_step).is_empty());
        let f = run(vec![rawdoc! {"_id": "quote_2025", "seq": 15}]);
        assert_eq!((f.len(), f[0].count), (1, 5), "{f:?}");
        assert!(
            f[0].message.contains("prefix `Q-2025-`"),
            "{}",
            f[0].message
        );
    }
}
