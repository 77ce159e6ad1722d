"""Memory bounds of training (issue 6, item 3): the LSH path never allocates
an (n_samples x C) or (batch x C) dense array.

Measured as the peak resident memory (VmHWM, Linux) of a fresh process
above its size before ``fit``, minus the arrays the fitted model keeps
(weights, optimiser state, both hash indexes), at 400,000 classes and 16
features, where one batch x C float64 array is 781 MiB. The
"exact" estimator, which does form batch x C scores, is the control that
shows the measurement sees such an array.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to reset and read the peak RSS"
)

_PEAK_OF_FIT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from sklearn_lsh import LSHSoftmaxClassifier

    estimator, n_rows, n_components = sys.argv[1], int(sys.argv[2]), eval(sys.argv[3])
    n_classes, d = 400_000, 16
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, d))
    y = rng.integers(0, n_classes, n_rows)
    params = dict(estimator=estimator, n_tables=4, batch_size=256, max_iter=1, random_state=0,
                  n_components=n_components)
    # Compile every kernel for these types first (numba's compiler memory is not the method's).
    LSHSoftmaxClassifier(**params).partial_fit(X[:300], y[:300], classes=np.arange(n_classes))

    def rss_mb():
        with open("/proc/self/status") as f:
            return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in f if line.startswith("Vm")}

    before = rss_mb()["VmRSS"]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    model = LSHSoftmaxClassifier(**params).partial_fit(X, y, classes=np.arange(n_classes))
    extra = rss_mb()["VmHWM"] - before
    model_bytes = sum(v.nbytes for v in vars(model).values() if isinstance(v, np.ndarray))
    for index in (model._index, model._predict_index):
        if index is not None:
            model_bytes += sum(v.nbytes for v in vars(index).values() if isinstance(v, np.ndarray))
    print(json.dumps({"extra_mb": extra, "model_mb": model_bytes / 2**20, "t": model.t_}))
    """
)


def _peak_extra_mb(estimator, n_rows, n_components=None):
    out = subprocess.run([sys.executable, "-c", _PEAK_OF_FIT, estimator, str(n_rows), repr(n_components)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    print(f"{estimator}, n_components={n_components}: peak beyond the model's arrays "
          f"{result['extra_mb'] - result['model_mb']:.0f} MiB")  # fmt: skip  (shown with pytest -s)
    return result


BATCH_BY_CLASSES_MB = 256 * 400_000 * 8 / 2**20  # 781 MiB


@pytest.mark.parametrize("n_components", [None, 8])
def test_lsh_training_never_forms_a_batch_by_classes_array(n_components):
    result = _peak_extra_mb("lsh", 4096, n_components)
    assert result["t"] == 16
    # beyond the arrays the fitted model keeps, a step needs far less than one batch x C array
    assert result["extra_mb"] - result["model_mb"] < 0.4 * BATCH_BY_CLASSES_MB, result


def test_the_measurement_sees_a_batch_by_classes_array():
    # control: the exact step does form (batch x C) scores
    result = _peak_extra_mb("exact", 256)
    assert result["extra_mb"] - result["model_mb"] > 0.9 * BATCH_BY_CLASSES_MB, result
