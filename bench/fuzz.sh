#!/usr/bin/env bash
# Long-mode fuzzing in a release build: the E11000 parser on millions of mutated real-world
# error texts (default 3,000,000), the JSON-lines reader and the index-spec reader on as many
# inputs, the .bson stream and archive readers on mutated files (a fiftieth as many), and the
# byte-flip property of check with all 255 values of every byte. The suite runs a short
# version of each.
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
readers=$(( CASES / 50 ))
start=$(date +%s)
DUPKEY_FUZZ_CASES="$readers" cargo test --release -q -p dupkey_source --test fuzz_readers -- --nocapture
echo "fuzz: $readers mutated .bson files and archives each without a panic in $(( $(date +%s) - start )) s"
start=$(date +%s)
DUPKEY_FLIP_VALUES=all cargo test --release -q -p dupkey --test byte_flips -- --nocapture
echo "fuzz: every value of every byte of the flip fixture in $(( $(date +%s) - start )) s"
