//! The five seed systems (`examples/seeds/README.md`), before and after, under 64
//! concurrent tasks: the naive code each team wrote, and the same feature on `dupkey_atomic`.
//!
//!     cargo run -p dupkey_atomic --example seeds_race -- [URI] [--tasks 64] [--ops 8]
//!
//! The URI defaults to `DUPKEY_TEST_URI`. Each system runs in its own databases,
//! `dupkey_seeds_race_<seed>_{naive,dupkey}`, which are dropped first and at the end. The
//! exit code is 0 when every naive version showed its bug and every dupkey version showed
//! none.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Bson, Document, doc};
use dupkey_atomic::{Date, DuplicateKeyExt, Error, Sequence, Token, get_or_create, upsert};
use futures_util::TryStreamExt;
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How one operation (one request to the system) ended.
#[derive(Debug)]
enum Outcome {
    Ok,
    DuplicateKey,
    Failed(String),
}

impl From<&mongodb::error::Error> for Outcome {
    fn from(e: &mongodb::error::Error) -> Self {
        if e.duplicate_key().is_some() {
            Outcome::DuplicateKey
        } else {
            Outcome::Failed(e.to_string())
        }
    }
}

impl From<&Error> for Outcome {
    fn from(e: &Error) -> Self {
        if e.duplicate_key().is_some() {
            Outcome::DuplicateKey
        } else {
            Outcome::Failed(e.to_string())
        }
    }
}

/// One line of the report.
#[derive(Debug, Default)]
struct Row {
    ops: usize,
    ok: usize,
    e11000: usize,
    other: usize,
    /// Numbers handed out twice, or documents sharing what must be unique.
    duplicates: Option<usize>,
    /// Holes in a numbering that should be contiguous.
    missing: Option<usize>,
    /// Requests whose data did not end up stored (messages, results, tickets).
    lost: Option<usize>,
    notes: Vec<String>,
    first_error: Option<String>,
    seconds: f64,
}

impl Row {
    fn failures(&self) -> usize {
        self.e11000
            + self.other
            + self.duplicates.unwrap_or(0)
            + self.missing.unwrap_or(0)
            + self.lost.unwrap_or(0)
    }

    fn count(&mut self, outcomes: &[Outcome]) {
        self.ops = outcomes.len();
        for o in outcomes {
            match o {
                Outcome::Ok => self.ok += 1,
                Outcome::DuplicateKey => self.e11000 += 1,
                Outcome::Failed(m) => {
                    self.other += 1;
                    self.first_error.get_or_insert_with(|| m.clone());
                }
            }
        }
    }
}

struct Run {
    client: Client,
    tasks: usize,
    ops: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut uri = std::env::var("DUPKEY_TEST_URI").ok();
    let (mut tasks, mut ops) = (64, 8);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tasks" => tasks = args.next().ok_or("--tasks needs a value")?.parse()?,
            "--ops" => ops = args.next().ok_or("--ops needs a value")?.parse()?,
            "-h" | "--help" => {
                println!("usage: seeds_race [URI] [--tasks 64] [--ops 8]");
                return Ok(());
            }
            _ => uri = Some(a),
        }
    }
    let uri = uri.ok_or("give a MongoDB URI as argument or set DUPKEY_TEST_URI")?;
    let client = Client::with_uri_str(&uri).await?;
    let run = Run { client, tasks, ops };
    println!(
        "five seed systems, naive vs dupkey_atomic: {tasks} concurrent tasks x {ops} operations each\n"
    );
    let mut rows: Vec<(&str, &str, Row)> = Vec::new();
    let systems: [(&str, &str); 5] = [
        ("000", "invoice numbers INV/BILL per fiscal year"),
        ("001", "user profile get-or-create"),
        ("002", "ticket numbers TKT-00001"),
        ("003", "quiz result tokens"),
        ("004", "chat conversation create + push"),
    ];
    for (seed, title) in systems {
        for naive in [true, false] {
            let db = run.database(seed, naive).await?;
            let started = Instant::now();
            let mut row = match seed {
                "000" => seed000(&run, &db, naive).await?,
                "001" => seed001(&run, &db, naive).await?,
                "002" => seed002(&run, &db, naive).await?,
                "003" => seed003(&run, &db, naive).await?,
                _ => seed004(&run, &db, naive).await?,
            };
            row.seconds = started.elapsed().as_secs_f64();
            step(|| db.drop().into_future()).await?;
            rows.push((seed, title, row));
        }
    }
    report(&rows)
}

