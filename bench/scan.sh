#!/usr/bin/env bash
# End-to-end benchmark of `dupkey scan`: builds (once, cached in bench/out) a mongodump
# directory of DOCS documents (default 5,000,000, ~1.5 GB) in two databases: `app` with an
# orders collection of 56% of them, users (20%), invoices, sessions, tickets, profiles,
# payments, counters and sequences, with one planted hazard per rule DK101-DK205; `shop`, small
# collections that are clean (and `app.orders`, the biggest, is clean too). Then times, in
# the same run, on a warm page cache:
#   raw_walk_dump  the same reader touching every top-level element of every document
#                  zero-copy, one thread (the floor)
#   dupkey scan    the whole scan, `--format json`
#   python         what a user writes for the same checks: pymongo's BSON decoder and dicts
# and prints both ratios and scan's peak memory. RUNS rounds (default 3) each run the raw walk
# and scan once, interleaved, and each one's best time counts; Python runs once. Targets:
# scan <= 1.5x raw_walk_dump, >= 20x faster than python, peak RSS < 512 MiB (bench/harness.py
# times them; DUPKEY_BASELINE=<older dupkey> adds an older binary to every round). Finally it
# checks scan's report (from its fastest round): each
# planted hazard's code on its namespace with its count, nothing on the clean collections
# (exit 1 when not).
#   bench/scan.sh [DOCS]
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS="${1:-5000000}"
OUT="${BENCH_DIR:-bench/out}"
mkdir -p "$OUT"
source scripts/test-server.sh
ensure_test_server_venv
# The generator's version is in the name: change the data, bump it.
DUMP="$OUT/scan-v2-$DOCS"
EXPECTED="$DUMP.expected.json"
cargo build --release -q -p dupkey --bin dupkey --example raw_walk_dump

if [ ! -e "$DUMP/.complete" ]; then
  rm -rf "$DUMP"
  echo "generating $DUMP ($DOCS documents)..."; GEN_START=$SECONDS
  "$VENV/bin/python" - "$DUMP" "$DOCS" "$EXPECTED" <<'PY'
# Documents are built as dicts and encoded with pymongo's C encoder, in chunks spread over
# the cores; the main process writes the chunks in order. Everything is derived from the
# document's position (and a per-chunk seeded RNG), so a dump is the same on every machine.
import hashlib, json, os, struct, sys, zlib
from multiprocessing import Pool
from random import Random

import bson
from bson import ObjectId, json_util
from bson.datetime_ms import DatetimeMS

out, N, expected_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if N < 20_000:
    sys.exit("DOCS must be at least 20000")

SIZES = {
    "app.orders": int(N * 0.56), "app.users": int(N * 0.20), "app.invoices": int(N * 0.10),
    "app.sessions": int(N * 0.05), "app.tickets": int(N * 0.04), "app.profiles": int(N * 0.02),
    "app.payments": int(N * 0.02), "shop.customers": int(N * 0.006),
    "shop.products": int(N * 0.003), "shop.carts": int(N * 0.001),
}
N_USERS, N_ORDERS = SIZES["app.users"], SIZES["app.orders"]
T0 = 1_735_689_600  # 2025-01-01, seconds

