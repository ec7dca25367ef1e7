#!/usr/bin/env bash
# Speed of `dupkey lint` on a large real JavaScript tree against ESLint running one comparable
# rule, in the same run. The tree is packages installed from the npm registry into a folder of
# their own (TypeScript, NestJS, Mongoose, Express, Next.js, webpack, Babel, ESLint, ...): its
# .js/.mjs/.cjs files are copied to `tree/`, and the files dupkey would not lint anyway
# (minified, generated, oversized, unparsable) are removed from the copy, so both tools read
# exactly the same files. ESLint runs `no-restricted-syntax` with a selector for the database
# calls lint looks at, on both cores (`--concurrency 2`; ESLINT_ONE_THREAD=1 adds a run on one
# thread); dupkey lints with every rule on both cores. Prints each tool's best time, files per second, CPU/wall and peak RSS.
# Target: dupkey >= 2,000 files per second.
#   bench/lint.sh            (RUNS rounds, default 3; the tree is kept in bench/out/lint-tree)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${BENCH_DIR:-bench/out}/lint-tree"
PACKAGES="typescript@5 @nestjs/core @nestjs/common @nestjs/mongoose mongoose express next@14 \
  rxjs lodash eslint@9 @babel/core webpack"
cargo build --release -q -p dupkey --bin dupkey
mkdir -p "$OUT"
if [ ! -d "$OUT/pkgs/node_modules" ]; then
  # --ignore-scripts: nothing from the registry runs on this machine.
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$OUT/pkgs" $PACKAGES
fi
if [ ! -d "$OUT/tree" ]; then
  mkdir -p "$OUT/tree"
  (cd "$OUT/pkgs/node_modules" && find . -path '*/node_modules/*' -prune -o -type f \
    \( -name '*.js' -o -name '*.mjs' -o -name '*.cjs' \) -print0 |
    xargs -0 cp --parents -t ../../tree)
  # What dupkey skips or cannot parse leaves the copy, so both tools read the same files.
  target/release/dupkey lint --all-dirs --verbose --format json "$OUT/tree" > "$OUT/first.json" || true
  python3 - "$OUT/first.json" <<'PY'
import json, os, sys
report = json.load(open(sys.argv[1]))
gone = [s["path"] for s in report.get("skipped", [])] + \
       [f["path"] for f in report.get("parse_failures", [])]
for p in gone:
    if os.path.isfile(p):
        os.remove(p)
print(f"removed {len(gone)} files dupkey skips or cannot parse")
PY
fi
cat > "$OUT/eslint.config.mjs" <<'JS'
// One rule comparable to lint's work: find the database calls in every file.
export default [
  { linterOptions: { reportUnusedDisableDirectives: "off" } },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    languageOptions: { ecmaVersion: "latest" },
    rules: {
      "no-restricted-syntax": ["error", {
        selector: "CallExpression[callee.property.name=/^(findOne|exists|countDocuments|create|insertOne|save|updateOne|findOneAndUpdate)$/]",
        message: "a database call",
      }],
    },
  },
];
JS
FILES=$(find "$OUT/tree" -type f | wc -l)
MB=$(du -sm "$OUT/tree" | cut -f1)
echo "bench/lint.sh: $(nproc) cores, $FILES files, $MB MB of JavaScript from the npm registry"
ESLINT="$OUT/pkgs/node_modules/.bin/eslint"
python3 - "$OUT" "$ESLINT" "$FILES" "$MB" <<'PY'
import os, sys
sys.path.insert(0, "bench")
import harness
out, eslint, files, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
common = ["--no-inline-config", "--no-config-lookup", "-c", f"{out}/eslint.config.mjs",
          "-f", "json", "-o", "/dev/null", f"{out}/tree"]
h = harness.Bench(size_mb=mb)
h.add_dupkey("dupkey lint (2 threads)", ["lint", "--all-dirs", "--format", "json",
                                          "-o", "/dev/null", f"{out}/tree"])
h.add("eslint, one rule (--concurrency 2)", [eslint, "--concurrency", "2"] + common)
if os.environ.get("ESLINT_ONE_THREAD") == "1":
    h.add("eslint, one rule (one thread)", [eslint] + common)
r = h.run()
for label in r.labels:
    print(f"{label:40s} {files / r.best(label).wall:9.0f} files/s")
rate = files / r.best("dupkey lint (2 threads)").wall
print(f"dupkey lint: {rate:.0f} files/s (target >= 2000): {'met' if rate >= 2000 else 'NOT met'}")
r.ratio("eslint, one rule (--concurrency 2)", "dupkey lint (2 threads)")
PY
