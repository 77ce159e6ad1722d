"""Wide sparse input: the LSH index with stored versus generated projections.

A classifier's first ``partial_fit`` on 3 CSR rows of 300,000 columns
(n_bits=63, n_tables=2: 126 projections; two table builds, training and
prediction) in a fresh process per run, with the projections stored (the
(n_features + 1) x 126 matrix, as before) or generated on the fly (the
default above ``GENERATED_PROJECTIONS_ABOVE``). Prints CPU seconds
(``time.process_time``) and the peak RSS above the process's size before the
call, interleaved repeats.

    python benchmarks/wide_hashing.py [--repeats 3]
"""

import argparse
import json
import subprocess
import sys

WORKER = r"""
import json, sys, time, warnings
import numpy as np, scipy.sparse as sp
warnings.simplefilter("ignore")
from sklearn_lsh import LSHSoftmaxClassifier, _index
if sys.argv[1] == "stored":
    _index.GENERATED_PROJECTIONS_ABOVE = float("inf")
X = sp.random(3, 300_000, density=1e-4, format="csr", random_state=0)
y = np.array([0, 1, 2])
LSHSoftmaxClassifier(n_bits=4, n_tables=1).partial_fit(X[:, :50], y, classes=[0, 1, 2])  # compile the kernels
def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field))
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
start = time.process_time()
clf = LSHSoftmaxClassifier(n_bits=63, n_tables=2, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
print(json.dumps({"cpu_s": time.process_time() - start, "peak_mb": status("VmHWM:") - before,
                  "stored": clf._predict_index.projections_ is not None}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = {"stored": [], "generated": []}
    for _ in range(args.repeats):
        for mode in rows:
            out = subprocess.run([sys.executable, "-c", WORKER, mode], capture_output=True, text=True, check=True)
            rows[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("projections  cpu s (median)  peak MiB above start (median)")
    for mode, runs in rows.items():
        cpu = sorted(r["cpu_s"] for r in runs)[len(runs) // 2]
        peak = sorted(r["peak_mb"] for r in runs)[len(runs) // 2]
        print(f"{mode:11s}  {cpu:13.2f}  {peak:29.0f}")


if __name__ == "__main__":
    main()
