#!/usr/bin/env bash
# What installing dupkey costs: a cold build of the binary with the distribution profile in a
# fresh target directory (dependencies compiled from scratch, as `cargo install` does), its
# wall time against the 5-minute target, and the installed binary's size against the 15 MB
# target, beside the release profile's unstripped size for comparison.
#   bash bench/build.sh            # JOBS=N to limit cargo's parallelism
#   ROOT=/opt/dupkey bash bench/build.sh   # keep the installed binary in ROOT/bin
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_MINUTES=5
TARGET_MB=15
work="$(mktemp -d -t dupkey-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="${ROOT:-$work/root}"
jobs=()
[ -n "${JOBS:-}" ] && jobs=(-j "$JOBS")

echo "cold build: cargo install --locked --profile dist --path crates/dupkey (into $work)"
start=$(date +%s.%N)
CARGO_TARGET_DIR="$work/target" cargo install --quiet --locked --profile dist --path crates/dupkey \
  --root "$root" "${jobs[@]}"
end=$(date +%s.%N)
seconds=$(python3 -c "print(f'{$end - $start:.0f}')")
bytes=$(stat -c %s "$root/bin/dupkey")
python3 - "$seconds" "$bytes" "$TARGET_MINUTES" "$TARGET_MB" <<'PY'
import sys
seconds, size, minutes, mb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = lambda good: "ok" if good else "OVER TARGET"
print(f"cold build:     {seconds // 60} min {seconds % 60:02d} s   (target < {minutes} min: {ok(seconds < minutes * 60)})")
print(f"installed size: {size / 1e6:.1f} MB    (target < {mb} MB: {ok(size < mb * 1e6)})")
PY
"$root/bin/dupkey" --version
echo "cores: $(nproc); load average before the build finished: $(cut -d' ' -f1-3 /proc/loadavg)"
