"""The timing harness every end-to-end bench script uses.

Contestants run in rounds, each round running every contestant once (the machine's speed
drifts; interleaving spreads the drift over all of them). Every round is printed, then each
contestant's best and median wall time, its CPU time (user + sys) over wall, and its peak RSS.
`DUPKEY_BASELINE=/path/to/an/older/dupkey` adds the older binary as a contestant beside every
`dupkey` command, so a change is measured against the code before it in the same run.

    import harness
    h = harness.Bench(size_mb=812)
    h.add("raw walk", ["target/release/examples/raw_walk", path])
    h.add_dupkey("dupkey check", ["check", path, "--index", spec])
    results = h.run(rounds=3)
    results.ratio("dupkey check", "raw walk", target=1.5)
"""

import os
import resource
import statistics
import subprocess
import sys
import time

DUPKEY = os.environ.get("DUPKEY_BIN", "target/release/dupkey")
BASELINE = os.environ.get("DUPKEY_BASELINE")


class Run:
    """One contestant's run: wall seconds, CPU seconds, peak RSS in KiB, stdout."""

    def __init__(self, wall, cpu, rss_kib, stdout, code):
        self.wall, self.cpu, self.rss_kib, self.stdout, self.code = wall, cpu, rss_kib, stdout, code


def measure(cmd, ok_codes=(0, 1), stdin=None):
    """Runs `cmd`, returns a Run. Exits with the command's stderr when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=stdin)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in ok_codes:
        sys.exit(f"{' '.join(cmd[:3])} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far; /usr/bin/time would be exact
    # per child, so use it when it is there.
    return Run(wall, cpu, after.ru_maxrss, p.stdout, p.returncode)


def measure_exact(cmd, ok_codes=(0, 1)):
    """`measure` with the child's own peak RSS from GNU time (when installed)."""
    if not os.path.exists("/usr/bin/time"):
        return measure(cmd, ok_codes)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "@@rss %M"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in ok_codes:
        sys.exit(f"{' '.join(cmd[:3])} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    rss = 0
    for line in p.stderr.splitlines():
        if line.startswith("@@rss "):
            rss = int(line.split()[1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, rss, p.stdout, p.returncode)


class Results:
    def __init__(self, labels, rounds, size_mb):
        self.labels, self.rounds, self.size_mb = labels, rounds, size_mb

    def runs(self, label):
        i = self.labels.index(label)
        return [r[i] for r in self.rounds]

    def best(self, label):
        return min(self.runs(label), key=lambda r: r.wall)

    def median(self, label):
        return statistics.median(r.wall for r in self.runs(label))

    def ratio(self, label, against, target=None, at_most=True):
        """Prints and returns best(label) / best(against), with each round's ratio."""
        x = self.best(label).wall / self.best(against).wall
        per = ", ".join(
            f"{a.wall / b.wall:.2f}x" for a, b in zip(self.runs(label), self.runs(against))
        )
        goal = ""
        if target is not None:
            goal = f" (target {'<=' if at_most else '>='} {target}x)"
        print(f"{label} / {against} = {x:.2f}x{goal}; per round: {per}")
        return x

    def report(self):
        print(f"{'':40s} {'best':>8s} {'median':>8s} {'cpu/wall':>8s} {'peak RSS':>10s}"
              + (f" {'MB/s':>7s}" if self.size_mb else ""))
        for label in self.labels:
            b = self.best(label)
            rate = f" {self.size_mb / b.wall:7.0f}" if self.size_mb else ""
            print(f"{label:40s} {b.wall:7.2f}s {self.median(label):7.2f}s "
                  f"{b.cpu / b.wall:7.2f}x {b.rss_kib / 1024:8.1f}MiB{rate}")


class Bench:
    def __init__(self, size_mb=None):
        self.size_mb = size_mb
        self.contestants = []

    def add(self, label, cmd, ok_codes=(0, 1)):
        self.contestants.append((label, cmd, ok_codes))

    def add_dupkey(self, label, args, ok_codes=(0, 1)):
        """`dupkey ARGS`, and the same with $DUPKEY_BASELINE as `LABEL (baseline)`."""
        self.add(label, [DUPKEY] + args, ok_codes)
        if BASELINE:
            self.add(f"{label} (baseline)", [BASELINE] + args, ok_codes)

    def run(self, rounds=None):
        rounds = rounds or int(os.environ.get("RUNS", "3"))
        load = os.getloadavg()[0]
        print(f"{rounds} rounds on {os.cpu_count()} cores, load average {load:.2f} before")
        done = []
        for n in range(rounds):
            row = [measure_exact(cmd, ok) for _, cmd, ok in self.contestants]
            done.append(row)
            print(f"round {n + 1}: " + "; ".join(
                f"{label} {r.wall:.2f}s" for (label, _, _), r in zip(self.contestants, row)))
        results = Results([c[0] for c in self.contestants], done, self.size_mb)
        results.report()
        if BASELINE:
            for label, _, _ in self.contestants:
                if f"{label} (baseline)" in results.labels:
                    results.ratio(label, f"{label} (baseline)", target=1.0)
        print(f"load average {os.getloadavg()[0]:.2f} after")
        return results
