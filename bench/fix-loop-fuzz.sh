#!/usr/bin/env bash
# Random broken databases through plan → apply → scan → undo (bench/fix-loop-fuzz.py): nothing
# lost, every undo byte-identical.
#   bench/fix-loop-fuzz.sh [SEEDS]      (default 20)
# Starts its own test server unless DUPKEY_TEST_URI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS="${1:-20}"
cargo build -q -p dupkey
URI="${DUPKEY_TEST_URI:-}"
if [ -z "$URI" ]; then
  source scripts/test-server.sh
  start_test_server
  URI="$TEST_SERVER_URI"
fi
"${DUPKEY_VENV:-.venv-secantus}/bin/python" bench/fix-loop-fuzz.py "$URI" target/debug/dupkey "$SEEDS"