impl Run {
    async fn database(&self, seed: &str, naive: bool) -> Result<Database, BoxError> {
        let name = format!(
            "dupkey_seeds_race_{seed}_{}",
            if naive { "naive" } else { "dupkey" }
        );
        let db = self.client.database(&name);
        step(|| db.drop().into_future()).await?;
        Ok(db)
    }

    /// Runs `op(task, i)` `ops` times in each of `tasks` concurrent tasks.
    async fn race<F, Fut>(&self, op: F) -> Vec<Outcome>
    where
        F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
        Fut: Future<Output = Outcome> + Send,
    {
        let mut handles = Vec::new();
        for t in 0..self.tasks {
            let (op, ops) = (op.clone(), self.ops);
            handles.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(ops);
                for i in 0..ops {
                    out.push(op(t, i).await);
                }
                out
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            match h.await {
                Ok(v) => all.extend(v),
                Err(e) => all.push(Outcome::Failed(format!("task panicked: {e}"))),
            }
        }
        all
    }
}

fn report(rows: &[(&str, &str, Row)]) -> Result<(), BoxError> {
    let opt = |v: Option<usize>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
    println!(
        "{:<4} {:<41} {:<7} {:>5} {:>5} {:>7} {:>6} {:>6} {:>8} {:>6} {:>6}",
        "seed",
        "system",
        "version",
        "ops",
        "ok",
        "E11000",
        "other",
        "dupes",
        "missing",
        "lost",
        "secs"
    );
    let mut verdict_ok = true;
    for (seed, title, row) in rows {
        let naive = rows
            .iter()
            .filter(|(s, _, _)| s == seed)
            .position(|(_, _, r)| std::ptr::eq(r, row))
            == Some(0);
        let version = if naive { "naive" } else { "dupkey" };
        println!(
            "{:<4} {:<41} {:<7} {:>5} {:>5} {:>7} {:>6} {:>6} {:>8} {:>6} {:>6.1}",
            seed,
            title,
            version,
            row.ops,
            row.ok,
            row.e11000,
            row.other,
            opt(row.duplicates),
            opt(row.missing),
            opt(row.lost),
            row.seconds
        );
        for note in &row.notes {
            println!("{:<4} {:<41} {:<7}   {note}", "", "", "");
        }
        if let Some(e) = &row.first_error {
            let short: String = e.chars().take(110).collect();
            println!(
                "{:<4} {:<41} {:<7}   first other error: {short}",
                "", "", ""
            );
        }
        if naive && row.failures() == 0 {
            println!("     !! the naive version did not show its bug this run");
            verdict_ok = false;
        }
        if !naive && row.failures() > 0 {
            println!("     !! the dupkey version failed");
            verdict_ok = false;
        }
    }
    println!();
    if verdict_ok {
        println!(
            "verdict: every naive version failed; every dupkey version had 0 E11000, 0 other \
             errors, 0 duplicate or missing numbers, 0 lost writes"
        );
        Ok(())
    } else {
        Err("verdict: see the !! lines above".into())
    }
}

async fn unique(coll: &Collection<Document>, keys: Document, sparse: bool) -> Result<(), BoxError> {
    let options = IndexOptions::builder()
        .unique(true)
        .sparse(sparse.then_some(true))
        .build();
    let model = IndexModel::builder().keys(keys).options(options).build();
    step(|| coll.create_index(model.clone()).into_future()).await?;
    Ok(())
}

async fn all(coll: &Collection<Document>) -> Result<Vec<Document>, BoxError> {
    step(|| async { coll.find(doc! {}).await?.try_collect().await }).await
}

/// A harness step (dropping, indexing, reading back), retried once after a transient error as
/// the library's own writes are: a slow server that clears the connection pool now and then
/// must not end the run. Every step is safe to repeat.
async fn step<T, F, Fut>(mut f: F) -> Result<T, BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, mongodb::error::Error>>,
{
    match f().await {
        Err(e) if dupkey_atomic::is_retryable_write_error(&e) => Ok(f().await?),
        other => Ok(other?),
    }
}

