#!/usr/bin/env bash
# Long mode of the index engine's differential test against the test server: CASES (default
# 100,000) generated cases in each mode (build, insert). Needs DUPKEY_TEST_URI, or starts a
# server the way scripts/test does.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-100000}"
if [ -z "${DUPKEY_TEST_URI:-}" ]; then
  source scripts/test-server.sh
  start_test_server
  export DUPKEY_TEST_URI="$TEST_SERVER_URI"
fi
DUPKEY_DIFF_CASES="$CASES" cargo test --release -q -p dupkey_index --test differential -- --nocapture
