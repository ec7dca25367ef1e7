//! The pass against the scan it must agree with: spilling, two threads, second passes and
//! pools give the findings one thread with a roomy budget gives.

use bson::{Document, RawDocumentBuf, doc, rawdoc};

use crate::{Config, PassOptions, Scanner, Selection};

/// The findings of a scan of `a.users` (unique `email`) with a roomy budget, checked equal
/// to those of a budget that sends every engine to disk.
fn roomy_and_tight(docs: &[RawDocumentBuf]) -> Vec<crate::Finding> {
    let (roomy, spilled) = scan(512 << 20, docs);
    assert!(!spilled);
    let (tight, spilled) = scan(0, docs);
    assert!(spilled, "the budget forces the engines to disk");
    assert_eq!(roomy, tight);
    roomy
}

fn scan(memory_limit: usize, docs: &[RawDocumentBuf]) -> (Vec<crate::Finding>, bool) {
    let options = PassOptions {
        memory_limit,
        ..PassOptions::default()
    };
    let mut scanner = Scanner::new(Config::default(), Selection::default(), options);
    let indexes = [doc! {"key": {"email": 1}, "name": "email_1", "unique": true}];
    let info = scanner.catalog("a.users", &indexes, &Document::new());
    let stats = {
        let plan = scanner.plan(&info, None);
        let mut pass = plan.start();
        for d in docs {
            pass.add(d).unwrap();
        }
        pass.finish().unwrap()
    };
    let spilled = stats.spilled;
    scanner.add(info, stats);
    (scanner.finish(false).findings, spilled)
}

/// How a test runs the pass.
#[derive(Clone, Copy)]
enum Run {
    OneThread,
    TwoThreads,
    /// Groups across types in a second pass, both on two threads.
    TwoPasses,
}

fn scan_with(run: Run, indexes: &[Document], docs: &[RawDocumentBuf]) -> Vec<crate::Finding> {
    let mut scanner = Scanner::new(
        Config::default(),
        Selection::default(),
        PassOptions::default(),
    );
    let info = scanner.catalog("a.tickets", indexes, &Document::new());
    let in_parallel = |plan: &super::PassPlan<'_>| {
        super::pass_in_parallel::<std::io::Error, _>(plan, |sink| {
            for d in docs {
                sink(d)?;
            }
            Ok(())
        })
        .unwrap()
    };
    let stats = {
        let plan = scanner.plan(&info, None);
        if let Run::TwoPasses = run {
            let plan = scanner.plan_with(&info, None, super::PassKind::Deferred);
            let mut stats = in_parallel(&plan);
            assert!(stats.indexes.iter().all(|i| i.type_groups.is_empty()));
            if let Some(second) = stats.second_pass() {
                stats.add_second_pass(in_parallel(&scanner.second_plan(&info, None, second)));
            }
            stats
        } else if let Run::TwoThreads = run {
            in_parallel(&plan)
        } else {
            let mut pass = plan.start();
            for d in docs {
                pass.add(d).unwrap();
            }
            pass.finish().unwrap()
        }
    };
    scanner.add(info, stats);
    scanner.finish(false).findings
}

