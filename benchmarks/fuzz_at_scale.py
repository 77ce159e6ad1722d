"""Fuzzing at scale (issue 21, item 9): the long hypothesis profile of
``tests/test_fuzz.py`` over the whole public API, every test in its own child
process, so that a crash (a segfault or any death by a signal) or a hang is
caught and counted instead of ending the run.

For every test of ``tests/test_fuzz.py`` (both classifiers, the SimHash
transformers, ``estimate_log_partition``, ``LSHIndex``,
``log_inclusion_probability``, ``simhash_cosine``, the metrics and the data
reader ``load_data_file``) and every seed, a child runs::

    HYPOTHESIS_PROFILE=long python -X faulthandler -m pytest tests/test_fuzz.py::TEST \\
        --hypothesis-seed=SEED --hypothesis-show-statistics --junitxml=...

with a wall-clock timeout (a hang: the child gets SIGABRT, so that
faulthandler prints where every thread was, then SIGKILL) and an address
space limit (``RLIMIT_AS``, so that a runaway allocation raises
``MemoryError`` instead of waking the OOM killer on a shared machine). Per
child it records the exit status (a negative one, death by a signal, is a
crash), CPU and wall time, peak RSS, the examples hypothesis ran (its
statistics: passing and failing examples of the generate, reuse and target
phases; invalid examples and shrinking are not counted) and the failures
(the JUnit report), of which those whose message says "silent non-finite
output" (``tests/test_fuzz.py``'s tag for a NaN or an infinity returned from
finite input) are counted apart.

Run ``python benchmarks/fuzz_at_scale.py`` (about 20 minutes on 2 cores
with one child at a time); ``--jobs 2`` runs two children at once,
``--seeds N`` runs every test with N seeds, ``-k EXPR`` selects tests as
pytest does, ``--quick`` runs the ci profile (a smoke run), ``--no-write``
leaves docs/reliability.md alone, ``--json PATH`` saves every record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DOCS, ROOT, command_line, machine_description, markdown_table, publish  # noqa: E402

RELIABILITY = DOCS.parent / "reliability.md"
TEST_FILE = "tests/test_fuzz.py"
NON_FINITE = "silent non-finite output"  # the tag of tests/test_fuzz.py
_COUNTED_PHASES = ("reuse", "generate", "target")


def _env(profile):
    env = dict(os.environ, HYPOTHESIS_PROFILE=profile, PYTHONPATH=str(ROOT), PYTHONFAULTHANDLER="1")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def collect(profile, keyword):
    """Node ids of tests/test_fuzz.py (as pytest collects them)."""
    command = [sys.executable, "-m", "pytest", TEST_FILE, "--collect-only", "-q", "-p", "no:cacheprovider"]
    if keyword:
        command += ["-k", keyword]
    out = subprocess.run(command, cwd=ROOT, env=_env(profile), capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.startswith(TEST_FILE + "::")]


def package_path(profile):
    """The sklearn_lsh the children import (this checkout's, not an installed copy)."""
    code = "import sklearn_lsh; print(sklearn_lsh.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(profile), capture_output=True, text=True)
    return out.stdout.strip()


def git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ------------------------------------------------------------------ children
def _limit_memory(limit_bytes):
    def preexec():
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return preexec


class Child:
    """One ``pytest NODE --hypothesis-seed=SEED`` process."""

    def __init__(self, node, seed, profile, workdir, timeout, memory_limit):
        self.node, self.seed, self.timeout = node, seed, timeout
        stem = re.sub(r"[^\w.-]+", "_", node.split("::", 1)[1]) + f"-seed{seed}"
        self.junit = workdir / f"{stem}.xml"
        self.stdout_path, self.stderr_path = workdir / f"{stem}.out", workdir / f"{stem}.err"
        command = [
            sys.executable, "-X", "faulthandler", "-m", "pytest", node, "-q", "-p", "no:cacheprovider",
            "--hypothesis-show-statistics", f"--hypothesis-seed={seed}", f"--junitxml={self.junit}",
            "-o", "junit_logging=no",
        ]  # fmt: skip
        self.command = command
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=_env(profile), stdout=out, stderr=err, start_new_session=True,
                preexec_fn=_limit_memory(memory_limit),
            )  # fmt: skip
        self.timed_out = False
        self.result = None

    def poll(self):
        """The record once the child has ended (None while it runs)."""
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            if time.monotonic() - self.started > self.timeout and not self.timed_out:
                self.timed_out = True
                os.killpg(self.process.pid, signal.SIGABRT)  # faulthandler prints every thread's stack
                self.abort_sent = time.monotonic()
            elif self.timed_out and time.monotonic() - self.abort_sent > 30:
                os.killpg(self.process.pid, signal.SIGKILL)
            return None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - self.started
        self.result = self._record(self.process.returncode, wall, usage)
        return self.result

    def _record(self, returncode, wall, usage):
        stdout = self.stdout_path.read_text(errors="replace")
        stderr = self.stderr_path.read_text(errors="replace")
        if self.timed_out:
            outcome = "hang"
        elif returncode < 0:
            outcome = f"crash ({signal.Signals(-returncode).name})"
        elif returncode == 0:
            outcome = "passed"
        elif returncode == 1:
            outcome = "failed"
        else:
            outcome = f"error (pytest exit status {returncode})"
        stats = parse_statistics(stdout).get(self.node, {})
        failures = parse_failures(self.junit) if outcome == "failed" else []
        return {
            "node": self.node,
            "seed": self.seed,
            "outcome": outcome,
            "returncode": returncode,
            "cases": sum(stats.get(phase, {}).get("passing", 0) + stats.get(phase, {}).get("failing", 0)
                         for phase in _COUNTED_PHASES),  # fmt: skip
            "invalid": sum(stats.get(phase, {}).get("invalid", 0) for phase in _COUNTED_PHASES),
            "statistics": stats,
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "failures": failures,
            "non_finite": any(NON_FINITE in f["text"] for f in failures),
            "command": " ".join(self.command),
            "stderr_tail": stderr[-4000:] if outcome not in ("passed", "failed") else "",
        }


