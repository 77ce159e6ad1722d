"""The peers of ``benchmarks/peers.py``: the tool table, each tool's
settings on a data set, and which python runs it (PECOS in its own venv,
made on first use)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers_runners import OURS  # noqa: E402

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")}  # fmt: skip

PECOS_VENV = Path.home() / ".cache" / "sklearn-lsh-bench" / "pecos-venv"
PECOS_SPEC = "libpecos==1.2.8"
TOOLS = {
    # name: (label in the table, input kind)
    "lsh": ("sklearn-lsh \"lsh\"", "ours"),
    "exact": ("sklearn-lsh \"exact\"", "ours"),
    "prior": ("sklearn-lsh \"prior\"", "ours"),
    "logreg": ("sklearn LogisticRegression", "csr"),
    "sgd": ("sklearn SGDClassifier (OvR)", "csr"),
    "plt": ("napkinXC PLT", "csr"),
    "hsm": ("napkinXC HSM", "csr"),
    "omikuji": ("Omikuji", "xc"),
    "pecos": ("PECOS XR-Linear", "csr"),
    "fasttext-softmax": ("fastText softmax", "fasttext"),
    "fasttext-hs": ("fastText hs", "fasttext"),
    "fasttext-ns": ("fastText ns", "fasttext"),
    "vw-oaa": ("VW --oaa", "vw"),
    "vw-log_multi": ("VW --log_multi", "vw"),
}
DATASETS = ("ptb", "sparse-1e4", "sparse-1e5")


# ------------------------------------------------------------------ settings
def settings_for(tool, ds, args):
    """The hyper-parameters of a tool on a data set (a dict, shown in the table)."""
    C, sparse = ds["n_classes"], ds["kind"] == "sparse"
    if tool in OURS:
        if sparse:  # benchmarks/scaling.py --sparse, "low-rank lsh" / "low-rank exact"
            s = dict(n_components=args.n_components, n_tables=16, eta0=0.1, batch_size=128, epochs=args.epochs_sparse)
        else:  # benchmarks/ptb_language_model.py (dense PPMI features)
            s = dict(eta0=0.1, alpha=1e-6, batch_size=128, n_bits=7, n_tables=16, epochs=args.epochs_ptb)
        if tool == "prior":  # no tables; a fixed number of draws from the smoothed training frequencies
            del s["n_tables"]
            s.pop("n_bits", None)
            s["n_samples"] = args.prior_samples
        return s
    if tool == "logreg":
        return dict(solver="lbfgs", max_iter=args.logreg_max_iter, C=1.0)
    if tool == "sgd":
        return dict(loss="log_loss", max_iter=args.epochs_sparse if sparse else args.epochs_ptb, tol=None,
                    alpha=1e-6)  # fmt: skip
    if tool in ("plt", "hsm"):
        return dict(optimizer="liblinear", liblinear_c=10, liblinear_eps=0.1, max_leaves=100, arity=2,
                    tree_type="hierarchicalKmeans", threads=1)  # fmt: skip
    if tool == "omikuji":
        return dict(n_trees=3, cluster_k=2, max_depth=20, min_branch_size=100, linear_c=1.0, beam_size=10,
                    threads=1)  # fmt: skip
    if tool == "pecos":
        return dict(indexer="hierarchicalkmeans", nr_splits=16, max_leaf_size=100, embedding="pifa",
                    solver_type="L2R_L2LOSS_SVC_DUAL", Cp=1.0, Cn=1.0, beam_size=10, threads=1)  # fmt: skip
    if tool.startswith("fasttext"):
        loss = tool.split("-")[1]
        epoch = args.ft_epochs
        return dict(loss=loss, dim=100, epoch=epoch, lr=args.ft_lr,
                    minCount=1, wordNgrams=1, thread=1, **({"neg": 5} if loss == "ns" else {}))  # fmt: skip
    if tool.startswith("vw"):
        mode = tool.split("-", 1)[1]
        bits = vw_bits(C, ds["n_features"], args.vw_weight_gib)
        s = dict(reduction=f"--{mode} {C}", b=bits, passes=args.vw_passes, loss_function="logistic" if mode == "oaa"
                 else "squared", holdout_off=True)  # fmt: skip
        if mode == "oaa":
            s["probabilities"] = True
        return s
    raise ValueError(tool)


def vw_bits(n_classes, n_features, weight_gib):
    """VW shares one 2^b weight table between the C per-class problems: each
    gets 2^b / 2^ceil(log2 C) slots. Enough bits for every feature id, but at
    most the weight budget (4 floats per weight for the adaptive/normalised
    update, 4 bytes each)."""
    want = math.ceil(math.log2(n_classes)) + math.ceil(math.log2(n_features))
    budget = int(math.floor(math.log2(weight_gib * 2**30 / 16)))
    return min(want, budget)


def param_gib(tool, ds, s):
    """Lower bound of the memory a configuration needs (dense parameters and
    the n x C buffers that sklearn's multinomial loss allocates), in GiB."""
    C, d, n = ds["n_classes"], ds["n_features_csr"], ds["n_train"]
    if tool == "logreg":  # coef + grad + lbfgs history (m=10 pairs), raw predictions + gradient (n x C)
        return 8 * ((2 * 10 + 3) * C * (d + 1) + 2 * n * C) / 2**30
    if tool == "sgd":  # coef_ (C, d) float64 (plus the per-class copies)
        return 8 * C * (d + 1) / 2**30
    return 0.0


# ------------------------------------------------------------------- running
def tool_available(tool):
    """(python executable, None) or (None, reason)."""
    modules = {"logreg": "sklearn", "sgd": "sklearn", "plt": "napkinxc", "hsm": "napkinxc", "omikuji": "omikuji",
               **dict.fromkeys(OURS, "sklearn_lsh")}  # fmt: skip
    if tool == "pecos":
        return pecos_python()
    module = modules.get(tool) or ("fasttext" if tool.startswith("fasttext") else "vowpalwabbit")
    check = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    if check.returncode:
        return None, (check.stderr.strip().splitlines() or ["import failed"])[-1][:120]
    return sys.executable, None


_PECOS = None


def pecos_python():
    """The python of a venv with libpecos (numpy<2), made on first use."""
    global _PECOS
    if _PECOS is None:
        python = PECOS_VENV / "bin" / "python"
        try:
            if not python.exists():
                print(f"creating {PECOS_VENV} and installing {PECOS_SPEC} ...", flush=True)
                subprocess.run([sys.executable, "-m", "venv", str(PECOS_VENV)], check=True, capture_output=True)
                subprocess.run([str(python), "-m", "pip", "install", "-q", PECOS_SPEC], check=True,
                               capture_output=True, text=True, timeout=1800)  # fmt: skip
            check = subprocess.run([str(python), "-c", "from pecos.xmc.xlinear.model import XLinearModel"],
                                   capture_output=True, text=True, env={**os.environ, **ONE_THREAD})  # fmt: skip
            if check.returncode:
                raise RuntimeError((check.stderr.strip().splitlines() or ["import failed"])[-1][:120])
            _PECOS = (str(python), None)
        except subprocess.CalledProcessError as e:
            _PECOS = (None, f"venv/pip failed: {(str(e.stderr or '').strip().splitlines() or [str(e)])[-1][:120]}")
        except Exception as e:  # noqa: BLE001
            _PECOS = (None, f"{type(e).__name__}: {e}"[:140])
    return _PECOS
