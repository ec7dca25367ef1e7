#!/usr/bin/env bash
# Long-mode fuzzing of the E11000 parser: millions of mutated real-world error texts
# (default 3,000,000) in a release build, then of the JSON-lines reader (as many mutated
# lines, plain and gzipped). The suite runs a short version of the same tests.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-3000000}"
start=$(date +%s)
DUPKEY_FUZZ_CASES="$CASES" cargo test --release -q -p dupkey_e11000 --test fuzz -- --nocapture
echo "fuzz: $CASES inputs without a panic in $(( $(date +%s) - start )) s"
start=$(date +%s)
DUPKEY_FUZZ_CASES="$CASES" cargo test --release -q -p dupkey_source --test fuzz_jsonl -- --nocapture
echo "fuzz: $CASES JSON lines without a panic in $(( $(date +%s) - start )) s"
# The index-spec reader (JSON, validation, partial filters, collations), the same way.
start=$(date +%s)
DUPKEY_FUZZ_CASES="$CASES" cargo test --release -q -p dupkey_index --test fuzz_spec -- --nocapture
echo "fuzz (index specs): $CASES specs without a panic or a hang in $(( $(date +%s) - start )) s"