_HEADER = re.compile(r"^(tests/test_fuzz\.py::\S+):\s*$")
_PHASE = re.compile(r"^\s*- during (\w+) phase")
_COUNTS = re.compile(r"^\s*- (\d+) passing examples?, (\d+) failing examples?, (\d+) invalid examples?")


def parse_statistics(stdout):
    """``{node: {phase: {"passing", "failing", "invalid"}}}`` from ``--hypothesis-show-statistics``."""
    stats, node, phase = {}, None, None
    for line in stdout.splitlines():
        header = _HEADER.match(line)
        if header:
            node, phase = header.group(1), None
            stats.setdefault(node, {})
            continue
        match = _PHASE.match(line)
        if match and node:
            phase = match.group(1)
            continue
        match = _COUNTS.match(line)
        if match and node and phase:
            passing, failing, invalid = map(int, match.groups())
            stats[node][phase] = {"passing": passing, "failing": failing, "invalid": invalid}
    return stats


_ERROR_LINE = re.compile(r"^(?:E\s+|\s*\|\s+)?((?:[\w.]+)(?:Error|Exception|BadZipFile|Failure)(?:Group)?: .*)$")


def parse_failures(junit):
    """The failures of a JUnit report: the message, the distinct error lines
    and the whole text (the falsifying example and its reproduce blob)."""
    try:
        tree = ET.parse(junit)
    except (OSError, ET.ParseError):
        return []
    failures = []
    for case in tree.iter("testcase"):
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            text = failure.text or ""
            errors = []
            for line in text.splitlines():
                match = _ERROR_LINE.match(line)
                if match and not match.group(1).startswith(("ExceptionGroup", "BaseExceptionGroup")):
                    error = match.group(1).strip()
                    if error not in errors:
                        errors.append(error)
            failures.append({"message": failure.get("message", ""), "errors": errors, "text": text})
    return failures


def run_children(tasks, n_parallel, profile, workdir, timeout, memory_limit):
    pending, running, records = list(tasks), [], []
    while pending or running:
        while pending and len(running) < n_parallel:
            node, seed = pending.pop(0)
            running.append(Child(node, seed, profile, workdir, timeout, memory_limit))
        time.sleep(0.2)
        for child in list(running):
            record = child.poll()
            if record is not None:
                running.remove(child)
                records.append(record)
                errors = "; ".join(e for f in record["failures"] for e in f["errors"])[:300]
                print(
                    f"{record['outcome']:>8}  {record['cases']:>6} cases  {record['wall_seconds']:>7.1f} s  "
                    f"{record['node'].split('::', 1)[1]} (seed {record['seed']}){'  ' + errors if errors else ''}",
                    flush=True,
                )
    order = {task: i for i, task in enumerate(tasks)}
    return sorted(records, key=lambda r: order[(r["node"], r["seed"])])


# ------------------------------------------------------------------- report
def summarize(records):
    crashes = [r for r in records if r["outcome"].startswith("crash")]
    hangs = [r for r in records if r["outcome"] == "hang"]
    failed = [r for r in records if r["outcome"] == "failed"]
    errors = [r for r in records if r["outcome"].startswith("error")]
    distinct = {}
    for r in failed:
        for failure in r["failures"]:
            for error in failure["errors"] or [failure["message"].splitlines()[0] if failure["message"] else "?"]:
                distinct.setdefault(error, set()).add(r["node"].split("::", 1)[1])
    non_finite = {e: nodes for e, nodes in distinct.items() if NON_FINITE in e}
    return {
        "cases": sum(r["cases"] for r in records),
        "invalid": sum(r["invalid"] for r in records),
        "children": len(records),
        "crashes": len(crashes),
        "hangs": len(hangs),
        "failed_children": len(failed),
        "pytest_errors": len(errors),
        "distinct_failures": {e: sorted(nodes) for e, nodes in distinct.items()},
        "non_finite_failures": {e: sorted(nodes) for e, nodes in non_finite.items()},
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in records), 1),
        "max_rss_mb": max((r["max_rss_mb"] for r in records), default=0),
    }


