"""How much of the PTB model's scores the class frequencies explain (issue 7).

Grounds the reading of the two PTB tables of issue 7 (training and partition
function), where draws from the class frequencies ("prior") beat the hash
tables. For the exact-trained model saved by ``benchmarks/paper_training.py``
and the 1,000 validation contexts that ``benchmarks/paper_partition.py``
evaluates on (same seed, same selection), it reports how the scores
``s_j = coef_j . x + b_j`` split into the intercepts ``b_j`` (shared by every
context) and the context part ``coef_j . x``, how often a context's best
words are the globally frequent ones, and how far the softmax of a context
is from the class-frequency prior and from the uniform distribution.

Run ``python benchmarks/ptb_score_structure.py`` (about a minute) after
``paper_training.py``; ``--no-write`` leaves the docs alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import markdown_table, publish, report_head  # noqa: E402
from paper_partition import add_model_arguments, load_model_and_contexts  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    args = parser.parse_args(argv)

    clf, _, X = load_model_and_contexts(args)  # the evaluation contexts of paper_partition.py
    coef, intercept = clf.coef_.astype(np.float64), clf.intercept_.astype(np.float64)
    context = X @ coef.T
    scores = context + intercept
    log_z = logsumexp(scores, axis=1)
    softmax = np.exp(scores - log_z[:, None])
    prior = (clf.class_count_ + 1.0) / (clf.class_count_ + 1.0).sum()
    n_classes = scores.shape[1]

    # Share of each context's score variance (over the classes) that the intercepts explain: R^2 of s on b.
    r2 = np.array([np.corrcoef(s, intercept)[0, 1] ** 2 for s in scores])
    top10 = np.argsort(-scores, axis=1)[:, :10]
    frequent = np.argsort(-clf.class_count_)[:100]
    high_bias = np.argsort(-intercept)[:100]
    tv_prior = 0.5 * np.abs(softmax - prior).sum(axis=1)
    tv_uniform = 0.5 * np.abs(softmax - 1.0 / n_classes).sum(axis=1)
    rows_out = [
        ["std over classes of the intercepts b_j", f"{intercept.std():.2f}"],
        ["std over classes of the context part coef_j . x (mean over contexts)", f"{context.std(axis=1).mean():.2f}"],
        ["std over classes of the scores s_j (mean over contexts)", f"{scores.std(axis=1).mean():.2f}"],
        ["share of a context's score variance explained by b_j (R^2, mean over contexts)", f"{r2.mean():.2f}"],
        ["share of a context's 10 best words among the 100 most frequent training words", f"{np.isin(top10, frequent).mean():.2f}"],
        ["share of a context's 10 best words among the 100 largest intercepts", f"{np.isin(top10, high_bias).mean():.2f}"],
        ["total variation distance of the softmax from the class-frequency prior (mean)", f"{tv_prior.mean():.2f}"],
        ["total variation distance of the softmax from the uniform distribution (mean)", f"{tv_uniform.mean():.2f}"],
    ]  # fmt: skip
    body = "\n".join([
        *report_head("## How much the class frequencies explain on PTB (issue 7)"),
        f"The exact-trained PTB model of the training section ({n_classes:,} classes, 192 features + intercept) on "
        f"the {args.n_queries:,} validation contexts of the partition section. Scores s_j = coef_j . x + b_j; the "
        "prior is the model's smoothed training label counts, (n_j + 1) / (n + C).",
        "",
        markdown_table(["quantity", "value"], rows_out),
    ])  # fmt: skip
    publish("ptb_score_structure", body, not args.no_write)


if __name__ == "__main__":
    main()
