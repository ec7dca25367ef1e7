#!/usr/bin/env bash
# Benchmark of the sources' reading thread: builds (once, cached in bench/out) a collection of
# DOCS documents (default 1,000,000: users with a unique email, a unique referral code and a
# sparse unique token) as a dump folder, then a `mongodump --archive --gzip` file of it, and
# loads it into a fresh test server. Then, in the same run:
#   archive  `dupkey scan ARCHIVE --format json`: wall time, and user+sys CPU over wall
#            (target >= 1.3x on two cores: decompressing and demultiplexing on one thread,
#            the scan's work on the other); with OLD=path/to/dupkey, that binary interleaved
#            and each thread's CPU time (sampled from /proc), whose total over the busiest
#            thread's is the ratio two idle cores would show, however loaded the machine is
#   live     (skipped with LIVE=0) the same collection on the test server: `dupkey scan URI` against draining the
#            same `find` with the same driver and batch size (the `drain` example), rounds
#            interleaved (target: scan <= 1.2x drain: reading overlaps computing)
# Each of RUNS rounds (default 3) runs every command once; each one's best time counts and
# every round is printed.
#   bench/sources.sh [DOCS]
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS="${1:-1000000}"
OUT="${BENCH_DIR:-bench/out}"
mkdir -p "$OUT"
source scripts/test-server.sh
ensure_test_server_venv
DUMP="$OUT/sources-v1-$DOCS"
ARCHIVE="$DUMP.archive.gz"
cargo build --release -q -p dupkey --bin dupkey
cargo build --release -q -p dupkey_source --example drain --example archive_of

if [ ! -e "$DUMP/.complete" ]; then
  rm -rf "$DUMP"
  mkdir -p "$DUMP/app"
  echo "generating $DUMP ($DOCS documents)..."
  "$VENV/bin/python" - "$DUMP/app" "$DOCS" <<'PY'
