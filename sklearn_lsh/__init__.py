"""sklearn-lsh: extreme multiclass classification for scikit-learn.

The softmax partition function ``Z(x) = sum_j exp(w_j . x)`` is estimated
without bias from the few classes that SimHash locality-sensitive hash tables
retrieve for ``x`` (Spring & Shrivastava, 2017).

Public API
----------
estimate_log_partition
    log Z by "exact", "lsh", "lsh-draw", "uniform", "gumbel", "mips-gumbel".
LSHSoftmaxClassifier
    Multinomial classifier trained by SGD with the LSH-estimated softmax.
auto_estimator
    The estimator ``LSHSoftmaxClassifier(estimator="auto")`` trains with.
TwoComponentSoftmaxClassifier
    Row x column (LightRNN) factorised softmax, classes re-placed in the grid.
LSHIndex
    SimHash (K, L) tables over class vectors, union and draw queries.
log_inclusion_probability
    ``log(1 - (1 - cp**K)**L)`` computed stably.
SimHashTransformer, SimHashBucketEncoder, simhash_cosine
    SimHash features (sign bits, packed codes, one-hot buckets) and the
    cosine estimated from codes.
save_model, load_model
    Save and load any of the above without pickle (no code runs on load).
"""

from ._classifier import LSHSoftmaxClassifier, auto_estimator
from ._inclusion import log_inclusion_probability
from ._index import DrawSample, LSHIndex, UnionSample
from ._partition import METHOD_OPTIONS, METHODS, EmptySampleWarning, PartitionWork, estimate_log_partition
from ._persistence import load_model, save_model
from ._simhash import SimHashBucketEncoder, SimHashTransformer, simhash_cosine
from ._two_component import TwoComponentSoftmaxClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "DrawSample",
    "EmptySampleWarning",
    "LSHIndex",
    "LSHSoftmaxClassifier",
    "METHODS",
    "METHOD_OPTIONS",
    "PartitionWork",
    "SimHashBucketEncoder",
    "SimHashTransformer",
    "TwoComponentSoftmaxClassifier",
    "UnionSample",
    "auto_estimator",
    "estimate_log_partition",
    "load_model",
    "log_inclusion_probability",
    "save_model",
    "simhash_cosine",
]
