#!/usr/bin/env bash
# Scale benchmark of `dupkey check`: DOCS (default 20,000,000) generated documents with
# DOCS distinct-ish emails (one duplicate every 1,000), checked with the default 512 MiB
# budget and again with an unlimited one. Prints peak memory for both and whether the two
# answers are identical. Target: peak <= budget + 100 MiB, same answer.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS="${1:-20000000}"
BUDGET="${BUDGET:-512M}"
OUT="${BENCH_DIR:-bench/out}"
mkdir -p "$OUT"
cargo build --release -q -p dupkey --bin dupkey --example gen_docs
FILE="$OUT/scale-$DOCS.bson"
[ -s "$FILE" ] || target/release/examples/gen_docs "$DOCS" "$FILE"
SPEC='{"key": {"email": 1}, "unique": true}'
run() {  # budget label
  /usr/bin/time -f "%e %M" -o "$OUT/time-$2.txt" target/release/dupkey check "$FILE" --index "$SPEC" --format json --memory-limit "$1" > "$OUT/check-$2.json" || true
  read -r secs kb < <(tail -1 "$OUT/time-$2.txt")
  echo "$2 budget ($1): ${secs} s, peak RSS $((kb / 1024)) MiB"
}
echo "file: $(du -m "$FILE" | cut -f1) MB, $DOCS documents"
run "$BUDGET" bounded
run 64G unlimited
python3 - "$OUT/check-bounded.json" "$OUT/check-unlimited.json" "$BUDGET" "$OUT/time-bounded.txt" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
budget = sys.argv[3]; mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[budget[-1].upper()]
limit_mib = int(budget[:-1]) * mult / (1 << 20)
peak_mib = int(open(sys.argv[4]).read().splitlines()[-1].split()[1]) / 1024
print(f"conflict groups: {len(a['conflicts'])} (bounded) vs {len(b['conflicts'])} (unlimited); identical: {a == b}")
print(f"peak {peak_mib:.0f} MiB vs budget {limit_mib:.0f} MiB + 100: {'met' if peak_mib <= limit_mib + 100 else 'NOT met'}")
PY
