#!/usr/bin/env bash
# Crash safety of `dupkey fix apply`, the long form of the suite's test: TRIALS times, a child
# process applying a plan (removals, replacements, inserts, a unique index, a counter) is
# killed with SIGKILL at a random moment of its run; then apply runs again to the end (even
# trials) or the half-done run is undone (odd trials). Each trial checks that no document is
# lost or duplicated and that undo restores every byte, index and counter.
#   bench/fix-crash.sh [TRIALS]      (default 50)
# Starts its own test server unless DUPKEY_TEST_URI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS="${1:-50}"
if [ -z "${DUPKEY_TEST_URI:-}" ]; then
  exec scripts/with-test-server "$0" "$TRIALS"
fi
DUPKEY_FIX_CRASH_TRIALS="$TRIALS" cargo test -q -p dupkey_fix --test crash -- --nocapture \
  sigkill_at_random_points_loses_and_duplicates_nothing
