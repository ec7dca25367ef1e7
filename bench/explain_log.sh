#!/usr/bin/env bash
# End-to-end benchmark of `dupkey explain --log`: builds a log of SIZE_MB (default 1024) of
# mixed application and mongod lines, about 1 in 100 holding an E11000 error in one of several
# shapes (Node, JSON mongod log, pymongo), then times in the same run:
#   grep -c E11000            the raw scan a user starts with (counts, explains nothing)
#   a Python regex script      what a user would write to group errors by namespace/index/key
#   dupkey explain --log       full parse, grouping, first/last seen
# and prints throughput, peak memory and the ratios. Target: dupkey >= 200 MB/s, flat memory.
#
# Then one huge line (HUGE_MB, default 200, of back-to-back E11000 messages, no line break) is
# read with `explain --log` and, cut to 20 MB, with `explain -`, each beside the same text
# split into lines: the times must be close (linear scanning whatever the shape) and the
# --log peak memory flat.
#
#   bench/explain_log.sh            # 1 GiB
#   SIZE_MB=256 HUGE_MB=50 bench/explain_log.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB="${SIZE_MB:-1024}"
HUGE_MB="${HUGE_MB:-200}"
OUT="${BENCH_DIR:-bench/out}"
mkdir -p "$OUT"
LOG="$OUT/app-${SIZE_MB}m.log"

cargo build --release -q -p dupkey
BIN=target/release/dupkey

if [ ! -s "$LOG" ]; then
  python3 - "$LOG" "$SIZE_MB" <<'PY'
import random, sys
path, size_mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
plain = [
    '2024-05-01T10:{m:02d}:{s:02d}.{ms:03d}Z INFO  GET /api/profile 200 {n}ms user={u}',
    '2024-05-01T10:{m:02d}:{s:02d}.{ms:03d}Z DEBUG cache hit key=session:{u} ttl=3600',
    '{{"t":{{"$date":"2024-05-01T10:{m:02d}:{s:02d}.{ms:03d}+00:00"}},"s":"I","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection accepted","attr":{{"remote":"10.0.0.{n}:5{n}","connectionCount":{u}}}}}',
]
errors = [
    '2024-05-01T10:{m:02d}:{s:02d}.{ms:03d}Z ERROR MongoServerError: E11000 duplicate key error collection: app.users index: email_1 dup key: {{ email: "user{u}@example.com" }}',
    '{{"t":{{"$date":"2024-05-01T10:{m:02d}:{s:02d}.{ms:03d}+00:00"}},"s":"I","c":"WRITE","id":51803,"ctx":"conn{n}","msg":"Slow query","attr":{{"type":"update","ns":"app.tickets","ok":0,"errMsg":"E11000 duplicate key error collection: app.tickets index: ticket_number_1 dup key: {{ ticket_number: \\"TKT-{u:05d}\\" }}","errName":"DuplicateKey","errCode":11000,"durationMillis":{n}}}}}',
    "2024-05-01T10:{m:02d}:{s:02d}.{ms:03d}Z ERROR pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: app.counters index: id_1_reference_value_1 dup key: {{ id: null, reference_value: null }}, full error: {{'index': 0, 'code': 11000, 'errmsg': 'E11000 duplicate key error collection: app.counters index: id_1_reference_value_1 dup key: {{ id: null, reference_value: null }}', 'keyPattern': {{'id': 1, 'reference_value': 1}}, 'keyValue': {{'id': None, 'reference_value': None}}}}",
]
target = size_mb * 1024 * 1024
written = 0
with open(path, "w") as f:
    while written < target:
        lines = []
        for i in range(10000):
            t = dict(m=rnd.randrange(60), s=rnd.randrange(60), ms=rnd.randrange(1000), n=rnd.randrange(300), u=rnd.randrange(5000))
            tpl = rnd.choice(errors) if rnd.random() < 0.01 else rnd.choice(plain)
            lines.append(tpl.format(**t))
        block = "\n".join(lines) + "\n"
        f.write(block)
        written += len(block)