/// Holes in 1..=max per series, and numbers stored twice.
fn gaps_and_dupes(numbers: &BTreeMap<String, Vec<i64>>) -> (usize, usize) {
    let (mut missing, mut dupes) = (0, 0);
    for values in numbers.values() {
        let mut v = values.clone();
        v.sort_unstable();
        let len = v.len();
        v.dedup();
        dupes += len - v.len();
        if let Some(max) = v.last() {
            missing += usize::try_from(*max).unwrap_or(0).saturating_sub(v.len());
        }
    }
    (missing, dupes)
}

fn fiscal_label(date: Date) -> String {
    let y = date.fiscal_year_start(4);
    format!("{y}-{:02}", (y + 1) % 100)
}

// ----------------------------------------------------------------------------------------
// Seed 000: invoice and bill numbers INV/2025-26/000001. The counters collection still has
// mongoose-sequence's unique index { id: 1, reference_value: 1 }; the team's "fix" added a
// sparse unique { type, year } and a findOneAndUpdate upsert retried 3 times with backoff.
// The fiscal year comes from the clock.
// ----------------------------------------------------------------------------------------

async fn seed000(run: &Run, db: &Database, naive: bool) -> Result<Row, BoxError> {
    let counters: Collection<Document> = db.collection("counters");
    let invoices: Collection<Document> = db.collection("invoices");
    unique(&counters, doc! { "id": 1, "reference_value": 1 }, false).await?;
    unique(&invoices, doc! { "invoiceNo": 1 }, false).await?;
    // Invoices dated on both sides of the fiscal-year start.
    let dates = ["2026-03-31", "2026-04-01"];
    let mut row = Row::default();
    let outcomes = if naive {
        unique(&counters, doc! { "type": 1, "year": 1 }, true).await?;
        let clock_fy = fiscal_label(Date::today_utc());
        let (counters, invoices) = (counters.clone(), invoices.clone());
        run.race(move |t, i| {
            let (counters, invoices, fy) = (counters.clone(), invoices.clone(), clock_fy.clone());
            async move {
                let series = if (t + i) % 2 == 0 { "INV" } else { "BILL" };
                let date = dates[(t / 2 + i) % 2];
                let seq = match get_next_sequence(&counters, series, &fy).await {
                    Ok(seq) => seq,
                    Err(o) => return o,
                };
                let number = format!("{series}/{fy}/{seq:06}");
                let invoice = doc! { "series": series, "invoiceNo": number, "issuedAt": date };
                match invoices.insert_one(invoice).await {
                    Ok(_) => Outcome::Ok,
                    Err(e) => (&e).into(),
                }
            }
        })
        .await
    } else {
        // The stale index would reject every counter after the first: dupkey names it, and
        // the migration (`dupkey fix`) drops it.
        let probe = Sequence::builder(db, "invoice").build()?;
        for trap in probe.check_counter_indexes().await? {
            row.notes.push(format!(
                "stale counters index {} found and dropped before numbering",
                trap.name
            ));
            step(|| counters.drop_index(&trap.name).into_future()).await?;
        }
        let build = |name: &str, prefix: &str| {
            Sequence::builder(db, name)
                .format(format!("{prefix}/{{fy}}/{{seq:06}}"))
                .fiscal_year_starts_in(4)
                .date_field("issuedAt")
                .gapless(true)
                .build()
        };
        let (inv, bill) = (build("invoice", "INV")?, build("bill", "BILL")?);
        let invoices = invoices.clone();
        run.race(move |t, i| {
            let (inv, bill, invoices) = (inv.clone(), bill.clone(), invoices.clone());
            async move {
                let (series, seq) = if (t + i) % 2 == 0 {
                    ("INV", inv)
                } else {
                    ("BILL", bill)
                };
                let date = dates[(t / 2 + i) % 2];
                let invoice = doc! { "series": series, "issuedAt": date };
                match seq.insert_numbered(&invoices, "invoiceNo", invoice).await {
                    Ok(_) => Outcome::Ok,
                    Err(e) => (&e).into(),
                }
            }
        })
        .await
    };
    row.count(&outcomes);
    // Numbering per series and fiscal year, and invoices numbered in the wrong fiscal year.
    let mut numbers: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut wrong_year = 0;
    for d in all(&invoices).await? {
        let no = d.get_str("invoiceNo")?;
        let (prefix, n) = no.rsplit_once('/').ok_or("bad number")?;
        numbers
            .entry(prefix.to_string())
            .or_default()
            .push(n.parse()?);
        let date = Date::parse_iso(d.get_str("issuedAt")?)?;
        if !no.contains(&format!("/{}/", fiscal_label(date))) {
            wrong_year += 1;
        }
    }
    let (missing, dupes) = gaps_and_dupes(&numbers);
    row.missing = Some(missing);
    row.duplicates = Some(dupes);
    row.lost = Some(row.ops - row.ok);
    let series: Vec<String> = numbers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.len()))
        .collect();
    row.notes
        .push(format!("stored per series: {}", series.join(", ")));
    if wrong_year > 0 {
        row.other += wrong_year;
        row.notes.push(format!(
            "{wrong_year} invoices numbered in the clock's fiscal year, not their own (counted under other)"
        ));
    }
    Ok(row)
}