#[test]
fn folded_groups_that_repeat_an_exact_group_are_dropped() {
    use super::{IndexStats, drop_repeated_groups};
    use bson::Bson;
    use dupkey_index::{CheckReport, Conflict};
    let group = |ids: Vec<Bson>| Conflict {
        key: vec![("k".to_string(), Bson::String("a".into()))],
        ids: ids.into(),
    };
    let i = Bson::Int32;
    let mut stats = IndexStats {
        duplicates: Some(CheckReport {
            conflicts: vec![group(vec![i(1), i(2), i(3)]), group(vec![i(7), i(8)])],
            ..CheckReport::default()
        }),
        // Inside the first exact group; across both; with a document in none; inside the
        // second; the same ids under another type.
        case_groups: vec![
            group(vec![i(1), i(3)]),
            group(vec![i(2), i(7)]),
            group(vec![i(8), i(9)]),
            group(vec![i(8), i(7)]),
            group(vec![Bson::Int64(1), Bson::Int64(2)]),
        ],
        case_variants: vec![Vec::new(); 5],
        type_groups: vec![group(vec![i(3), i(2), i(1)]), group(vec![i(3), i(7)])],
        ..IndexStats::default()
    };
    drop_repeated_groups(&mut stats);
    let ids = |gs: &[Conflict]| gs.iter().map(|g| g.ids.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        ids(&stats.case_groups),
        vec![
            vec![i(2), i(7)],
            vec![i(8), i(9)],
            vec![Bson::Int64(1), Bson::Int64(2)]
        ]
    );
    assert_eq!(stats.case_variants.len(), 3);
    assert_eq!(ids(&stats.type_groups), vec![vec![i(3), i(7)]]);
}
#[test]
fn two_threads_find_what_one_finds() {
    let indexes = [
        doc! {"key": {"email": 1}, "name": "email_1", "unique": true},
        doc! {"key": {"userId": 1}, "name": "userId_1", "unique": true},
        doc! {"key": {"code": 1}, "name": "code_1", "unique": true, "sparse": true},
        doc! {"key": {"ref": 1}, "name": "ref_1", "unique": true,
        "partialFilterExpression": {"ref": {"$exists": true}}},
    ];
    let docs: Vec<RawDocumentBuf> = (0..40_000)
        .map(|i| {
            let email = if i % 997 == 5 {
                format!("User{}@X.io", i - 1)
            } else {
                format!("user{i}@x.io")
            };
            let user: bson::Bson = if i % 1499 == 3 {
                bson::Bson::String(format!("{}", i - 1))
            } else {
                bson::Bson::Int32(i)
            };
            let mut d = doc! {
                "_id": i,
                "ticketNumber": format!("TKT-{:06}", if i % 4001 == 9 { i - 1 } else { i }),
                "sessionId": format!("s-{i}"),
                "email": email,
                "userId": user,
            };
            if i % 5 == 0 {
                d.insert("code", bson::Bson::Null);
            }
            if i == 11 {
                d.remove("email");
            }
            if i % 7 == 0 {
                d.insert("ref", bson::Bson::Null);
            }
            if i % 3 == 0 {
                d.insert("tags", vec![1, 2]);
            }
            RawDocumentBuf::try_from(&d).unwrap()
        })
        .collect();
    let one = scan_with(Run::OneThread, &indexes, &docs);
    let two = scan_with(Run::TwoThreads, &indexes, &docs);
    let codes: Vec<&str> = one.iter().map(|f| f.code).collect();
    for code in ["DK101", "DK102", "DK103", "DK203", "DK204", "DK205"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    assert_eq!(one, two);
    assert_eq!(one, scan_with(Run::TwoPasses, &indexes, &docs));
}

#[test]
fn a_field_first_seen_later_shares_the_budget() {
    // `sessionId` is missing from the first document: its engine starts late and takes a
    // share from the others.
    let docs: Vec<RawDocumentBuf> = (0..20_000)
        .map(|i| {
            let email = format!("user{i}@x.io");
            if i == 0 {
                return rawdoc! {"_id": i, "email": email};
            }
            let session = format!("s-{}", if i % 4000 == 3 { i - 1 } else { i });
            rawdoc! {"_id": i, "email": email, "sessionId": session}
        })
        .collect();
    let roomy = roomy_and_tight(&docs);
    let fields: Vec<_> = roomy.iter().filter_map(|f| f.field.as_deref()).collect();
    assert_eq!(fields, ["sessionId"], "{roomy:?}");
}

#[test]
fn a_second_pass_finds_groups_across_types_only_when_the_kinds_meet() {
    let indexes = [doc! {"key": {"ref": 1}, "name": "ref_1", "unique": true}];
    let oid = |i: u32| {
        let mut b = [7u8; 12];
        b[8..].copy_from_slice(&i.to_be_bytes());
        bson::oid::ObjectId::from_bytes(b)
    };
    // ObjectId `_id`s and refs, one ref a duplicate by value, one ref written as a hex
    // string of another (the string comes first), one key in upper-case hex.
    let docs: Vec<RawDocumentBuf> = (0..2_000u32)
        .map(|i| {
            let r: bson::Bson = match i {
                10 => oid(1_500).to_hex().into(),
                20 => oid(19).to_hex().to_uppercase().into(),
                _ => oid(i).into(),
            };
            RawDocumentBuf::try_from(&doc! {"_id": oid(i + 1_000_000), "ref": r}).unwrap()
        })
        .collect();
    let in_pass = scan_with(Run::TwoThreads, &indexes, &docs);
    assert_eq!(in_pass, scan_with(Run::TwoPasses, &indexes, &docs));
    let mixed: Vec<_> = in_pass.iter().filter(|f| f.code == "DK204").collect();
    assert_eq!(mixed.len(), 1, "{in_pass:?}");
    assert_eq!(mixed[0].count, 4, "{mixed:?}");
    // Without the strings, no second pass is asked for.
    let plain: Vec<RawDocumentBuf> = (0..50u32)
        .map(|i| rawdoc! {"_id": oid(i), "ref": oid(i + 7)})
        .collect();
    assert_eq!(deferred_pass(&indexes, &plain).second_pass(), None);
}

/// The statistics of a first, deferred, pass on one thread.
fn deferred_pass(indexes: &[Document], docs: &[RawDocumentBuf]) -> super::CollectionStats {
    let scanner = Scanner::new(
        Config::default(),
        Selection::default(),
        PassOptions::default(),
    );
    let info = scanner.catalog("a.t", indexes, &Document::new());
    let plan = scanner.plan_with(&info, None, super::PassKind::Deferred);
    let mut pass = plan.start();
    for d in docs {
        pass.add(d).unwrap();
    }
    pass.finish().unwrap()
}

#[test]
fn a_field_whose_grouping_stopped_early_is_grouped_again_in_a_second_pass() {
    // `orderRef` is a placeholder in the first 6,000 documents, so the deferred pass stops
    // grouping it; the 30,000 after are distinct but for two planted pairs, which makes the
    // field nearly distinct after all: the second pass must find the groups.
    let indexes = [doc! {"key": {"orderRef": 1}, "name": "orderRef_1"}];
    let docs: Vec<RawDocumentBuf> = (0..36_000)
        .map(|i| {
            let r = match i {
                ..6_000 => "n/a".to_string(),
                10_000 | 20_000 => format!("R-{}", i - 1),
                _ => format!("R-{i}"),
            };
            rawdoc! {"_id": i, "orderRef": r}
        })
        .collect();
    let one = scan_with(Run::OneThread, &indexes, &docs);
    let blocked: Vec<_> = one.iter().filter(|f| f.code == "DK201").collect();
    assert_eq!(blocked.len(), 1, "{one:?}");
    assert_eq!(blocked[0].count, 6_000 + 4, "{blocked:?}");
    assert_eq!(one, scan_with(Run::TwoThreads, &indexes, &docs));
    assert_eq!(one, scan_with(Run::TwoPasses, &indexes, &docs));

    let stats = deferred_pass(&indexes, &docs);
    let second = stats.second_pass().expect("a second pass");
    assert_eq!(second.fields, ["orderRef"]);
    assert!(stats.fields[0].duplicates.is_none());
    // A field that stays far from distinct is not grouped again.
    assert_eq!(deferred_pass(&indexes, &docs[..6_000]).second_pass(), None);
}

#[test]
fn pool_sizes_are_told_from_the_repeats() {
    // 65,536 draws from a pool of a million, as an even generator gives them.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..65_536 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seen.insert(x % 1_000_000);
    }
    let pool = super::pool_size(65_536.0, seen.len() as f64).unwrap();
    assert!((900_000.0..1_100_000.0).contains(&pool), "{pool}");
    // Drawing 2.8 million from it leaves about a third distinct.
    let ratio = super::pool_ratio(pool, 2_800_000.0);
    assert!((0.3..0.37).contains(&ratio), "{ratio}");
    assert_eq!(super::pool_size(1000.0, 1000.0), None);
    assert_eq!(super::pool_size(1000.0, 0.0), None);
}

