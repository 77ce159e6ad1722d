"""The README's main job: ``python -m sklearn_lsh`` prints the comparison table."""

import subprocess
import sys

import pytest

from sklearn_lsh._cli import main


def test_partition_command_prints_a_table_of_every_method(capsys):
    assert main(["--n-classes", "500", "--n-features", "8", "--n-queries", "20", "--budget", "20"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    body = [line.split() for line in lines[header + 2 : header + 10]]
    rows = {row[0]: row for row in body}
    assert [row[0] for row in body] == ["exact", "lsh", "lsh", "lsh", "lsh-draw", "mips-gumbel", "uniform", "gumbel"]
    assert "table_design=pairs" in " ".join(body[2])
    assert "table_design=scan" in " ".join(body[3])
    assert 500 < int(body[3][3]) <= 1000  # up to two codes per class compared (a match in the first stops)
    assert float(rows["exact"][1]) == 0.0  # MAE of the exact method
    assert rows["exact"][2] == "500" and rows["exact"][3] == "0"  # C inner products, nothing scanned
    assert rows["uniform"][2] == "20"


def test_bad_arguments_exit_with_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["partition", "--n-classes", "0"])
    assert exc.value.code == 2
    assert "--n-classes must be at least 1" in capsys.readouterr().err


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "sklearn_lsh", "--help"], capture_output=True, text=True, check=True)
    assert "partition" in out.stdout
