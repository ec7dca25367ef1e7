"""Random broken databases through the whole repair loop: for each seed, a database of a few
collections with duplicate groups, documents lacking the key, explicit nulls, mixed types, odd
`_id`s and values, under plain, unique, sparse and partial indexes; then `dupkey fix plan`,
`fix apply --unsafe`, `scan`, `fix undo`. Checks, per seed:
  - apply and undo exit 0, or apply stops on a failed step with its reason (and undo still
    restores);
  - no document is lost: each one is in its collection or, removed, in the archive;
  - after undo every collection is byte-identical (raw BSON by `_id`) with the same indexes.
Prints one line per seed and a summary; exits 1 on the first broken invariant.
  .venv-secantus/bin/python bench/fix-loop-fuzz.py URI DUPKEY_BINARY [SEEDS]
bench/fix-loop-fuzz.sh starts a test server and builds the binary."""

import hashlib
import json
import random
import subprocess
import sys

import pymongo
from bson import Decimal128, Int64, ObjectId, Regex
from bson.raw_bson import RawBSONDocument

URI, BINARY = sys.argv[1], sys.argv[2]
SEEDS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
client = pymongo.MongoClient(URI)
raw_client = pymongo.MongoClient(URI, document_class=RawBSONDocument)


def odd_id(rng, i):
    kind = rng.randrange(6)
    if kind == 0:
        return ObjectId()
    if kind == 1:
        return {"t": rng.randrange(3), "n": i}
    if kind == 2:
        return Decimal128(f"{i}.5")
    if kind == 3:
        return f"id-{i}"
    if kind == 4:
        return Int64(i)
    return i


def value(rng, i, field):
    roll = rng.random()
    if roll < 0.06:
        return "missing"
    if roll < 0.12:
        return None
    if roll < 0.22:
        return f"{field}-{rng.randrange(max(1, i // 2))}"  # a duplicate of an earlier value
    if roll < 0.25:
        return rng.randrange(50)  # a number where strings are usual
    return f"{field}-{i}"


def seed_db(rng, name):
    client.drop_database(name)
    db = client[name]
    for c in range(rng.randrange(1, 4)):
        coll = db[f"c{c}"]
        field = rng.choice(["email", "sku", "sessionId", "code", "slug"])
        docs = []
        for i in range(rng.randrange(15, 60)):
            doc = {"_id": odd_id(rng, i)}
            v = value(rng, i, field)
            if v != "missing":
                doc[field] = v
            if rng.random() < 0.3:
                doc["tags"] = [rng.randrange(5) for _ in range(rng.randrange(3))]
            if rng.random() < 0.1:
                doc["re"] = Regex("^a", "i")
            if rng.random() < 0.1:
                doc["z"] = -0.0
            if rng.random() < 0.1:
                doc["note"] = "$literal"
            docs.append(doc)
        coll.insert_many(docs)
        shape = rng.randrange(4)
        try:
            if shape == 0:
                coll.create_index(field, name=f"{field}_1")
            elif shape == 1:
                coll.create_index(field, name=f"{field}_1", unique=True, sparse=True)
            elif shape == 2:
                coll.create_index(
                    field,
                    name=f"{field}_1",
                    unique=True,
                    partialFilterExpression={field: {"$exists": True}},
                )
            # shape 3: no index
        except pymongo.errors.OperationFailure:
            coll.create_index(field, name=f"{field}_1")  # the data refuses a unique one
    if rng.random() < 0.5:
        db.counters.insert_one({"_id": "c0", "seq": rng.choice([3, 3.0, Int64(3)])})
    return db


def snapshot(name):
    db = raw_client[name]
    out = {}
    for coll in sorted(db.list_collection_names()):
        if coll.startswith("dupkey_archive"):
            continue
        docs = sorted(bytes(d.raw).hex() for d in db[coll].find())
        indexes = sorted(
            json.dumps({k: v for k, v in dict(i).items() if k != "v"}, default=str, sort_keys=True)
            for i in db[coll].list_indexes()
        )
        out[coll] = (hashlib.sha256("".join(docs).encode()).hexdigest(), len(docs), indexes)
    return out


def dupkey(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300)


def fail(seed, what, detail=""):
    print(f"seed {seed}: {what}\n{detail}")
    sys.exit(1)


stopped = 0
for seed in range(SEEDS):
    rng = random.Random(seed)
    name = f"fuzz_{seed}"
    seed_db(rng, name)
    before = snapshot(name)
    plan_file = f"/tmp/dupkey-fuzz-plan-{seed}.json"
    out = dupkey("fix", "plan", URI, "--db", name, "--no-hide", "-o", plan_file)
    if out.returncode != 0:
        fail(seed, "fix plan failed", out.stderr)
    out = dupkey("fix", "apply", plan_file, "--uri", URI, "--yes", "--unsafe", "--format", "json",
                 "--pause", "0")
    if out.returncode not in (0, 2) or not out.stdout.strip():
        fail(seed, f"fix apply exited {out.returncode} without a report", out.stderr)
    report = json.loads(out.stdout)
    if out.returncode == 2:
        stopped += 1
    run_id = report["run_id"]
    if run_id is None:  # nothing safe to run: nothing may have changed
        if snapshot(name) != before:
            fail(seed, "a plan with nothing to apply changed the database")
        print(f"seed {seed}: {len(before)} collections, nothing to apply")
        client.drop_database(name)
        continue
    # Nothing lost: every document is in its collection or in the archive.
    db = client[name]
    archived = {}
    for e in db.dupkey_archive.find({"type": "entry", "run_id": run_id, "action": "remove",
                                     "outcome": {"$ne": "skipped"}}):
        archived.setdefault(e["ns"].split(".", 1)[1], []).append(e["doc"]["_id"])
    for coll, (_, count, _) in before.items():
        now = db[coll].count_documents({})
        gone = len(archived.get(coll, []))
        if now + gone != count:
            fail(seed, f"{coll}: {count} before, {now} now + {gone} archived", out.stdout)
    out_scan = dupkey("scan", URI, "--db", name, "--format", "json")
    out = dupkey("fix", "undo", run_id, "--uri", URI, "--yes")
    if out.returncode != 0:
        fail(seed, "fix undo failed", out.stdout + out.stderr)
    after = snapshot(name)
    if after != before:
        diff = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                if before.get(k) != after.get(k)}
        fail(seed, "undo is not byte-identical", json.dumps(diff, indent=1, default=str))
    print(f"seed {seed}: {len(before)} collections, {report['summary']}, "
          f"{'stopped on a failed step' if report['status'] == 'failed' else report['status']}, "
          f"scan after apply exit {out_scan.returncode}; undo byte-identical")
    client.drop_database(name)

print(f"{SEEDS} seeds: every undo byte-identical, nothing lost; {stopped} run(s) stopped on a "
      f"failed step")