def oid(kind, i):
    """A real-looking, unique ObjectId: a timestamp, the collection, the position."""
    return ObjectId(struct.pack(">IB3xI", T0 + i // 50, kind, i))

def date(i, rnd, spread=86_400):
    return DatetimeMS((T0 + i // 50 + rnd.randrange(spread)) * 1000)

def spread(n, k, salt):
    """k positions spread evenly over 2..n-3, none adjacent to another, none at the ends."""
    step = (n - 6) // k
    assert step >= 4, (n, k)
    return [3 + j * step + salt % (step - 2) for j in range(k)]

# Planted hazards, by position in their collection. The dump is what a server could hold:
# every unique index holds, so a null key appears at most once per index (the next one is
# what fails); the hazards are the states one E11000 away.
USERS_CASE = set(spread(N_USERS, 50, 17))          # DK203: email of the user before, capitalised
USERS_NO_CODE = N_USERS // 3 * 2 + 1               # DK101: the one user without referralCode
assert USERS_NO_CODE not in USERS_CASE | {p - 1 for p in USERS_CASE}
PROFILES_HEX = set(spread(SIZES["app.profiles"], 40, 7))   # DK204: userId as a hex string
TICKETS_DRAFT = set(spread(SIZES["app.tickets"], 100, 3))  # no ticket_number (fine: sparse)
TICKETS_NULL = SIZES["app.tickets"] // 2 + 1               # DK102: ticket_number: null
assert TICKETS_NULL not in TICKETS_DRAFT
SESSIONS_CLEARED = set(spread(SIZES["app.sessions"], 200, 1))  # no token (fine)
SESSIONS_NULL = SIZES["app.sessions"] // 3 + 1                 # DK103: token: null
assert SESSIONS_NULL not in SESSIONS_CLEARED
N_INV = SIZES["app.invoices"]
INV_OLD = int(N_INV * 0.4)                          # INV/2024-25/ before, INV/2025-26/ after
INV_REISSUED = set(INV_OLD + p for p in spread(N_INV - INV_OLD, 20, 9))  # DK201
COUNTER_LAG = 137                                   # DK202: the 2025-26 counter is behind
CARTS_GUEST = set(spread(SIZES["shop.carts"], 10, 2))

STATUS = ["pending", "paid", "shipped", "delivered", "refunded"]
CITIES = ["Berlin", "Hamburg", "Munich", "Cologne", "Lyon", "Porto", "Turin", "Ghent"]
WORDS = ("order arrived late missing item refund please check invoice address wrong "
         "package damaged thanks support question account login password reset").split()
COLORS = ["BLK", "WHT", "RED", "BLU", "GRN"]
CATEGORIES = ["books", "garden", "kitchen", "toys", "tools", "sports"]

def text(rnd, words):
    return " ".join(rnd.choice(WORDS) for _ in range(words))

def order(i, rnd):
    items = [{"sku": "P%05d-%s" % (rnd.randrange(30_000), rnd.choice(COLORS)),
              "qty": rnd.randrange(1, 4), "price": rnd.randrange(199, 9999) / 100}
             for _ in range(rnd.randrange(1, 4))]
    return {"_id": oid(1, i), "orderNumber": "ORD-%08d" % (i + 1),
            "customerId": oid(2, rnd.randrange(N_USERS)), "status": rnd.choice(STATUS),
            "currency": "EUR", "items": items,
            "total": round(sum(x["qty"] * x["price"] for x in items), 2),
            "shipping": {"street": "%s street %d" % (rnd.choice(WORDS), rnd.randrange(1, 200)),
                         "city": rnd.choice(CITIES), "zip": "%05d" % rnd.randrange(100_000),
                         "country": "DE"},
            "createdAt": date(i, rnd), "updatedAt": date(i, rnd, 10 * 86_400)}

def referral_code(i):
    n, s = (i * 2_654_435_761) % (1 << 40), ""
    while n:
        n, r = divmod(n, 36)
        s += "0123456789abcdefghijklmnopqrstuvwxyz"[r]
    return "rc_" + s

def user(i, rnd):
    email = "user%07d@example.com" % i
    if i in USERS_CASE:
        email = "User%07d@Example.COM" % (i - 1)
    d = {"_id": oid(2, i), "email": email, "name": "%s %d" % (rnd.choice(CITIES), i),
         "referralCode": referral_code(i), "plan": rnd.choice(["free", "free", "pro", "team"]),
         "roles": ["customer"] if i % 97 else ["customer", "admin"],
         "address": {"city": rnd.choice(CITIES), "zip": "%05d" % rnd.randrange(100_000)},
         "marketingOptIn": rnd.random() < 0.3, "createdAt": date(i, rnd),
         "lastLoginAt": date(i, rnd, 90 * 86_400)}
    if i == USERS_NO_CODE:
        del d["referralCode"]
    return d

def profile(i, rnd):
    uid = oid(2, i)
    if i in PROFILES_HEX:
        uid = str(oid(2, i - 1))  # the same user as the profile before, as a string
    return {"_id": oid(3, i), "userId": uid, "displayName": "%s %d" % (rnd.choice(CITIES), i),
            "bio": text(rnd, rnd.randrange(5, 15)),
            "avatarUrl": "https://cdn.example.com/avatars/%x.png" % i,
            "preferences": {"theme": rnd.choice(["light", "dark"]), "language": "en",
                            "notifications": {"email": True, "sms": rnd.random() < 0.1}},
            "updatedAt": date(i, rnd)}

def ticket(i, rnd):
    d = {"_id": oid(4, i), "ticket_number": "TKT-%07d" % (i + 1),
         "subject": text(rnd, 4), "status": rnd.choice(["open", "pending", "closed"]),
         "priority": rnd.randrange(1, 5), "requesterId": oid(2, rnd.randrange(N_USERS // 50)),
         "assignee": "agent%02d" % rnd.randrange(40), "tags": rnd.sample(WORDS, 2),
         "messages": [{"from": rnd.choice(["customer", "agent"]), "body": text(rnd, 12),
                       "at": date(i, rnd)} for _ in range(rnd.randrange(1, 4))],
         "createdAt": date(i, rnd)}
    if i in TICKETS_DRAFT:
        del d["ticket_number"]
    elif i == TICKETS_NULL:
        d["ticket_number"] = None
    return d

def session(i, rnd):
    d = {"_id": oid(5, i), "token": "%040x" % rnd.getrandbits(160),
         "userId": oid(2, rnd.randrange(N_USERS // 20)),
         "userAgent": rnd.choice(["Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (iPhone)",
                                  "okhttp/4.12"]),
         "ip": "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)),
         "createdAt": date(i, rnd), "expiresAt": date(i + 30 * 86_400 * 50, rnd)}
    if i in SESSIONS_CLEARED:
        del d["token"]
    elif i == SESSIONS_NULL:
        d["token"] = None
    return d

def payment(i, rnd):
    return {"_id": oid(6, i),
            "paymentIntentId": "pi_" + "".join(rnd.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", k=24)),
            "orderId": oid(1, rnd.randrange(max(SIZES["app.payments"] // 3, 1))),
            "amount": rnd.randrange(500, 50_000) / 100, "currency": "EUR",
            "status": rnd.choice(["succeeded", "succeeded", "succeeded", "failed"]),
            "method": {"type": "card", "brand": rnd.choice(["visa", "mc"]), "last4": "4242"},
            "createdAt": date(i, rnd)}

def invoice_number(i):
    if i < INV_OLD:
        return "INV/2024-25/%07d" % (i + 1)
    if i in INV_REISSUED:
        i -= 1  # issued twice: the number of the invoice before
    return "INV/2025-26/%07d" % (i - INV_OLD + 1)

def invoice(i, rnd):
    lines = [{"description": text(rnd, 3), "qty": rnd.randrange(1, 5),
              "unitPrice": rnd.randrange(100, 20_000) / 100} for _ in range(rnd.randrange(1, 4))]
    return {"_id": oid(7, i), "invoiceNo": invoice_number(i),
            "customerId": oid(2, rnd.randrange(N_USERS // 10)), "lines": lines,
            "amount": round(sum(x["qty"] * x["unitPrice"] for x in lines), 2),
            "currency": "EUR", "status": rnd.choice(["open", "paid", "paid", "void"]),
            "issuedAt": date(i, rnd), "dueAt": date(i + 30 * 86_400 * 50, rnd)}

def customer(i, rnd):
    d = {"_id": oid(8, i), "customerNo": "C-%07d" % (i + 1),
         "email": "buyer%07d@mail.example" % i, "name": "%s %d" % (rnd.choice(CITIES), i),
         "createdAt": date(i, rnd)}
    if i % 40 == 5:
        del d["email"]  # guest checkout: the partial filter leaves it out
    return d

def product(i, rnd):
    return {"_id": oid(9, i), "productNo": i + 1,
            "sku": "P%05d-%s" % (i, COLORS[i % 5]), "name": text(rnd, 3),
            "category": rnd.choice(CATEGORIES), "price": rnd.randrange(199, 9999) / 100,
            "stock": rnd.randrange(0, 500), "tags": rnd.sample(WORDS, 3)}

def cart(i, rnd):
    d = {"_id": oid(10, i), "token": "%032x" % rnd.getrandbits(128),
         "customerId": oid(8, rnd.randrange(max(SIZES["shop.carts"] // 4, 1))),
         "items": [{"productNo": rnd.randrange(1, SIZES["shop.products"] + 1), "qty": 1}],
         "updatedAt": date(i, rnd)}
    if i in CARTS_GUEST:
        del d["token"]  # sparse: left out
    return d

MAKERS = {"app.orders": order, "app.users": user, "app.profiles": profile,
          "app.tickets": ticket, "app.sessions": session, "app.payments": payment,
          "app.invoices": invoice, "shop.customers": customer, "shop.products": product,
          "shop.carts": cart}

def chunk(task):
    ns, start, end = task
    make, rnd = MAKERS[ns], Random(zlib.crc32(f"{ns}:{start}".encode()))
    return b"".join([bson.encode(make(i, rnd)) for i in range(start, end)])

def ix(key, name, **options):
    return {"v": 2, "key": key, "name": name, **options}

COLLATION_EN_2 = {"locale": "en", "caseLevel": False, "caseFirst": "off", "strength": 2,
                  "numericOrdering": False, "alternate": "non-ignorable",
                  "maxVariable": "punct", "normalization": False, "backwards": False,
                  "version": "57.1"}
INDEXES = {
    "app.orders": [ix({"orderNumber": 1}, "orderNumber_1", unique=True),
                   ix({"customerId": 1}, "customerId_1"),
                   ix({"status": 1, "createdAt": -1}, "status_1_createdAt_-1")],
    "app.users": [ix({"email": 1}, "email_1", unique=True),
                  ix({"referralCode": 1}, "referralCode_1", unique=True),
                  ix({"createdAt": 1}, "createdAt_1")],
    "app.profiles": [ix({"userId": 1}, "userId_1", unique=True)],
    "app.tickets": [ix({"ticket_number": 1}, "ticket_number_1", unique=True, sparse=True,
                       background=True),
                    ix({"status": 1, "priority": -1}, "status_1_priority_-1")],
    "app.sessions": [ix({"token": 1}, "token_1", unique=True,
                        partialFilterExpression={"token": {"$exists": True}}),
                     ix({"userId": 1}, "userId_1"),
                     ix({"expiresAt": 1}, "expiresAt_1", expireAfterSeconds=0)],
    "app.payments": [ix({"orderId": 1}, "orderId_1")],
    "app.invoices": [ix({"invoiceNo": 1}, "invoiceNo_1"), ix({"customerId": 1}, "customerId_1")],
    "app.counters": [],
    "app.sequences": [ix({"id": 1, "reference_value": 1}, "id_1_reference_value_1",
                         unique=True)],
    "shop.customers": [ix({"customerNo": 1}, "customerNo_1", unique=True),
                       ix({"email": 1}, "email_1", unique=True, collation=COLLATION_EN_2,
                          partialFilterExpression={"email": {"$type": "string"}})],
    "shop.products": [ix({"productNo": 1}, "productNo_1", unique=True),
                      ix({"sku": 1}, "sku_1", unique=True),
                      ix({"category": 1, "price": 1}, "category_1_price_1")],
    "shop.carts": [ix({"token": 1}, "token_1", unique=True, sparse=True),
                   ix({"customerId": 1}, "customerId_1")],
    "shop.counters": [],
}

def write_metadata(ns):
    db, coll = ns.split(".", 1)
    meta = {"options": {}, "indexes": [ix({"_id": 1}, "_id_")] + INDEXES[ns],
            "uuid": hashlib.md5(ns.encode()).hexdigest(), "collectionName": coll,
            "type": "collection"}
    with open(os.path.join(out, db, coll + ".metadata.json"), "w") as f:
        f.write(json_util.dumps(meta, json_options=json_util.CANONICAL_JSON_OPTIONS))

# Counters: all in step with their numbers but the 2025-26 invoice counter (DK202).
# `sequences` keeps the unique index mongoose-sequence left behind; its one document, written
# by the code that replaced the plugin, lacks both fields (DK104: the next one fails).
numbered = set(range(SIZES["app.tickets"])) - TICKETS_DRAFT - {TICKETS_NULL}
ticket_max = max(numbered) + 1
COUNTERS = {
    "app.counters": [
        {"_id": "order", "seq": N_ORDERS},
        {"_id": "ticket", "seq": ticket_max},
        {"_id": "invoice-2024-25", "type": "invoice", "year": "2024-25", "seq": INV_OLD},
        {"_id": "invoice-2025-26", "type": "invoice", "year": "2025-26",
         "seq": N_INV - INV_OLD - COUNTER_LAG},
    ],
    "app.sequences": [{"_id": ObjectId(struct.pack(">I8x", T0)), "type": "export",
                       "year": "2025-26", "seq": 12}],
    "shop.counters": [{"_id": "customer", "seq": SIZES["shop.customers"]},
                      {"_id": "product", "seq": SIZES["shop.products"]}],
}

for db in ("app", "shop"):
    os.makedirs(os.path.join(out, db), exist_ok=True)
for ns in list(MAKERS) + list(COUNTERS):
    write_metadata(ns)
for ns, docs in COUNTERS.items():
    db, coll = ns.split(".", 1)
    with open(os.path.join(out, db, coll + ".bson"), "wb") as f:
        f.write(b"".join(bson.encode(d) for d in docs))
CHUNK = 20_000
with Pool(os.cpu_count()) as pool:
    for ns in MAKERS:
        db, coll = ns.split(".", 1)
        tasks = [(ns, s, min(s + CHUNK, SIZES[ns])) for s in range(0, SIZES[ns], CHUNK)]
        with open(os.path.join(out, db, coll + ".bson"), "wb") as f:
            for data in pool.imap(chunk, tasks):
                f.write(data)

# What scan must report: (namespace, code) -> count. Every other namespace: nothing.
expected = {
    "app.users DK101": 1,
    "app.users DK203": 2 * len(USERS_CASE),
    "app.profiles DK204": 2 * len(PROFILES_HEX),
    "app.tickets DK102": 1,
    "app.sessions DK103": 1,
    "app.sequences DK104": 1,
    "app.counters DK202": COUNTER_LAG,
    "app.invoices DK201": 2 * len(INV_REISSUED),
    "app.payments DK205": SIZES["app.payments"],
}
clean = sorted((set(MAKERS) | set(COUNTERS)) - {k.split()[0] for k in expected})
with open(expected_path, "w") as f:
    json.dump({"documents": sum(SIZES.values()) + sum(map(len, COUNTERS.values())),
               "findings": expected, "clean": clean}, f, indent=1)
open(os.path.join(out, ".complete"), "w").close()
PY
  echo "generated in $((SECONDS - GEN_START)) s"
fi

# The script a user writes for the same checks, as readable code: no tricks, one process.
cat > "$OUT/scan_user_script.py" <<'PY'
"""Duplicate-key hazards in a mongodump directory, the way one writes it by hand."""
import collections, json, os, re, sys

import bson
from bson import ObjectId, json_util

ID_WORDS = {"id", "uuid", "guid", "number", "no", "num", "nr", "code", "token", "key",
            "session", "slug", "email", "username", "handle", "sku", "serial", "ref",
            "reference", "hash", "barcode", "isbn", "iban"}
TRAILING_NUMBER = re.compile(r"^(\S*?)(\d{1,18})$")
MISSING = object()


def last_word(field):
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", field)
    return words[-1].lower() if words else ""


def matches(doc, filt):
    """Enough of a partial filter: equality, $exists, $type, $gt/$gte/$lt/$lte."""
    for field, cond in filt.items():
        value = doc.get(field, MISSING)
        if not isinstance(cond, dict):
            if value != cond:
                return False
            continue
        for op, arg in cond.items():
            if op == "$exists" and (value is not MISSING) != bool(arg):
                return False
            if op == "$type" and (value is MISSING or value is None or
                                  {"string": str, "objectId": ObjectId}.get(arg, object) is not type(value)):
                return False
            if op in ("$gt", "$gte", "$lt", "$lte"):
                if value is MISSING or value is None:
                    return False
    return True


def fold(value):
    """One value under several types: 42 and "42", an ObjectId and its hex string."""
    if isinstance(value, ObjectId):
        return "o:" + str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{24}", value):
        return "o:" + value.lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "n:" + str(value)
    if isinstance(value, str) and re.fullmatch(r"-?(0|[1-9]\d*)(\.\d*[1-9])?", value):
        return "n:" + value
    return None


def scan_collection(ns, path, meta, findings, numbers, counters):
    unique = [ix for ix in meta["indexes"] if ix.get("unique") and ix["name"] != "_id_"]
    indexed_fields = {f for ix in meta["indexes"] for f in ix["key"]}
    unique_fields = {f for ix in unique for f in ix["key"]}
    plain = {next(iter(ix["key"])) for ix in meta["indexes"]
             if not ix.get("unique") and len(ix["key"]) == 1}
    counter_coll = "counter" in ns.split(".", 1)[1] or "sequence" in ns.split(".", 1)[1]
    state = []
    for ix in unique:
        state.append({"ix": ix, "fields": list(ix["key"]), "keys": collections.Counter(),
                      "lower": collections.Counter(), "types": {}, "mixed": set(),
                      "null": 0, "explicit_null": 0, "with_value": 0})
    ident_values = collections.defaultdict(list)
    docs = 0
    with open(path, "rb") as f:
        for doc in bson.decode_file_iter(f):
            docs += 1
            for s in state:
                ix, fields = s["ix"], s["fields"]
                key = tuple(doc.get(k) for k in fields)
                present = [k in doc for k in fields]
                if any(v is not None for v in key):
                    s["with_value"] += 1
                if ix.get("sparse") and not any(present):
                    continue
                if "partialFilterExpression" in ix and not matches(doc, ix["partialFilterExpression"]):
                    continue
                if all(v is None for v in key):
                    s["null"] += 1
                if any(p and v is None for p, v in zip(present, key)):
                    s["explicit_null"] += 1
                s["keys"][key] += 1
                if "collation" not in ix and any(isinstance(v, str) for v in key):
                    s["lower"][tuple(v.lower() if isinstance(v, str) else v for v in key)] += 1
                if len(key) == 1 and fold(key[0]) is not None:
                    folded, kind = fold(key[0]), type(key[0]).__name__
                    seen = s["types"].setdefault(folded, kind)
                    if seen != kind:
                        s["mixed"].add(folded)
            for field, value in doc.items():
                if (not counter_coll and field != "_id" and field not in unique_fields
                        and last_word(field) in ID_WORDS and value is not None):
                    ident_values[field].append(value)
                if isinstance(value, bool):
                    continue
                if isinstance(value, int):
                    prefix, n = None, value
                elif isinstance(value, str) and "@" not in value:
                    m = TRAILING_NUMBER.match(value)
                    if not m:
                        continue
                    prefix, n = m.group(1), int(m.group(2))
                else:
                    continue
                best = numbers[(ns, field)]
                if n > best.get(prefix, -1):
                    best[prefix] = n
            if counter_coll:
                counters.append((ns, doc))
    for s in state:
        ix, name = s["ix"], s["ix"]["name"]
        sparse, partial = ix.get("sparse"), "partialFilterExpression" in ix
        if not sparse and not partial and s["null"] and s["with_value"] * 100 <= docs:
            findings.append(("DK104", ns, name, s["null"]))
        elif not sparse and not partial and s["null"]:
            findings.append(("DK101", ns, name, s["null"]))
        if sparse and s["explicit_null"]:
            findings.append(("DK102", ns, name, s["explicit_null"]))
        if partial and s["null"]:
            findings.append(("DK103", ns, name, s["null"]))
        dups = sum(n for n in s["keys"].values() if n > 1)
        if dups:
            findings.append(("DK201", ns, name, dups))
        variants = sum(n for n in s["lower"].values() if n > 1) - dups
        if variants > 0:
            findings.append(("DK203", ns, name, variants))
        if s["mixed"]:
            mixed = sum(1 for v in s["keys"] if len(v) == 1 and fold(v[0]) in s["mixed"])
            findings.append(("DK204", ns, name, mixed))
    for field, values in ident_values.items():
        counts = collections.Counter(values)
        if len(values) >= 5 and len(counts) >= 0.9 * len(values):
            dups = sum(n for n in counts.values() if n > 1)
            if field in plain and dups:
                findings.append(("DK201", ns, field, dups))
            elif field not in plain or not dups:
                findings.append(("DK205", ns, field, len(values)))
    return docs


def check_counters(counters, numbers, findings):
    for ns, doc in counters:
        value_field = next((f for f in ("seq", "count", "value") if isinstance(doc.get(f), int)), None)
        if value_field is None:
            continue
        labels = [str(v).lower() for k, v in doc.items() if k != value_field and isinstance(v, str)]
        periods = [l for l in labels if re.fullmatch(r"[0-9/_ -]+", l)]
        names = [l for l in labels if l not in periods]
        db = ns.split(".", 1)[0]
        used = 0
        for (target, field), best in numbers.items():
            coll = target.split(".", 1)[1]
            if not target.startswith(db + ".") or "counter" in coll:
                continue
            if not any(l.split("-")[0].rstrip("s") in coll for l in names):
                continue
            if not (field.lower().startswith(coll.rstrip("s")) or any(p for p in best if p)):
                continue
            for prefix, n in best.items():
                if periods and not (prefix and any(p in prefix for p in periods)):
                    continue
                used = max(used, n)
        if used > doc[value_field]:
            findings.append(("DK202", ns, value_field, used - doc[value_field]))


def main(dump):
    findings, numbers, counters, documents = [], collections.defaultdict(dict), [], 0
    for db in sorted(os.listdir(dump)):
        folder = os.path.join(dump, db)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".bson"):
                continue
            coll = name[: -len(".bson")]
            with open(os.path.join(folder, coll + ".metadata.json")) as f:
                meta = json_util.loads(f.read())
            documents += scan_collection(f"{db}.{coll}", os.path.join(folder, name), meta,
                                         findings, numbers, counters)
    check_counters(counters, numbers, findings)
    for code, ns, where, count in sorted(findings, key=lambda x: (x[1], x[0])):
        print(code, ns, where, count)
    print(f"{len(findings)} findings in {documents} documents")


if __name__ == "__main__":
    main(sys.argv[1])
PY

# Read everything once, so that no contestant pays for a cold page cache.
cat "$DUMP"/*/*.bson > /dev/null

PYTHONPATH=bench "$VENV/bin/python" - "$DUMP" "$EXPECTED" "$OUT" "$VENV/bin/python" <<'PY'
import glob, json, os, sys
import harness
dump, expected_path, out, py = sys.argv[1:5]
mb = sum(os.path.getsize(p) for p in glob.glob(os.path.join(dump, "*", "*.bson"))) / 1e6
expected = json.load(open(expected_path))
print(f"dump: {mb:.0f} MB, {expected['documents']:,} documents")
# The raw walk and scan run RUNS times, interleaved; Python, minutes long, runs once.
bench = harness.Bench(size_mb=mb)
bench.add("raw_walk_dump", ["target/release/examples/raw_walk_dump", dump])
bench.add_dupkey("dupkey scan --format json", ["scan", dump, "--format", "json"])
results = bench.run()
python = harness.measure_exact([py, os.path.join(out, "scan_user_script.py"), dump])
print(f"python (pymongo bson + dicts) {python.wall:7.2f} s, peak RSS {python.rss_kib / 1024:.1f} MiB")
scan = results.best("dupkey scan --format json")
results.ratio("dupkey scan --format json", "raw_walk_dump", target=1.5)
print(f"python / scan = {python.wall / scan.wall:.1f}x (target >= 20x); "
      f"scan peak RSS = {scan.rss_kib / 1024:.0f} MiB (target < 512)")

# Acceptance: the planted hazards, and nothing else.
report = json.loads(scan.stdout)
got = {}
for f in report["findings"]:
    key = f"{f['namespace']} {f['code']}"
    got.setdefault(key, []).append(f)
problems = []
if report["summary"]["documents"] != expected["documents"]:
    problems.append(f"scan read {report['summary']['documents']} documents, "
                    f"the dump holds {expected['documents']}")
for key, count in sorted(expected["findings"].items()):
    found = got.get(key, [])
    if not found:
        ns, code = key.split()
        said = sorted(f["code"] for f in report["findings"] if f["namespace"] == ns)
        problems.append(f"{key}: missing (scan said {said or 'nothing'} on {ns})")
    elif len(found) > 1 or found[0]["count"] != count:
        problems.append(f"{key}: expected one finding with count {count}, got "
                        + ", ".join(f"count {f['count']} ({f.get('index') or f.get('field')})" for f in found))
for key, found in sorted(got.items()):
    if key not in expected["findings"]:
        for f in found:
            problems.append(f"{key}: unexpected ({f.get('index') or f.get('field')}): {f['message'][:160]}")
py_codes = {" ".join(line.split()[1::-1]) for line in python.stdout.splitlines()[:-1]}
print(f"python script found {len(py_codes & set(expected['findings']))} of "
      f"{len(expected['findings'])} planted hazards ({len(py_codes - set(expected['findings']))} others)")
if problems:
    print(f"scan findings: {len(problems)} problems")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print(f"scan findings: all {len(expected['findings'])} planted hazards with their counts, "
      f"nothing on the {len(expected['clean'])} clean collections")
PY
