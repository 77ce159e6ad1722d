"""Golden digests: a refactor must not move any result.

Every case fits or evaluates something small and seeded and reduces its
outputs to a sha256 digest of their bytes. The expected digests are in
``tests/golden_digests.json``. A change that is meant to move results
regenerates them, and its commit says why::

    python tests/test_golden.py --regenerate

The cases cover every training estimator x dense / CSR x full / low-rank,
float64 and float32, the logit adjustment and the prior draws, the
two-component model, every method of ``estimate_log_partition``, the index
queries and the SimHash transformers.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh import (
    LSHIndex,
    LSHSoftmaxClassifier,
    SimHashBucketEncoder,
    SimHashTransformer,
    TwoComponentSoftmaxClassifier,
    estimate_log_partition,
)
from sklearn_lsh.datasets import make_extreme_classification, make_partition_problem

GOLDEN = Path(__file__).with_name("golden_digests.json")

ESTIMATORS = ["lsh", "exact", "uniform", "prior", "lsh-draw", "mips-gumbel"]
PARTITION_METHODS = ["exact", "lsh", "lsh-draw", "uniform", "prior", "gumbel", "mips-gumbel"]


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        if a.dtype == object:
            h.update(repr(a.tolist()).encode())
        else:
            h.update(a.tobytes())
    return h.hexdigest()[:32]


def _classification_data(sparse, dtype):
    X, y = make_extreme_classification(600, 40, 60, noise=0.5, zipf_exponent=0.8, random_state=0)
    X = X.astype(dtype)
    if sparse:
        X[np.abs(X) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    return X, y


def _classifier_digest(clf, X):
    arrays = [clf.intercept_, clf.class_count_, np.asarray(clf.loss_curve_)]
    if clf.n_components is None:
        arrays.append(clf.coef_)
    else:
        arrays += [clf.class_embedding_, clf.embedding_]
    labels, proba = clf.predict_topk(X[:50], k=3)
    lsh_labels, lsh_proba = clf.predict_topk(X[:50], k=3, retrieval="lsh")
    arrays += [labels, proba, lsh_labels, lsh_proba, clf.predict_proba(X[:50])]
    counts = [clf.t_, clf.n_rebuilds_, clf.n_empty_samples_, clf.mean_classes_scored_, clf.inner_products_per_example_]
    arrays.append(np.asarray(counts, dtype=np.float64))
    return _digest(*arrays)


def _fit_classifier(estimator, sparse, low_rank, dtype, **extra):
    X, y = _classification_data(sparse, dtype)
    params = dict(
        n_bits=4, n_tables=6, n_samples=5, max_iter=3, tol=None, batch_size=64, random_state=0,
        n_components=8 if low_rank else None,
    )  # fmt: skip
    params.update(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LSHSoftmaxClassifier(estimator, **params).fit(X, y)
        # partial_fit continues from the fitted state (rollback snapshot path)
        clf.partial_fit(X[:200], y[:200])
    return clf, X


def _cases():
    cases = {}
    for estimator in ESTIMATORS:
        for sparse in (False, True):
            for low_rank in (False, True):
                name = f"clf-{estimator}-{'csr' if sparse else 'dense'}-{'lowrank' if low_rank else 'full'}"
                cases[name] = (lambda e=estimator, s=sparse, r=low_rank: _classifier_digest(
                    *_fit_classifier(e, s, r, np.float64)))  # fmt: skip
    for estimator in ("lsh", "exact", "lsh-draw"):
        cases[f"clf-{estimator}-dense-full-float32"] = (
            lambda e=estimator: _classifier_digest(*_fit_classifier(e, False, False, np.float32))
        )
    extras = {
        "clf-lsh-prior-draws": dict(n_prior_samples=4),
        "clf-lsh-logit-loss": dict(logit_adjustment=1.0),
        "clf-exact-logit-posthoc": dict(estimator="exact", logit_adjustment=1.0, logit_adjustment_form="post-hoc"),
        "clf-lsh-early-stopping": dict(early_stopping=True, tol=1e-3, max_iter=4),
        "clf-lsh-constant-rate": dict(learning_rate="constant", eta0=0.05, rebuild_interval=3),
        "clf-lsh-pairs-probe": dict(table_design="pairs", n_tables=6, probe_radius=1),
        "clf-lsh-scan": dict(table_design="scan", probe_radius=1),
        "clf-uniform-balanced": dict(estimator="uniform", class_weight="balanced", fit_intercept=False),
    }
    for name, params in extras.items():
        params = dict(params)
        estimator = params.pop("estimator", "lsh")
        cases[name] = (lambda e=estimator, p=params: _classifier_digest(
            *_fit_classifier_no_partial(e, False, False, np.float64, **p)))  # fmt: skip
    for sparse in (False, True):
        cases[f"two-component-{'csr' if sparse else 'dense'}"] = lambda s=sparse: _two_component_digest(s)
    for method in PARTITION_METHODS:
        for sparse in (False, True):
            cases[f"partition-{method}-{'csr' if sparse else 'dense'}"] = (
                lambda m=method, s=sparse: _partition_digest(m, s)
            )
    cases["partition-lsh-prior-draws"] = lambda: _partition_digest("lsh", False, n_prior_samples=7, prior=True)
    cases["partition-prior-class-prior"] = lambda: _partition_digest("prior", False, prior=True)
    cases["partition-lsh-float32"] = lambda: _partition_digest("lsh", False, dtype=np.float32)
    cases["index-queries"] = _index_digest
    cases["simhash-transformers"] = _simhash_digest
    return cases


def _fit_classifier_no_partial(estimator, sparse, low_rank, dtype, **extra):
    X, y = _classification_data(sparse, dtype)
    params = dict(n_bits=4, n_tables=6, n_samples=5, max_iter=3, tol=None, batch_size=64, random_state=0)
    params.update(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LSHSoftmaxClassifier(estimator, **params).fit(X, y)
    return clf, X


def _two_component_digest(sparse):
    X, y = _classification_data(sparse, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = TwoComponentSoftmaxClassifier(max_iter=3, tol=None, batch_size=64, random_state=0).fit(X, y)
        clf.partial_fit(X[:200], y[:200])
    labels, proba = clf.predict_topk(X[:50], k=3)
    return _digest(clf.row_coef_, clf.col_coef_, clf.row_intercept_, clf.class_intercept_, clf.placement_,
                   np.asarray(clf.loss_curve_), labels, proba, clf.predict_proba(X[:50]))  # fmt: skip


def _partition_digest(method, sparse, dtype=np.float64, prior=False, **options):
    W, X = make_partition_problem(n_classes=500, n_queries=40, n_features=16, random_state=0)
    W, X = W.astype(dtype), X.astype(dtype)
    if sparse:
        X = X.copy()
        X[np.abs(X) < 0.1] = 0.0
        X = sp.csr_matrix(X)
    if method in ("lsh", "mips-gumbel"):
        options = {"n_bits": 6, "n_tables": 8, **options}
    if method == "lsh-draw":
        options = {"n_bits": 4, "n_tables": 8, "n_samples": 20, **options}
    if method in ("uniform", "prior", "gumbel"):
        options = {"n_samples": 20, **options}
    if method == "mips-gumbel":
        options = {"n_samples": 20, **options}
    if prior:
        options["class_prior"] = np.linspace(1.0, 3.0, W.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log_z, work = estimate_log_partition(W, X, method, random_state=0, return_work=True, **options)
    counts = [work.inner_products_per_query, work.hash_inner_products_per_query, work.score_inner_products_per_query,
              work.mean_sample_size, work.build_inner_products, work.n_empty, work.n_floored,
              work.scanned_per_query, -1.0 if work.mean_probes is None else work.mean_probes]  # fmt: skip
    return _digest(log_z, np.asarray(counts, dtype=np.float64))


def _index_digest():
    W, X = make_partition_problem(n_classes=300, n_queries=20, n_features=12, random_state=1)
    arrays = []
    for design, n_tables, radius in (("independent", 6, 0), ("independent", 6, 1), ("pairs", 6, 1), ("scan", 4, 2)):
        index = LSHIndex(6, n_tables, table_design=design, probe_radius=radius, seed=3).build(W)
        sample = index.query(X)
        arrays += [index.hash(X), sample.indptr, sample.classes, sample.scores, sample.log_probabilities,
                   index.members_, index.bucket_keys_]  # fmt: skip
        # the work of hash(X), the query and the draw
        hashed, scored = X.shape[0] * index.hash_cost + sample.hash_inner_products, sample.score_inner_products
        if design != "scan":
            draw = index.draw(X, 7, seed=5)
            arrays += [draw.classes, draw.bucket_sizes, draw.probes, draw.scores, draw.log_probabilities]
            hashed, scored = hashed + draw.hash_inner_products, scored + draw.score_inner_products
        arrays.append(np.asarray([index.build_inner_products_, hashed, scored], dtype=np.int64))
    return _digest(*arrays)


def _simhash_digest():
    X, _ = _classification_data(True, np.float64)
    arrays = []
    for output in ("sign", "packed"):
        arrays.append(SimHashTransformer(20, output=output, random_state=0).fit_transform(X))
    arrays.append(SimHashTransformer(20, density=0.3, random_state=0).fit_transform(X.toarray()))
    encoded = SimHashBucketEncoder(4, 3, random_state=0).fit_transform(X)
    arrays += [encoded.indptr, encoded.indices, encoded.data]
    return _digest(*[a.toarray() if sp.issparse(a) else a for a in arrays])


CASES = _cases()


def _expected():
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_digest(name):
    expected = _expected()
    assert name in expected, f"no golden digest for {name}: run python tests/test_golden.py --regenerate"
    assert CASES[name]() == expected[name], (
        f"{name}: the result moved. If the change is meant to move it, regenerate the digests "
        "(python tests/test_golden.py --regenerate) and say why in the commit."
    )


def test_golden_file_has_no_stale_cases():
    assert set(_expected()) == set(CASES)


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/test_golden.py --regenerate")
    digests = {name: CASES[name]() for name in sorted(CASES)}
    GOLDEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(digests)} digests to {GOLDEN}")