PY
fi
BYTES=$(stat -c %s "$LOG")
cat "$LOG" > /dev/null  # warm the page cache so every contender reads from memory

cat > "$OUT/user_script.py" <<'PY'
import re, sys, collections
pat = re.compile(r'E11000 duplicate key error collection: (\S+) index: (\S+) dup key: (\{.*?\})')
groups = collections.Counter()
with open(sys.argv[1], errors="replace") as f:
    for line in f:
        if "E11000" in line:
            m = pat.search(line)
            if m:
                groups[m.groups()] += 1
for k, n in groups.most_common(10):
    print(n, *k)
PY

DUPKEY_BIN="$BIN" PYTHONPATH=bench python3 - "$LOG" "$OUT" <<'PY'
import json, os, sys
import harness
log, out = sys.argv[1:3]
mb = os.path.getsize(log) / 1e6
# Outputs are captured through a pipe (GNU grep stops at the first match when its output is
# /dev/null). RUNS interleaved rounds; DUPKEY_BASELINE adds an older dupkey.
bench = harness.Bench(size_mb=mb)
bench.add("grep -c E11000", ["grep", "-c", "E11000", log])
bench.add("python regex script", ["python3", os.path.join(out, "user_script.py"), log])
bench.add_dupkey("dupkey explain --log", ["explain", "--format", "json", "--log", log])
r = bench.run()
report = json.loads(r.best("dupkey explain --log").stdout)
print(f"log: {mb:.0f} MB, {report['lines']} lines, {report['total']} E11000 errors in {len(report['groups'])} groups")
r.ratio("python regex script", "dupkey explain --log")
r.ratio("dupkey explain --log", "grep -c E11000")
dk = r.best("dupkey explain --log").wall
print("target >= 200 MB/s:", "met" if mb / dk >= 200 else "NOT met")
PY

# One huge line against the same text split into lines.
python3 - "$OUT" "$HUGE_MB" <<'PY'
import os, sys
out, huge_mb = sys.argv[1], int(sys.argv[2])
msg = 'MongoServerError: E11000 duplicate key error collection: app.users index: email_1 dup key: {{ email: "user{}@example.com" }} '
def write(path, size, sep, distinct):
    with open(path, "w") as f:
        written, i = 0, 0
        while written < size:
            block = sep.join(msg.format(n % distinct) for n in range(i, i + 10000)) + sep
            f.write(block)
            written += len(block)
            i += 10000
write(os.path.join(out, "huge-line.log"), huge_mb * 1_000_000, "", 50)
write(os.path.join(out, "huge-split.log"), huge_mb * 1_000_000, "\n", 50)
write(os.path.join(out, "huge-line-20m.txt"), 20_000_000, "", 1)
write(os.path.join(out, "huge-split-20m.txt"), 20_000_000, "\n", 1)
PY
python3 - "$BIN" "$OUT" <<'PY'
import os, subprocess, sys, time
binary, out = sys.argv[1:3]
def run(args, stdin_path=None):
    t0 = time.perf_counter()
    with open(os.path.join(out, "huge.out"), "w") as o:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, stdin=stdin, stdout=o, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, int(p.stderr.strip().splitlines()[-1]) / 1024
rows = [
    ("--log, one huge line", run([binary, "explain", "--format", "json", "--log", os.path.join(out, "huge-line.log")])),
    ("--log, same text in lines", run([binary, "explain", "--format", "json", "--log", os.path.join(out, "huge-split.log")])),
    ("explain -, one 20 MB line", run([binary, "explain", "--format", "json", "-"], os.path.join(out, "huge-line-20m.txt"))),
    ("explain -, 20 MB in lines", run([binary, "explain", "--format", "json", "-"], os.path.join(out, "huge-split-20m.txt"))),
]
for name, (s, mib) in rows:
    print(f"{name:28s} {s:7.2f} s  peak RSS {mib:7.1f} MiB")
print(f"one line / lines: --log {rows[0][1][0] / rows[1][1][0]:.1f}x, explain - {rows[2][1][0] / rows[3][1][0]:.1f}x (linear scanning keeps both near 1)")
PY
