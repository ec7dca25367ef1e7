#!/usr/bin/env bash
# Benchmark of dupkey_atomic number generation against a live server, in one run:
#   Sequence::next under 1, 8 and 64 tasks, Sequence::reserve(100) blocks under 64 tasks,
#   and the seeds' own approaches (seed 000: counter upsert retried with backoff; seed 002:
#   countDocuments()+1 with a uniqueness check and retries), with the ratios.
# Target: reserve blocks >= 10x next at 64 tasks.
#   bench/atomic.sh [SECONDS_PER_MEASUREMENT]
# Uses DUPKEY_TEST_URI when set; otherwise starts a fresh secantusdb test server on a free
# loopback port (retryable writes off: that server slows down with every retryable write it
# records) and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER="${1:-3}"
cargo build --release -q -p dupkey_atomic --example atomic_bench

URI="${DUPKEY_TEST_URI:-}"
if [ -z "$URI" ]; then
  source scripts/test-server.sh
  start_test_server
  URI="$TEST_SERVER_URI&maxPoolSize=100"
fi
echo "bench/atomic.sh: $(nproc) cores, server ${URI%%\?*}"
target/release/examples/atomic_bench "$URI" --seconds "$SECONDS_PER"
