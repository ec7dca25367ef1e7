#!/usr/bin/env bash
# Long mode of the index engine's differential test against the test server: CASES (default
# 100,000) generated cases in each mode (build, insert). Needs DUPKEY_TEST_URI, or starts a
# server the way scripts/test does.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-100000}"
if [ -z "${DUPKEY_TEST_URI:-}" ]; then
  VENV=.venv-secantus
  [ -x "$VENV/bin/secantusd-py" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install --quiet "secantusdb==0.7.0b3"; }
  PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  setsid "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$PORT" --storage-path :memory: --log-level WARNING </dev/null >/dev/null 2>&1 &
  PID=$!; trap 'kill $PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
  export DUPKEY_TEST_URI="mongodb://127.0.0.1:$PORT/?directConnection=true"
fi
DUPKEY_DIFF_CASES="$CASES" cargo test --release -q -p dupkey_index --test differential -- --nocapture
