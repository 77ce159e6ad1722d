"""The documentation builds without a single warning.

The build runs every ``examples/plot_*.py`` through sphinx-gallery (with
``abort_on_example_error``), the figure script of ``docs/lsh_estimator.md``
through matplotlib's plot directive, and autodoc/numpydoc over every public
docstring, so this one test also checks that the examples run and that the
docstrings render. The HTML and doctrees go to a temporary directory; the
gallery pages (``docs/auto_examples/``) and the API pages
(``docs/generated/``) are written into ``docs/``, as in a manual build, and
are gitignored.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

REPO = Path(__file__).resolve().parents[1]


def test_docs_build_without_warnings(tmp_path):
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        "docs",
        str(tmp_path / "html"),
    ]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"{' '.join(command)} failed with exit code {result.returncode}.\n"
        f"--- stderr ---\n{result.stderr}\n--- stdout (last 3000 characters) ---\n{result.stdout[-3000:]}"
    )
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "api.html").is_file()
