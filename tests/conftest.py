"""Shared pytest configuration: hypothesis settings profiles.

``HYPOTHESIS_PROFILE`` selects the profile (default "ci"):

- "ci": a fast, reproducible run (``derandomize=True``, no example database,
  no "explain" phase, which traces coverage and is slow on a failure);
  ``tests/test_fuzz.py`` runs in under a minute.
- "long": 2,500 examples per test (each classifier test 1,250 per
  classifier): 37,500 cases over the 17 hypothesis tests of
  ``tests/test_fuzz.py``, fresh random examples on every run.
  ``benchmarks/fuzz_at_scale.py`` runs it with every test in its own child
  process, so that crashes and hangs are caught and counted.
"""

import os

from hypothesis import HealthCheck, Phase, settings

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    database=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "long",
    max_examples=2500,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
