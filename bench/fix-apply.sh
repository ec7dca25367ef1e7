#!/usr/bin/env bash
# Speed of `dupkey fix apply` against the loop a DBA would otherwise write: N duplicate groups,
# apply (read again, archive, guarded remove, journal, in batches) against deleteOne by _id one
# at a time with the driver, in the same run on the same server; prints both times, the ratio,
# a bare bulk delete of the same documents (what batching alone can gain on that server) and
# apply's peak RSS.
#   bench/fix-apply.sh [GROUPS] [BATCH_SIZE]     (defaults 100000, 1000)
# Starts its own test server unless DUPKEY_TEST_URI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
# Not GROUPS: bash keeps that name for the user's group ids and ignores assignments to it.
N_GROUPS="${1:-100000}"
BATCH="${2:-1000}"
cargo build --release -q -p dupkey_fix --example fix_bench
URI="${DUPKEY_TEST_URI:-}"
if [ -z "$URI" ]; then
  source scripts/test-server.sh
  start_test_server
  URI="$TEST_SERVER_URI"
fi
echo "bench/fix-apply.sh: $(nproc) cores, server ${URI%%\?*}"
target/release/examples/fix_bench "$URI" --groups "$N_GROUPS" --batch-size "$BATCH"
