#!/usr/bin/env bash
# End-to-end benchmark of `dupkey check`: builds a ~1,000,000-document .bson file (~150 MB:
# invoice numbers, user ids, emails, one token in three null), then times in the same run:
#   raw walk (elements)  the same reader walking every element of every document zero-copy
#                        with the bson crate's iterator: the raw loop (the floor of the target)
#   raw walk (field)     the same reader jumping to the key field only, with check's own
#                        byte-level lookup: a stricter floor, shown for reference
#   dupkey check         the full unique-index what-if on {token: 1} (text, and JSON listing
#                        all 333,334 _ids of the null group)
#   python               what a user writes: pymongo's BSON decoder plus a dict of keys
# and prints the ratios. Targets: check <= 1.5x the raw walk, >= 20x faster than python.
# RUNS rounds (default 3) each run every command once, interleaved; each command's best time
# counts, and the python / check ratio of every round is printed too.
#   bench/check.sh [DOCS]
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS="${1:-1000000}"
OUT="${BENCH_DIR:-bench/out}"
mkdir -p "$OUT"
source scripts/test-server.sh
ensure_test_server_venv
FILE="$OUT/invoices-$DOCS.bson"
cargo build --release -q -p dupkey --bin dupkey --example raw_walk

if [ ! -s "$FILE" ]; then
  "$VENV/bin/python" - "$FILE" "$DOCS" <<'PY'
import sys, random, bson
from bson import ObjectId
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(11)
with open(path, "wb") as f:
    buf = []
    for i in range(n):
        token = None if i % 3 == 0 else "%032x" % rnd.getrandbits(128)
        if i % 50_000 == 7:
            token = "dup-token"  # a few real duplicates
        doc = {"_id": ObjectId(), "invoiceNo": "INV/2025-26/%06d" % i, "userId": ObjectId(b"%012d" % (i % 50_000)),
               "email": "user%d@example.com" % i, "token": token, "n": i}
        buf.append(bson.encode(doc))
        if len(buf) == 10_000:
            f.write(b"".join(buf)); buf = []
    f.write(b"".join(buf))
PY
fi

cat > "$OUT/check_user_script.py" <<'PY'
import sys, bson, collections
seen = collections.defaultdict(list)
with open(sys.argv[1], "rb") as f:
    for doc in bson.decode_file_iter(f):
        seen[doc.get("token")].append(doc["_id"])
dups = {k: v for k, v in seen.items() if len(v) > 1}
print(len(dups), "duplicate keys")
PY

"$VENV/bin/python" - "$FILE" "$OUT" "$VENV/bin/python" <<'PY'
import os, subprocess, sys, time
path, out, py = sys.argv[1:4]
load = open("/proc/loadavg").read().split()[0]
mb = os.path.getsize(path) / 1e6
def run(label, cmd):
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit(f"{label} failed: {p.stderr.strip()}")
    kb = int(p.stderr.strip().splitlines()[-1])
    return label, secs, kb, p.stdout.strip().splitlines()[0] if p.stdout.strip() else ""
runs = int(os.environ.get("RUNS", "3"))
index = '{"key": {"token": 1}, "unique": true}'
commands = [
    ("raw walk (elements)", ["target/release/examples/raw_walk", "elements", path, "token"]),
    ("raw walk (field)", ["target/release/examples/raw_walk", "field", path, "token"]),
    ("dupkey check", ["target/release/dupkey", "check", path, "--index", index]),
    ("dupkey check --format json", ["target/release/dupkey", "check", path, "--index", index, "--format", "json"]),
    ("python (pymongo bson + dict)", [py, os.path.join(out, "check_user_script.py"), path]),
]
# Rounds, each running every command once: the machine's speed drifts, and interleaving
# spreads the drift over all of them. Each command's best time counts.
rounds = [[run(label, cmd) for label, cmd in commands] for _ in range(runs)]
rows = [min((r[i] for r in rounds), key=lambda r: r[1]) for i in range(len(commands))]
per_round = [r[4][1] / r[2][1] for r in rounds]
print(f"file: {mb:.0f} MB")
for label, s, kb, _ in rows:
    print(f"{label:30s} {s:7.2f} s  {mb / s:7.0f} MB/s  peak RSS {kb / 1024:7.1f} MiB")
walk, field, chk, js, pyt = (r[1] for r in rows)
print(f"load average before the run: {load}")
print(f"check / raw walk (elements) = {chk / walk:.2f}x (target <= 1.5x); python / check = {pyt / chk:.1f}x (target >= 20x)")
print(f"check / raw walk (field) = {chk / field:.2f}x; check --format json / raw walk (elements) = {js / walk:.2f}x")
print("python / check in each round: " + ", ".join(
    f"{x:.1f}x ({r[4][1]:.2f} s / {r[2][1]:.2f} s)" for x, r in zip(per_round, rounds)))
PY