import json, struct, sys
from random import Random
import bson
from bson import ObjectId
from bson.datetime_ms import DatetimeMS
out, n = sys.argv[1], int(sys.argv[2])
rnd = Random(7)
CITIES = ["Berlin", "Hamburg", "Munich", "Lyon", "Porto", "Turin"]
with open(out + "/users.bson", "wb") as f:
    buf = []
    for i in range(n):
        d = {"_id": ObjectId(struct.pack(">IxxxxI", 1_735_689_600 + i // 50, i)),
             "email": "user%07d@example.com" % i, "referralCode": "rc_%010x" % (i * 2_654_435_761 % (1 << 40)),
             "name": "%s %d" % (rnd.choice(CITIES), i), "plan": rnd.choice(["free", "pro", "team"]),
             "roles": ["customer"], "address": {"city": rnd.choice(CITIES), "zip": "%05d" % rnd.randrange(100_000)},
             "createdAt": DatetimeMS((1_735_689_600 + i) * 1000)}
        if i % 3:
            d["token"] = "%032x" % rnd.getrandbits(128)
        buf.append(bson.encode(d))
        if len(buf) == 10_000:
            f.write(b"".join(buf)); buf = []
    f.write(b"".join(buf))
ix = lambda key, name, **o: {"v": 2, "key": key, "name": name, **o}
meta = {"options": {}, "indexes": [ix({"_id": 1}, "_id_"), ix({"email": 1}, "email_1", unique=True),
        ix({"referralCode": 1}, "referralCode_1", unique=True),
        ix({"token": 1}, "token_1", unique=True, sparse=True)],
        "collectionName": "users", "type": "collection"}
json.dump(meta, open(out + "/users.metadata.json", "w"))
PY
  target/release/examples/archive_of "$ARCHIVE" app.users "$DUMP/app/users.bson" "$DUMP/app/users.metadata.json"
  touch "$DUMP/.complete"
fi

URI=""
if [ "${LIVE:-1}" != 0 ]; then
start_test_server
URI="${TEST_SERVER_URI/\/\?//app?}"
echo "loading $DOCS documents into the test server..."
"$VENV/bin/python" - "$TEST_SERVER_URI" "$DUMP/app/users.bson" <<'PY'
import sys, time, pymongo
from bson import decode_file_iter
from bson.raw_bson import RawBSONDocument
from bson.codec_options import CodecOptions
t0 = time.perf_counter()
client = pymongo.MongoClient(sys.argv[1])
users = client.app.get_collection("users", codec_options=CodecOptions(document_class=RawBSONDocument))
batch = []
with open(sys.argv[2], "rb") as f:
    for doc in decode_file_iter(f, CodecOptions(document_class=RawBSONDocument)):
        batch.append(doc)
        if len(batch) == 10_000:
            users.insert_many(batch, ordered=False); batch = []
if batch:
    users.insert_many(batch, ordered=False)
users.create_index("email", unique=True)
users.create_index("referralCode", unique=True)
users.create_index("token", unique=True, sparse=True)
print(f"loaded {users.estimated_document_count()} documents in {time.perf_counter() - t0:.0f} s")
PY
fi

"$VENV/bin/python" - "$ARCHIVE" "$URI" "${OLD:-}" <<'PY'
import os, subprocess, sys, time
archive, uri, old = sys.argv[1:4]
TICK = os.sysconf("SC_CLK_TCK")
def thread_cpu(pid, seen):
    """CPU seconds of each thread of `pid` so far, kept in `seen` (a thread's last reading)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            seen[tid] = (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError):
        pass
def run(label, cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M"] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    threads = {}
    child = None
    while p.poll() is None:
        if child is None:
            try:
                child = int(open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()[0])
            except (FileNotFoundError, IndexError, ValueError):
                pass
        if child is not None:
            thread_cpu(child, threads)
        time.sleep(0.02)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit(f"{label} failed: {err.strip()}")
    user, system, kb = err.strip().splitlines()[-1].split()
    busy = sorted(threads.values(), reverse=True)
    split = sum(busy) / busy[0] if busy and busy[0] > 0 else 0
    return {"label": label, "wall": wall, "cpu": float(user) + float(system), "kb": int(kb),
            "out": out, "threads": busy[:3], "split": split}
def best(rows):
    return min(rows, key=lambda r: r["wall"])
runs = int(os.environ.get("RUNS", "3"))
print(f"archive: {os.path.getsize(archive) / 1e6:.0f} MB gzipped; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
scans = [("dupkey scan ARCHIVE", ["target/release/dupkey", "scan", archive, "--format", "json", "-q"])]
if old:
    scans.append(("old dupkey scan ARCHIVE", [old, "scan", archive, "--format", "json", "-q"]))
rounds = [[run(label, cmd) for label, cmd in scans] for _ in range(runs)]
for i, label in enumerate(label for label, _ in scans):
    for n, r in enumerate(row[i] for row in rounds):
        busiest = ", ".join(f"{t:.2f}" for t in r["threads"])
        print(f"  round {n + 1}: {label:26s} {r['wall']:6.2f} s wall, {r['cpu']:6.2f} s user+sys = {r['cpu'] / r['wall']:.2f}x, peak RSS {r['kb'] / 1024:.0f} MiB; busiest threads {busiest} s CPU: total / busiest = {r['split']:.2f}x")
    b = best([row[i] for row in rounds])
    print(f"{label:34s} best {b['wall']:6.2f} s; user+sys / wall = {b['cpu'] / b['wall']:.2f}x (target >= 1.3x); "
          f"thread CPU total / busiest thread = {max(r['split'] for r in (row[i] for row in rounds)):.2f}x")
if old and rounds[0][0]["out"] != rounds[0][1]["out"]:
    sys.exit("the two binaries' reports differ on the archive")
if not uri:
    sys.exit(0)
live = [("drain (driver alone)", ["target/release/examples/drain", uri, "app", "users"]),
        ("dupkey scan URI", ["target/release/dupkey", "scan", uri, "--collection", "users", "--format", "json", "-q"])]
rounds = [[run(label, cmd) for label, cmd in live] for _ in range(runs)]
for n, (d, s) in enumerate(rounds):
    print(f"  round {n + 1}: drain {d['wall']:6.2f} s, scan {s['wall']:6.2f} s ({s['cpu'] / s['wall']:.2f}x cpu) = {s['wall'] / d['wall']:.2f}x")
d, s = best([r[0] for r in rounds]), best([r[1] for r in rounds])
print(f"live: drain best {d['wall']:.2f} s, scan best {s['wall']:.2f} s: scan / drain = {s['wall'] / d['wall']:.2f}x (target <= 1.2x)")
archive_report = rounds and __import__("json").loads(s["out"])
print(f"live scan read {archive_report['summary']['documents']} documents; load average {os.getloadavg()[0]:.2f} after")
PY
