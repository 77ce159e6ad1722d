"""
=====================================================
Extreme multiclass from an svmlight / libsvm file
=====================================================

Extreme classification data usually ships as sparse text: libsvm/svmlight
lines ``label index:value ...``, or the Extreme Classification Repository's
variant with a header line (read by
:func:`~sklearn_lsh.datasets.load_xc_repo_file`). This example writes a
text-like problem with 5,000 classes and 20,000 features to an svmlight
file, reads it back with scikit-learn's reader, trains the low-rank
(fastText-style) :class:`~sklearn_lsh.LSHSoftmaxClassifier`, whose memory
does not grow with ``n_features x n_classes``, and reports P@k and nDCG@k.
The same steps from the shell are ``sklearn-lsh train``, ``sklearn-lsh
evaluate`` and ``sklearn-lsh predict`` (shown at the end).
"""

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from sklearn_lsh import LSHSoftmaxClassifier
from sklearn_lsh.datasets import make_extreme_classification
from sklearn_lsh.metrics import ndcg_at_k, precision_at_k

folder = Path(tempfile.mkdtemp())
X, y = make_extreme_classification(22_000, 20_000, n_classes=5_000, sparse=True, n_nonzero=30, random_state=0)
dump_svmlight_file(X[:20_000], y[:20_000], str(folder / "train.svm"), zero_based=False)
dump_svmlight_file(X[20_000:], y[20_000:], str(folder / "test.svm"), zero_based=False)

# %%
# Read the files. The test file is read at the training file's width, so
# the columns line up even if its largest feature index is smaller.
X_train, y_train = load_svmlight_file(str(folder / "train.svm"), dtype=np.float32, zero_based=False)
X_test, y_test = load_svmlight_file(str(folder / "test.svm"), n_features=X_train.shape[1], dtype=np.float32,
                                    zero_based=False)  # fmt: skip
y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
print(f"train {X_train.shape}, {X_train.nnz / X_train.shape[0]:.0f} non-zeros per row, "
      f"{np.unique(y_train).shape[0]} classes present")  # fmt: skip

# %%
# The low-rank mode: a 64-wide feature embedding learned with the class
# vectors; a step updates only the embedding rows of the batch's non-zero
# features and the classes the hash tables retrieve.
clf = LSHSoftmaxClassifier(n_components=64, n_bits=8, n_tables=16, max_iter=4, tol=None, eta0=0.2, random_state=0)
start = time.perf_counter()
clf.fit(X_train, y_train)
print(f"fit {time.perf_counter() - start:.1f} s, {clf.mean_classes_scored_:.0f} classes scored per example "
      f"({100 * clf.mean_classes_scored_ / clf.classes_.shape[0]:.1f}% of {clf.classes_.shape[0]})")  # fmt: skip

labels, proba = clf.predict_topk(X_test, k=5)
ks = [1, 3, 5]
p_at = [precision_at_k(y_test, labels, k) for k in ks]
n_at = [ndcg_at_k(y_test, labels, k) for k in ks]
for k, p, n in zip(ks, p_at, n_at):
    print(f"P@{k} {p:.3f}   nDCG@{k} {n:.3f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.bar(np.arange(3) - 0.2, p_at, width=0.4, label="P@k")
ax.bar(np.arange(3) + 0.2, n_at, width=0.4, label="nDCG@k")
ax.set_xticks(range(3), [f"k={k}" for k in ks])
ax.set(ylim=(0, 1), title="5,000 classes from an svmlight file")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The same from the shell (the command line reads svmlight, the repository
# format and .npz; ``--n-components`` selects the low-rank mode)::
#
#     sklearn-lsh train train.svm -o model.joblib --n-components 64 --n-bits 8 --epochs 4 --eta0 0.2
#     sklearn-lsh evaluate model.joblib test.svm -k 1 3 5
#     sklearn-lsh predict model.joblib test.svm -k 5 -o top5.tsv
