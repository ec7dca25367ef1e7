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

PYTHONPATH=bench "$VENV/bin/python" - "$FILE" "$OUT" "$VENV/bin/python" <<'PY'
import os, sys
import harness
path, out, py = sys.argv[1:4]
mb = os.path.getsize(path) / 1e6
print(f"file: {mb:.0f} MB")
index = '{"key": {"token": 1}, "unique": true}'
bench = harness.Bench(size_mb=mb)
bench.add("raw walk (elements)", ["target/release/examples/raw_walk", "elements", path, "token"])
bench.add("raw walk (field)", ["target/release/examples/raw_walk", "field", path, "token"])
bench.add_dupkey("dupkey check", ["check", path, "--index", index])
bench.add_dupkey("dupkey check --format json", ["check", path, "--index", index, "--format", "json"])
bench.add("python (pymongo bson + dict)", [py, os.path.join(out, "check_user_script.py"), path])
r = bench.run()
r.ratio("dupkey check", "raw walk (elements)", target=1.5)
r.ratio("python (pymongo bson + dict)", "dupkey check", target=20, at_most=False)
r.ratio("dupkey check", "raw walk (field)")
r.ratio("dupkey check --format json", "raw walk (elements)")
PY
