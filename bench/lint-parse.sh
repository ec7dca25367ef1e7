#!/usr/bin/env bash
# Parser benchmark for `dupkey lint`'s JavaScript/TypeScript front end: installs a real
# package tree from the npm registry into a temporary folder (unless DIR is given), then
# parses every .js/.ts file with oxc and with tree-sitter on one thread, and runs the whole
# front end (parse + facts) on one thread and on every core. Release build.
#
# Usage: bench/lint-parse.sh [DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${1:-}"
rounds="${2:-3}"
if [[ -z "$dir" ]]; then
  command -v npm >/dev/null || { echo "lint-parse: npm not found; install Node.js or pass a DIR" >&2; exit 2; }
  dir="$(mktemp -d "${TMPDIR:-/tmp}/dupkey-lint-parse.XXXXXX")"
  trap 'rm -rf "$dir"' EXIT
  echo "installing packages into $dir ..."
  npm install --silent --no-audit --no-fund --prefix "$dir" \
    typescript@5 @nestjs/core @nestjs/common @nestjs/mongoose mongoose express next rxjs \
    reflect-metadata >/dev/null
fi
cargo run --quiet --release --locked -p dupkey_lint --example lint_parse -- "$dir" "$rounds"
