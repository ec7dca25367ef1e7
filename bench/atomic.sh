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
VENV="${DUPKEY_VENV:-.venv-secantus}"
cargo build --release -q -p dupkey_atomic --example atomic_bench

URI="${DUPKEY_TEST_URI:-}"
if [ -z "$URI" ]; then
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import secantusdb" 2>/dev/null || {
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "secantusdb==0.7.0b3"
  }
  PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  LOG="$(mktemp -t secantus-bench.XXXXXX.log)"
  setsid "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$PORT" --storage-path :memory: \
    --log-level WARNING </dev/null >"$LOG" 2>&1 &
  SERVER_PID=$!
  stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    rm -f "$LOG"
  }
  trap stop_server EXIT
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench/atomic.sh: the test server died:"; cat "$LOG"; exit 1; }
    sleep 0.05
  done
  URI="mongodb://127.0.0.1:$PORT/?directConnection=true&maxPoolSize=100&retryWrites=false"
fi
echo "bench/atomic.sh: $(nproc) cores, server ${URI%%\?*}"
target/release/examples/atomic_bench "$URI" --seconds "$SECONDS_PER"