/// Seed 000's `getNextSequence`, as written.
async fn get_next_sequence(
    counters: &Collection<Document>,
    series: &str,
    fy: &str,
) -> Result<i64, Outcome> {
    for attempt in 0..3u64 {
        let r = counters
            .find_one_and_update(
                doc! { "type": series, "year": fy },
                doc! { "$inc": { "seq": 1 } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match r {
            Ok(Some(c)) => {
                return match c.get("seq") {
                    Some(Bson::Int32(n)) => Ok(i64::from(*n)),
                    Some(Bson::Int64(n)) => Ok(*n),
                    _ => Err(Outcome::Failed("counter.seq is not a number".into())),
                };
            }
            // `counter.seq` on null: a TypeError in the original.
            Ok(None) => {
                return Err(Outcome::Failed(
                    "TypeError: Cannot read properties of null (reading 'seq')".into(),
                ));
            }
            Err(e) if e.duplicate_key().is_some() && attempt < 2 => {
                tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
            }
            Err(e) => return Err((&e).into()),
        }
    }
    Err(Outcome::Failed("retries exhausted".into()))
}

// ----------------------------------------------------------------------------------------
// Seed 001: GET /api/profile finds the profile by email and creates it (unique userId) when
// missing. Several tabs of the same user race.
// ----------------------------------------------------------------------------------------

async fn seed001(run: &Run, db: &Database, naive: bool) -> Result<Row, BoxError> {
    let profiles: Collection<Document> = db.collection("userprofiles");
    unique(&profiles, doc! { "userId": 1 }, false).await?;
    // 8 users at a time, each asked for by a group of tasks at once.
    let groups = 8;
    let user_of = move |t: usize, i: usize| (i * groups + t % groups) as i64;
    let p = profiles.clone();
    let outcomes = run
        .race(move |t, i| {
            let profiles = p.clone();
            async move {
                let user = user_of(t, i);
                let email = format!("user{user}@example.com");
                let fields = doc! { "email": &email, "name": format!("User {user}"), "onboardingCompleted": false };
                if naive {
                    match profiles.find_one(doc! { "email": &email }).await {
                        Ok(Some(_)) => return Outcome::Ok,
                        Ok(None) => {}
                        Err(e) => return (&e).into(),
                    }
                    let mut profile = doc! { "userId": user };
                    profile.extend(fields);
                    match profiles.insert_one(profile).await {
                        Ok(_) => Outcome::Ok,
                        Err(e) => (&e).into(), // GET /api/profile 500
                    }
                } else {
                    match get_or_create(&profiles, doc! { "userId": user }, fields).await {
                        Ok(_) => Outcome::Ok,
                        Err(e) => (&e).into(),
                    }
                }
            }
        })
        .await;
    let mut row = Row::default();
    row.count(&outcomes);
    let mut per_user: HashMap<i64, usize> = HashMap::new();
    for d in all(&profiles).await? {
        *per_user.entry(d.get_i64("userId")?).or_default() += 1;
    }
    let users = (0..run.tasks)
        .flat_map(|t| (0..run.ops).map(move |i| user_of(t, i)))
        .collect::<std::collections::HashSet<_>>()
        .len();
    row.duplicates = Some(per_user.values().map(|n| n - 1).sum());
    row.missing = Some(users - per_user.len());
    row.lost = Some(row.ops - row.ok);
    row.notes
        .push(format!("{} profiles for {users} users", per_user.len()));
    Ok(row)
}

// ----------------------------------------------------------------------------------------
// Seed 002: ticket numbers generated in two places — the route (`countDocuments() + 1`) and
// the pre-save hook (count + random suffix, a findOne uniqueness check, 5 attempts, then a
// timestamp fallback). 20 tickets were imported with their numbers before.
// ----------------------------------------------------------------------------------------

async fn seed002(run: &Run, db: &Database, naive: bool) -> Result<Row, BoxError> {
    let tickets: Collection<Document> = db.collection("tickets");
    unique(&tickets, doc! { "ticket_number": 1 }, false).await?;
    let imported: Vec<Document> = (1..=20)
        .map(|i| doc! { "ticket_number": format!("TKT-{i:05}"), "imported": true })
        .collect();
    tickets.insert_many(imported).await?;
    let handed_out: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut row = Row::default();
    let outcomes = if naive {
        let (tickets, handed) = (tickets.clone(), handed_out.clone());
        run.race(move |_, i| {
            let (tickets, handed) = (tickets.clone(), handed.clone());
            async move {
                let number = if i % 2 == 0 {
                    route_number(&tickets).await
                } else {
                    hook_number(&tickets).await
                };
                let number = match number {
                    Ok(n) => n,
                    Err(e) => return (&e).into(),
                };
                if let Ok(mut h) = handed.lock() {
                    *h.entry(number.clone()).or_default() += 1;
                }
                match tickets.insert_one(doc! { "ticket_number": number }).await {
                    Ok(_) => Outcome::Ok,
                    Err(e) => (&e).into(),
                }
            }
        })
        .await
    } else {
        let seq = Sequence::builder(db, "ticket")
            .format("TKT-{seq:05}")
            .self_heal(5)
            .build()?;
        let (tickets, handed) = (tickets.clone(), handed_out.clone());
        run.race(move |t, i| {
            let (seq, tickets, handed) = (seq.clone(), tickets.clone(), handed.clone());
            async move {
                let ticket = doc! { "subject": format!("help {t}/{i}") };
                match seq.insert_numbered(&tickets, "ticket_number", ticket).await {
                    Ok(n) => {
                        if let Ok(mut h) = handed.lock() {
                            *h.entry(n.number.text).or_default() += 1;
                        }
                        Outcome::Ok
                    }
                    Err(e) => (&e).into(),
                }
            }
        })
        .await
    };
    row.count(&outcomes);
    let handed = handed_out.lock().map(|h| h.clone()).unwrap_or_default();
    row.duplicates = Some(handed.values().map(|n| n - 1).sum());
    let mut sequential = BTreeMap::new();
    let mut fallbacks = 0;
    for d in all(&tickets).await? {
        let n = d.get_str("ticket_number")?;
        match n.strip_prefix("TKT-").map(str::parse::<i64>) {
            Some(Ok(v)) if n.len() == 9 => sequential
                .entry("TKT".to_string())
                .or_insert_with(Vec::new)
                .push(v),
            _ => fallbacks += 1,
        }
    }
    let (missing, _) = gaps_and_dupes(&sequential);
    row.missing = Some(missing + fallbacks);
    row.lost = Some(row.ops - row.ok);
    if fallbacks > 0 {
        row.notes.push(format!(
            "{fallbacks} tickets got a timestamp number instead of a sequential one (counted as missing)"
        ));
    }
    if !naive {
        row.notes.push(
            "counter created behind the 20 imported tickets; self-healing raised it".to_string(),
        );
    }
    Ok(row)
}

/// The route handler's number: `countDocuments() + 1`.
async fn route_number(tickets: &Collection<Document>) -> Result<String, mongodb::error::Error> {
    let count = tickets.count_documents(doc! {}).await?;
    Ok(format!("TKT-{:05}", count + 1))
}

/// The pre-save hook's number, as the seed's "improved" hook makes it.
async fn hook_number(tickets: &Collection<Document>) -> Result<String, mongodb::error::Error> {
    for _ in 0..5 {
        let count = tickets.count_documents(doc! {}).await?;
        let candidate = format!("TKT-{:05}", count + 1 + rand::random_range(0..100));
        if tickets
            .find_one(doc! { "ticket_number": &candidate })
            .await?
            .is_none()
        {
            return Ok(candidate);
        }
    }
    Ok(format!("TKT-{}", bson::DateTime::now().timestamp_millis()))
}

// ----------------------------------------------------------------------------------------
// Seed 003: quiz results with a unique resultToken. One code path (a quick submit) forgot to
// set the token; the others used a timestamp plus a small random number. The team's fix
// retried 3 times on a duplicate key.
// ----------------------------------------------------------------------------------------

async fn seed003(run: &Run, db: &Database, naive: bool) -> Result<Row, BoxError> {
    let results: Collection<Document> = db.collection("divorce_conflict_results");
    unique(&results, doc! { "resultToken": 1 }, false).await?;
    let r = results.clone();
    let outcomes = run
        .race(move |t, i| {
            let results = r.clone();
            async move {
                let result = doc! { "attemptId": format!("{t}-{i}"), "score": (t * i % 40) as i32 };
                if naive {
                    let mut last = Outcome::Ok;
                    for _ in 0..3 {
                        let token = if i % 8 == 0 {
                            Bson::Null // the quick-submit path never set it
                        } else {
                            let now = bson::DateTime::now().timestamp_millis();
                            Bson::String(format!("{now}{:02}", rand::random_range(0..100)))
                        };
                        let mut doc = result.clone();
                        doc.insert("resultToken", token);
                        match results.insert_one(doc).await {
                            Ok(_) => return Outcome::Ok,
                            Err(e) => last = (&e).into(),
                        }
                    }
                    last
                } else {
                    match dupkey_atomic::insert_with_unique(
                        &results,
                        result,
                        "resultToken",
                        &Token::base62(16),
                    )
                    .await
                    {
                        Ok(_) => Outcome::Ok,
                        Err(e) => (&e).into(),
                    }
                }
            }
        })
        .await;
    let mut row = Row::default();
    row.count(&outcomes);
    let stored = all(&results).await?;
    let nulls = stored
        .iter()
        .filter(|d| matches!(d.get("resultToken"), None | Some(Bson::Null)))
        .count();
    row.lost = Some(row.ops - stored.len());
    if nulls > 0 {
        row.notes.push(format!(
            "{nulls} result stored with a null token: the unique index now rejects every later null"
        ));
    }
    Ok(row)
}

// ----------------------------------------------------------------------------------------
// Seed 004: text messages for a chat session: findOne({sessionId}); create the conversation
// when missing, else push. Messages of the same new session race.
// ----------------------------------------------------------------------------------------

async fn seed004(run: &Run, db: &Database, naive: bool) -> Result<Row, BoxError> {
    let conversations: Collection<Document> = db.collection("conversations");
    unique(&conversations, doc! { "sessionId": 1 }, false).await?;
    let c = conversations.clone();
    let outcomes = run
        .race(move |t, i| {
            let conversations = c.clone();
            async move {
                let session = format!("session-{i}"); // every task talks in session i now
                let user = doc! { "role": "user", "text": format!("message {t}/{i}") };
                let bot = doc! { "role": "bot", "text": format!("reply {t}/{i}") };
                if naive {
                    let found = match conversations.find_one(doc! { "sessionId": &session }).await {
                        Ok(f) => f,
                        Err(e) => return (&e).into(),
                    };
                    let r = match found {
                        None => conversations
                            .insert_one(doc! {
                                "sessionId": &session,
                                "language": "zh-CN",
                                "messages": [user, bot],
                            })
                            .await
                            .map(drop),
                        Some(c) => conversations
                            .update_one(
                                doc! { "_id": c.get("_id").cloned().unwrap_or(Bson::Null) },
                                doc! { "$push": { "messages": { "$each": [user, bot] } } },
                            )
                            .await
                            .map(drop),
                    };
                    match r {
                        Ok(()) => Outcome::Ok,
                        Err(e) => (&e).into(),
                    }
                } else {
                    let update = doc! {
                        "$setOnInsert": { "language": "zh-CN", "createdAt": bson::DateTime::now() },
                        "$push": { "messages": { "$each": [user, bot] } },
                    };
                    match upsert(&conversations, doc! { "sessionId": &session }, update).await {
                        Ok(_) => Outcome::Ok,
                        Err(e) => (&e).into(),
                    }
                }
            }
        })
        .await;
    let mut row = Row::default();
    row.count(&outcomes);
    let stored = all(&conversations).await?;
    let messages: usize = stored
        .iter()
        .map(|c| c.get_array("messages").map_or(0, Vec::len))
        .sum();
    row.duplicates = Some(stored.len().saturating_sub(run.ops));
    row.lost = Some(row.ops * 2 - messages);
    row.notes.push(format!(
        "{} conversations, {messages} of {} messages stored",
        stored.len(),
        row.ops * 2
    ));
    Ok(row)
}
