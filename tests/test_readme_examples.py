"""The code of README.md ("What is here") and of the getting-started page
runs as printed, and fits with the defaults end without a
ConvergenceWarning."""

import re
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

REPO = Path(__file__).resolve().parents[1]


def _python_blocks(path, heading):
    """The ```python blocks of the section under ``heading`` (up to the next
    heading of the same level)."""
    text = path.read_text()
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    end = text.find(f"\n{level} ", start + len(heading))
    section = text[start : end if end >= 0 else None]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.parametrize(
    "path, heading", [("README.md", "## What is here"), ("docs/getting_started.md", "## A first classifier")]
)
def test_examples_run_without_convergence_warnings(path, heading, capsys):
    blocks = _python_blocks(REPO / path, heading)
    assert blocks, f"no python block under {heading!r} in {path}"
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for block in blocks:  # the blocks of a section share their names, as in a session
            exec(compile(block, f"{path} ({heading})", "exec"), namespace)
    assert capsys.readouterr().out  # each section prints its results
