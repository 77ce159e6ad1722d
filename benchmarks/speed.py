"""Speed and memory of issue 22, one script per part, run in turn.

Parts (each a script of its own, each writing its section of
docs/benchmarks.md, each with CPU seconds, interleaved repeats and the
machine's load stated):

- ``training``: ``benchmarks/speed_training.py``, CPU seconds per epoch of
  every estimator against "exact" (Brown next-word, C = 10^5 generated),
  1 and 2 threads, the step against the copy bandwidth;
- ``prediction``: ``benchmarks/speed_prediction.py``, exact prediction
  against a float32 GEMM + ``argpartition``;
- ``topk``: ``benchmarks/approximate_topk.py``, recall against time of
  the approximate top-k options;
- ``memory``: ``benchmarks/memory.py``, peak RSS of fit and partial_fit and
  model-file sizes against ``coef_``.

Run ``python benchmarks/speed.py`` for all (about an hour on 2 cores), or
``python benchmarks/speed.py training prediction``; ``--quick`` and
``--no-write`` are passed on. The parts run one after the other, never two
at once, so that they do not share the cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {
    "training": "speed_training.py",
    "prediction": "speed_prediction.py",
    "topk": "approximate_topk.py",
    "memory": "memory.py",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="part", help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of every part")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    unknown = [part for part in args.parts if part not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    failed = []
    for part in args.parts or list(PARTS):
        script = HERE / PARTS[part]
        if not script.exists():
            print(f"== {part}: {script.name} is missing", flush=True)
            failed.append(part)
            continue
        command = [sys.executable, str(script)] + ["--quick"] * args.quick + ["--no-write"] * args.no_write
        print(f"== {part}: {' '.join(command[1:])}", flush=True)
        if subprocess.run(command).returncode != 0:
            failed.append(part)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
