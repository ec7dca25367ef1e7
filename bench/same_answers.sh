#!/usr/bin/env bash
# Do two dupkey binaries give the same answers? Runs `scan` (text, JSON, redacted JSON) and
# `check` (text, JSON) with both on the example dump in every layout a user has (Extended JSON
# text, .bson, .bson.gz, mongodump --archive plain and gzip), on the bench dumps when they were
# built (bench/scan.sh, bench/check.sh), and on a live test server holding the example dump,
# then compares stdout and exit codes byte for byte. Exit 1 on the first difference, with a diff.
#   bench/same_answers.sh OLD_DUPKEY [NEW_DUPKEY]     # NEW defaults to target/release/dupkey
set -euo pipefail
cd "$(dirname "$0")/.."
OLD="${1:?usage: bench/same_answers.sh OLD_DUPKEY [NEW_DUPKEY]}"
NEW="${2:-target/release/dupkey}"
[ -x "$NEW" ] || cargo build --release -q -p dupkey
WORK="$(mktemp -d -t dupkey-same.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cargo build -q -p dupkey_test --example build_dump
BUILD=target/debug/examples/build_dump
$BUILD examples/seeds "$WORK/dump" >/dev/null
$BUILD examples/seeds "$WORK/dump-gz" --gzip >/dev/null
$BUILD examples/seeds "$WORK/seeds.archive" --archive >/dev/null
$BUILD examples/seeds "$WORK/seeds.archive.gz" --archive --gzip >/dev/null

compared=0
same() {
  # same LABEL ARGS...: both binaries, stdout and exit code.
  local label="$1"; shift
  local a b
  a="$("$OLD" "$@" 2>"$WORK/old.err"; echo "[exit $?]")" || true
  b="$("$NEW" "$@" 2>"$WORK/new.err"; echo "[exit $?]")" || true
  compared=$((compared + 1))
  if [ "$a" != "$b" ]; then
    echo "DIFFERENT: $label: dupkey $*"
    diff <(echo "$a") <(echo "$b") | head -40
    exit 1
  fi
  case "$b" in *"[exit 0]"|*"[exit 1]") ;; *)
    echo "FAILED in both: $label: dupkey $*: $(head -c 400 "$WORK/new.err")"; exit 1 ;;
  esac
}

CHECKS=(
  "smart-financial-planner.userprofiles|{\"key\": {\"userId\": 1}, \"unique\": true}"
  "supportai.tickets|{\"key\": {\"ticket_number\": 1}, \"unique\": true, \"sparse\": true}"
  "demo_test_answer.divorce_conflict_results|{\"key\": {\"resultToken\": 1}, \"unique\": true, \"partialFilterExpression\": {\"resultToken\": {\"\$type\": \"string\"}}}"
  "test.conversations|{\"key\": {\"sessionId\": 1}, \"unique\": true}"
  "smart-financial-planner.users|{\"key\": {\"email\": 1}, \"unique\": true, \"collation\": {\"locale\": \"en\", \"strength\": 2}}"
)
for src in examples/seeds "$WORK/dump" "$WORK/dump-gz" "$WORK/seeds.archive" "$WORK/seeds.archive.gz"; do
  same "scan text" scan "$src" --color never
  same "scan json" scan "$src" --format json
  same "scan json redacted" scan "$src" --format json --redact
  same "scan DK2 test" scan "$src" --select DK2 --db test --color never
  for c in "${CHECKS[@]}"; do
    ns="${c%%|*}"; spec="${c#*|}"
    same "check text" check "$src" --collection "$ns" --index "$spec" --color never
    same "check json" check "$src" --collection "$ns" --index "$spec" --format json
  done
done
echo "example dump, 5 layouts: $compared reports identical"

if [ -d bench/out/scan-v2-5000000 ]; then
  same "bench dump scan json" scan bench/out/scan-v2-5000000 --format json -q
  same "bench dump scan text" scan bench/out/scan-v2-5000000 --color never -q
  echo "bench dump (bench/scan.sh): identical"
fi
if [ -f bench/out/invoices-1000000.bson ]; then
  same "bench file check" check bench/out/invoices-1000000.bson --index '{"key": {"token": 1}, "unique": true}' -q
  same "bench file check json" check bench/out/invoices-1000000.bson --index '{"key": {"token": 1}, "unique": true}' --format json -q
  echo "bench file (bench/check.sh): identical"
fi

source scripts/test-server.sh
start_test_server
"$VENV/bin/python" scripts/restore_text_dump.py "$TEST_SERVER_URI" examples/seeds 2>/dev/null
before=$compared
for db in test supportai smart-financial-planner demo_test_answer shop; do
  same "live scan text $db" scan "$TEST_SERVER_URI" --db "$db" --color never -q
  same "live scan json $db" scan "$TEST_SERVER_URI" --db "$db" --format json -q
done
for c in "${CHECKS[@]}"; do
  ns="${c%%|*}"; spec="${c#*|}"
  same "live check" check "$TEST_SERVER_URI" --collection "$ns" --index "$spec" --color never -q
  same "live check json" check "$TEST_SERVER_URI" --collection "$ns" --index "$spec" --format json -q
done
echo "live test server holding the example dump: $((compared - before)) reports identical"
echo "all $compared reports identical: $OLD and $NEW"
