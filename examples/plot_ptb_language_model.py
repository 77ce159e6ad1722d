"""
=====================================================
A next-word model on Penn Treebank (the paper's data)
=====================================================

Spring & Shrivastava (2017) train a log-linear next-word model on Penn
Treebank, a 10,000-word softmax, with the LSH estimate of the partition
function. This example does the same at a small scale: features are the
embeddings of the two previous words (PPMI-SVD vectors from
:class:`~sklearn_lsh.datasets.NextWordFeatures`), and
:class:`~sklearn_lsh.LSHSoftmaxClassifier` is trained with the exact softmax
and with "lsh" on the first 50,000 training tokens, then compared by
validation perplexity per epoch and by the classes each step scored.

The data comes from :func:`~sklearn_lsh.datasets.fetch_ptb` (downloaded
once, sha256-checked). ``benchmarks/ptb_language_model.py`` runs the full
data set; its figures are in the benchmarks page.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_lsh import LSHSoftmaxClassifier
from sklearn_lsh.datasets import NextWordFeatures, fetch_ptb
from sklearn_lsh.metrics import perplexity

ptb = fetch_ptb()
features = NextWordFeatures(context_size=2, n_components=48, random_state=0).fit(ptb.train)
X_train, y_train = features.transform(ptb.train[:50_000])
X_valid, y_valid = features.transform(ptb.valid[:10_000])
classes = np.arange(features.vocabulary_.shape[0])  # every word, seen in this slice or not
print(f"{X_train.shape[0]} training rows x {X_train.shape[1]} features, {classes.shape[0]} classes")

# %%
# Two epochs of each. ``partial_fit`` runs one epoch per call, so the
# validation perplexity can be read after each.
history = {}
for name in ("exact", "lsh"):
    clf = LSHSoftmaxClassifier(name, n_bits=7, n_tables=16, eta0=0.1, random_state=0)
    history[name] = []
    for epoch in range(2):
        clf.partial_fit(X_train, y_train, classes=classes)
        history[name].append(perplexity(clf, X_valid, y_valid))
    print(f"{name:5s} valid perplexity by epoch {np.round(history[name], 1).tolist()}, "
          f"classes scored per example {clf.mean_classes_scored_:.0f} of {classes.shape[0]}")  # fmt: skip

# %%
# The LSH-trained model tracks the exact one while each step scores a few
# fraction of the vocabulary (printed above).
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, values in history.items():
    ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
ax.set(xlabel="epoch", ylabel="validation perplexity", title="PTB, first 50k tokens, 2-word context")
ax.set_xticks([1, 2])
ax.legend()
fig.tight_layout()
plt.show()