#[test]
fn a_field_drawn_from_a_pool_stops_grouping_early_and_an_identifier_does_not() {
    // 16,384 of 100,000 documents: `customerId` comes from 20,000 customers, so it is
    // still two-thirds distinct but will end a fifth distinct; every fiftieth `orderNo`
    // repeats the one before, which keeps it 98% distinct however far the pass goes.
    let mut x = 88_172_645_463_325_252_u64;
    let docs: Vec<RawDocumentBuf> = (0..16_384)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let order = if i % 50 == 49 { i - 1 } else { i };
            rawdoc! {"_id": i, "customerId": format!("c{}", x % 20_000), "orderNo": order}
        })
        .collect();
    let scanner = Scanner::new(
        Config::default(),
        Selection::default(),
        PassOptions::default(),
    );
    let info = scanner.catalog("a.orders", &[], &Document::new());
    let size = docs[0].as_bytes().len() as u64 * 100_000;
    let plan = scanner.plan_with(&info, Some(size), super::PassKind::Deferred);
    let mut pass = plan.start();
    for d in &docs {
        pass.add(d).unwrap();
    }
    let grouping: Vec<(&str, bool)> = pass
        .candidates
        .iter()
        .map(|c| (c.stats.field.as_str(), c.finder.is_some()))
        .collect();
    assert_eq!(grouping, [("customerId", false), ("orderNo", true)]);
    // Without the input's size the pool cannot be judged: only the share distinct so far.
    let plan = scanner.plan_with(&info, None, super::PassKind::Deferred);
    let mut pass = plan.start();
    for d in &docs {
        pass.add(d).unwrap();
    }
    assert!(pass.candidates.iter().all(|c| c.finder.is_some()));
}

#[test]
fn a_tight_budget_spills_to_disk_and_finds_the_same() {
    let docs: Vec<RawDocumentBuf> = (0..30_000)
        .map(|i| {
            let email = if i % 1000 == 7 {
                format!("USER{}@X.IO", i - 1)
            } else {
                format!("user{i}@x.io")
            };
            let session = format!("s-{}", if i % 5000 == 3 { i - 1 } else { i });
            rawdoc! {"_id": i, "email": email, "sessionId": session}
        })
        .collect();
    let roomy = roomy_and_tight(&docs);
    let codes: Vec<&str> = roomy.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["DK205", "DK203"], "{roomy:?}");
    assert_eq!(roomy[1].count, 60);
}
