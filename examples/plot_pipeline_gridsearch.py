"""
=====================================================
SimHash features in a Pipeline, tuned by GridSearchCV
=====================================================

:class:`~sklearn_lsh.SimHashTransformer` turns wide sparse rows into a few
hundred sign bits (random hyperplane projections that preserve cosine
similarity), and :class:`~sklearn_lsh.LSHSoftmaxClassifier` learns a softmax
over many classes on them. Both are scikit-learn estimators, so they go in a
:class:`~sklearn.pipeline.Pipeline` and their parameters are tuned together by
:class:`~sklearn.model_selection.GridSearchCV`, here scored by precision@5
(:func:`~sklearn_lsh.metrics.make_topk_scorer`), the usual extreme
classification metric, with nDCG@5 recorded alongside.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import Pipeline

from sklearn_lsh import LSHSoftmaxClassifier, SimHashTransformer
from sklearn_lsh.datasets import make_extreme_classification
from sklearn_lsh.metrics import make_topk_scorer, precision_at_k

X, y = make_extreme_classification(6_000, 50_000, n_classes=300, sparse=True, n_nonzero=40, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1_000, random_state=0)

pipe = Pipeline([
    ("simhash", SimHashTransformer(density="auto", random_state=0)),
    ("clf", LSHSoftmaxClassifier(max_iter=3, tol=None, random_state=0)),
])  # fmt: skip

# %%
# The number of SimHash bits (more bits: a finer sketch of the cosine, a
# wider classifier) against the step size of the classifier. Plain shuffled
# folds: with Zipf class frequencies many classes have a single example, too
# few for stratified folds.
grid = {"simhash__n_bits": [64, 128, 256], "clf__eta0": [0.05, 0.2]}
search = GridSearchCV(
    pipe, grid, cv=KFold(2, shuffle=True, random_state=0), refit="p@5",
    scoring={"p@5": make_topk_scorer("precision", k=5), "ndcg@5": make_topk_scorer("ndcg", k=5)},
)  # fmt: skip
search.fit(X_train, y_train)
print("best:", search.best_params_, f"cv P@5 {search.best_score_:.3f}")
labels, _ = search.best_estimator_[-1].predict_topk(search.best_estimator_[:-1].transform(X_test), k=5)
print(f"held-out P@5 {precision_at_k(y_test, labels, 5):.3f}, top-1 {np.mean(labels[:, 0] == y_test):.3f}")

# %%
# Cross-validated P@5 over the grid.
results = search.cv_results_
fig, ax = plt.subplots(figsize=(5, 3.2))
for eta0 in grid["clf__eta0"]:
    rows = [i for i, p in enumerate(results["params"]) if p["clf__eta0"] == eta0]
    ax.plot([results["params"][i]["simhash__n_bits"] for i in rows], results["mean_test_p@5"][rows],
            marker="o", label=f"eta0={eta0}")  # fmt: skip
ax.set(xscale="log", xlabel="SimHash bits", ylabel="cross-validated P@5", title="Pipeline(SimHash, softmax)")
ax.set_xticks(grid["simhash__n_bits"], [str(b) for b in grid["simhash__n_bits"]])
ax.legend()
fig.tight_layout()
plt.show()