def report(records, summary, meta):
    rows = []
    for r in records:
        rows.append([
            f"`{r['node'].split('::', 1)[1]}`", r["seed"], f"{r['cases']:,}", f"{r['invalid']:,}", r["outcome"],
            f"{r['wall_seconds']:.0f}", f"{r['cpu_seconds']:.0f}", f"{r['max_rss_mb']:.0f}",
        ])  # fmt: skip
    lines = [
        "### Fuzzing at scale: the last run",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}; load average {meta['load_before']} before the run, "
        f"{meta['load_after']} after (`/proc/loadavg`, 1/5/15 min; the machine is shared)  ",
        f"Code: commit `{meta['commit']}`{meta['dirty']}, package imported from `{meta['package']}`  ",
        f"Profile: `{meta['profile']}`; {meta['parallel']} child process(es) at a time, each one test and one "
        f"seed, timeout {meta['timeout']:.0f} s, address space limit {meta['memory_limit']}",
        "",
        markdown_table(["test", "seed", "cases", "invalid", "outcome", "wall s", "CPU s", "peak RSS MiB"], rows),
        "",
        f"**Total: {summary['cases']:,} cases** in {summary['children']} child processes "
        f"({summary['invalid']:,} invalid examples not counted); "
        f"**{summary['crashes']} crashes, {summary['hangs']} hangs, "
        f"{len(summary['non_finite_failures'])} silent non-finite outputs**; "
        f"{summary['failed_children']} tests failed with {len(summary['distinct_failures'])} distinct failures "
        f"({summary['pytest_errors']} pytest errors). "
        f"Wall time {meta['wall_seconds'] / 60:.1f} min, CPU time {summary['cpu_seconds'] / 60:.1f} min "
        f"(children); largest child {summary['max_rss_mb']:.0f} MiB.",
    ]
    if summary["distinct_failures"]:
        lines += ["", "Failures (distinct error lines, with the tests that found them):", ""]
        for error, nodes in summary["distinct_failures"].items():
            lines.append(f"- `{error[:300]}` ({', '.join(nodes)})")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1, help="child processes at a time (default 1)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per test (default 1)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child before it counts as a hang")
    parser.add_argument("--memory-limit-gb", type=float, default=8.0, help="RLIMIT_AS of every child (0: none)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression selecting tests")
    parser.add_argument("--quick", action="store_true", help="the ci profile (a smoke run; docs not written)")
    parser.add_argument("--no-write", action="store_true", help="leave docs/reliability.md alone")
    parser.add_argument("--json", type=Path, help="save every record (and the summary) as JSON here")
    args = parser.parse_args()

    profile = "ci" if args.quick else "long"
    memory_limit = int(args.memory_limit_gb * 2**30)
    nodes = collect(profile, args.keyword)
    tasks = [(node, args.first_seed + s) for node in nodes for s in range(args.seeds)]
    meta = {
        "command": command_line(),
        "machine": machine_description(),
        "load_before": load_average(),
        "commit": git("rev-parse", "--short=12", "HEAD"),
        "dirty": " (with uncommitted changes to sklearn_lsh/ or tests/)" if git("status", "--porcelain", "--",
                                                                                   "sklearn_lsh", "tests") else "",
        "package": os.path.relpath(package_path(profile), ROOT),
        "profile": profile,
        "parallel": args.jobs,
        "timeout": args.timeout,
        "memory_limit": f"{args.memory_limit_gb:g} GiB" if memory_limit else "none",
    }  # fmt: skip
    print(f"{len(tasks)} children ({len(nodes)} tests x {args.seeds} seeds), profile {profile}, "
          f"{args.jobs} at a time; load {meta['load_before']}", flush=True)  # fmt: skip
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz_at_scale_") as workdir:
        records = run_children(tasks, args.jobs, profile, Path(workdir), args.timeout, memory_limit)
    meta["wall_seconds"] = time.monotonic() - started
    meta["load_after"] = load_average()
    summary = summarize(records)
    body = report(records, summary, meta)
    publish("fuzzing", body, not args.no_write and not args.quick, RELIABILITY)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "summary": summary, "records": records}, indent=1))
    clean = summary["crashes"] == summary["hangs"] == summary["failed_children"] == summary["pytest_errors"] == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
