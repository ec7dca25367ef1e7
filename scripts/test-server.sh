# Sourced, not run: the secantusdb test server (pinned, in a local virtualenv) for scripts/test,
# scripts/with-test-server and the benchmarks. The caller has `cd`'d to the repository root.
#   source scripts/test-server.sh
#   start_test_server    # sets TEST_SERVER_URI; the server stops when the caller exits

SECANTUS_VERSION="0.7.0b3"
VENV="${DUPKEY_VENV:-.venv-secantus}"

# Installs secantusdb $SECANTUS_VERSION (and pymongo with it) into $VENV unless it is there.
ensure_test_server_venv() {
  if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("secantusdb") != sys.argv[1])' \
    "$SECANTUS_VERSION" 2>/dev/null; then
    echo "$0: installing secantusdb $SECANTUS_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "secantusdb==$SECANTUS_VERSION"
  fi
}

# Starts a fresh in-memory server on a free loopback port and waits until it answers a ping;
# exits 1 with the server's log when it does not. Sets TEST_SERVER_URI: a direct connection
# with retryable writes off (the server slows down with every retryable write it records).
start_test_server() {
  ensure_test_server_venv
  local port
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  TEST_SERVER_LOG="$(mktemp -t secantus.XXXXXX.log)"
  setsid "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
    --log-level WARNING </dev/null >"$TEST_SERVER_LOG" 2>&1 &
  TEST_SERVER_PID=$!
  trap stop_test_server EXIT
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$TEST_SERVER_PID" 2>/dev/null || test_server_failed "died"
    sleep 0.05
  done
  "$VENV/bin/python" - "$port" <<'PY' || test_server_failed "does not answer"
import sys, pymongo
pymongo.MongoClient("127.0.0.1", int(sys.argv[1]), directConnection=True, serverSelectionTimeoutMS=10000).admin.command("ping")
PY
  TEST_SERVER_URI="mongodb://127.0.0.1:$port/?directConnection=true&retryWrites=false"
}

test_server_failed() {
  echo "$0: the test server $1:" >&2
  cat "$TEST_SERVER_LOG" >&2
  exit 1
}

stop_test_server() {
  kill -TERM "$TEST_SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$TEST_SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$TEST_SERVER_PID" 2>/dev/null || true
  rm -f "$TEST_SERVER_LOG"
}
