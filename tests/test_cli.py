"""The command line: demo (the README's main job), train, predict, evaluate, partition."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file
from sklearn.utils._param_validation import StrOptions

from sklearn_lsh import LSHSoftmaxClassifier, load_model
from sklearn_lsh._cli import build_parser, main
from sklearn_lsh.datasets import load_data_file
from sklearn_lsh.datasets._files import DATA_FILE_FORMATS
from sklearn_lsh.metrics import ndcg_at_k, perplexity, precision_at_k

SECTOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "sector-partial"


def _rows(out, first):
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(first))
    body = []
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        body.append(line.split())
    return body


def test_demo_trains_both_estimators_and_prints_the_table(capsys):
    argv = ["demo", "--n-classes", "300", "--n-samples", "3000", "--n-features", "16", "--epochs", "1",
            "--n-bits", "5", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = {row[0]: row for row in _rows(out, "estimator")}
    assert set(rows) == {"exact", "lsh"}
    scored = {name: float(row[2]) for name, row in rows.items()}
    assert scored["lsh"] < scored["exact"]  # the point of the method
    for row in rows.values():
        top1, p5 = float(row[4]), float(row[5])
        assert 0.2 < top1 <= 1 and p5 <= 0.2 + 1e-9  # well above chance (1/300); P@5 <= 1/5
    assert "trained" in out and "faster than 'exact'" in out


def test_no_command_runs_the_demo(monkeypatch):
    calls = []

    def fake_demo(args):
        calls.append(args)
        return 0

    monkeypatch.setattr("sklearn_lsh._cli._demo", fake_demo)
    assert main([]) == 0 and main(["--epochs", "1"]) == 0
    assert [a.command for a in calls] == ["demo", "demo"]
    assert (calls[0].n_classes, calls[0].epochs, calls[1].epochs) == (20_000, 2, 1)


def test_partition_command_prints_a_table_of_every_method(capsys):
    argv = ["partition", "--n-classes", "500", "--n-features", "8", "--n-queries", "20", "--budget", "20"]
    assert main(argv) == 0
    body = _rows(capsys.readouterr().out, "method")
    rows = {row[0]: row for row in body}
    assert [row[0] for row in body] == ["exact", "lsh", "lsh", "lsh", "lsh-draw", "mips-gumbel", "uniform", "gumbel"]
    assert "table_design=pairs" in " ".join(body[2])
    assert "table_design=scan" in " ".join(body[3])
    assert 500 < int(body[3][3]) <= 1000  # up to two codes per class compared (a match in the first stops)
    assert float(rows["exact"][1]) == 0.0  # MAE of the exact method
    assert rows["exact"][2] == "500" and rows["exact"][3] == "0"  # C inner products, nothing scanned
    assert rows["uniform"][2] == "20"


@pytest.fixture(scope="module")
def sector_model(tmp_path_factory):
    """A model trained by the CLI on the real sector data (libsvm, 105 classes)."""
    model = tmp_path_factory.mktemp("cli") / "sector.sklsh"
    argv = ["train", str(SECTOR / "sector.heldout"), "-o", str(model), "--epochs", "4", "--estimator", "lsh", "--n-bits", "4",
            "--seed", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    return model


def test_train_passes_the_logit_adjustment(tmp_path):
    model = tmp_path / "m.sklsh"
    argv = ["train", str(SECTOR / "sector.heldout"), "-o", str(model), "--epochs", "1", "--logit-adjustment", "0.5",
            "--logit-adjustment-form", "post-hoc", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    clf = load_model(model)
    assert (clf.logit_adjustment, clf.logit_adjustment_form) == (0.5, "post-hoc")


def test_train_passes_the_sampling_options(tmp_path, capsys):
    model = tmp_path / "m.sklsh"
    argv = ["train", str(SECTOR / "sector.heldout"), "-o", str(model), "--epochs", "1", "--estimator", "lsh",
            "--n-prior-samples", "7", "--n-samples", "3", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    clf = load_model(model)
    assert (clf.estimator, clf.n_prior_samples, clf.n_samples) == ("lsh", 7, 3)
    with pytest.raises(SystemExit):
        main(["train", str(SECTOR / "sector.heldout"), "-o", str(tmp_path / "x.sklsh"), "--n-prior-samples", "-1"])
    assert "must be at least 0, got -1" in capsys.readouterr().err


def test_train_saves_the_model_fit_by_partial_fit_blocks(sector_model):
    clf = load_model(sector_model)
    assert isinstance(clf, LSHSoftmaxClassifier) and clf.estimator == "lsh" and clf.n_bits_ == 4
    X, y = load_svmlight_file(str(SECTOR / "sector.heldout"), zero_based=False)
    assert clf.n_features_in_ == X.shape[1] and clf.classes_.dtype.kind == "i"  # 94.0 -> 94
    np.testing.assert_array_equal(clf.classes_, np.unique(y).astype(np.int64))
    assert clf._n_epochs == 4 * 1  # one partial_fit block per epoch here (865 rows < 8192)


def test_predict_writes_the_top_k_as_tsv(sector_model, tmp_path, capsys):
    out = tmp_path / "pred.tsv"
    assert main(["predict", str(sector_model), str(SECTOR / "sector.test"), "-k", "3", "-o", str(out)]) == 0
    assert "never saw in training" in capsys.readouterr().err  # sector.test has 4 non-zeros in unseen features
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == ["row", "label_1", "label_2", "label_3", "proba_1", "proba_2", "proba_3"]
    clf = load_model(sector_model)
    X, _ = load_svmlight_file(str(SECTOR / "sector.test"), zero_based=False)
    X = X[:, : clf.n_features_in_].astype(np.float32)
    labels, proba = clf.predict_topk(X, k=3)
    assert len(lines) == 1 + X.shape[0]
    for i in (0, 1, X.shape[0] - 1):
        fields = lines[1 + i].split("\t")
        assert fields[0] == str(i) and [int(v) for v in fields[1:4]] == labels[i].tolist()
        np.testing.assert_allclose([float(v) for v in fields[4:]], proba[i], rtol=1e-5)
    # An existing output is kept without --force.
    before = out.read_bytes()
    assert main(["predict", str(sector_model), str(SECTOR / "sector.test"), "-o", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["predict", str(sector_model), str(SECTOR / "sector.test"), "-k", "2", "-o", str(out), "--force"]) == 0
    assert out.read_text().splitlines()[0].count("label_") == 2


def test_evaluate_reports_the_library_metrics(sector_model, capsys):
    assert main(["evaluate", str(sector_model), str(SECTOR / "sector.test"), "-k", "1", "5", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    clf = load_model(sector_model)
    X, y = load_svmlight_file(str(SECTOR / "sector.test"), zero_based=False)
    X = X[:, : clf.n_features_in_].astype(np.float32)
    y = y.astype(np.int64)
    labels = clf.predict_topk(X, 5)[0]
    assert got["n_samples"] == 961 and got["n_unseen_labels"] == 0
    assert got["accuracy"] == pytest.approx(np.mean(clf.predict(X) == y))
    assert got["P@5"] == pytest.approx(precision_at_k(y, labels, 5))
    assert got["nDCG@5"] == pytest.approx(ndcg_at_k(y, labels, 5))
    assert got["perplexity"] == pytest.approx(perplexity(clf, X, y))
    assert got["accuracy"] > 0.2  # 105 classes: chance is ~1%
    assert main(["evaluate", str(sector_model), str(SECTOR / "sector.test")]) == 0
    assert "perplexity" in capsys.readouterr().out


def test_xc_and_npz_formats_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = sp.random(300, 40, density=0.2, format="csr", random_state=0, dtype=np.float32)
    y = rng.integers(0, 6, 300)
    lines = [f"{X.shape[0]} {X.shape[1]} 6"]
    for i in range(X.shape[0]):
        row = X[i]
        lines.append(" ".join([str(y[i]), *(f"{j}:{v:.6g}" for j, v in zip(row.indices, row.data))]))
    xc = tmp_path / "train.txt"
    xc.write_text("\n".join(lines) + "\n")
    dense = tmp_path / "dense.npz"
    np.savez(dense, X=X.toarray(), y=np.array([f"c{v}" for v in y]))
    sparse = tmp_path / "sparse.npz"
    sp.save_npz(sparse, X)
    with np.load(sparse) as data:
        np.savez(sparse, **dict(data), y=y)
    X_xc, y_xc = load_data_file(xc)
    X_d, y_d = load_data_file(dense)
    X_s, y_s = load_data_file(sparse)
    np.testing.assert_allclose(X_xc.toarray(), X.toarray(), rtol=1e-5)
    np.testing.assert_array_equal(X_d, X.toarray())
    assert (X_s != X).nnz == 0 and y_xc.tolist() == y.tolist() == y_s.tolist() and y_d[0] == f"c{y[0]}"
    for data, name in ((xc, "xc"), (dense, "dense")):
        model = tmp_path / f"{name}.sklsh"
        assert main(["train", str(data), "-o", str(model), "--epochs", "2", "--no-progress"]) == 0
        assert main(["evaluate", str(model), str(data), "--json"]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["accuracy"] > 1 / 6
    # String labels come back as strings in the TSV.
    assert main(["predict", str(tmp_path / "dense.sklsh"), str(dense), "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split("\t")[1].startswith("c")


@pytest.mark.parametrize(
    "files, argv, message",
    [
        ({}, ["train", "{d}/missing.svm", "-o", "{d}/m.sklsh"], "No such data file"),
        ({"bad.svm": "1 a:b\n"}, ["train", "{d}/bad.svm", "-o", "{d}/m.sklsh"], "Cannot read"),
        ({"zero.svm": "1 0:1\n2 1:1\n"}, ["train", "{d}/zero.svm", "-o", "{d}/m.sklsh"], "pass --zero-based"),
        ({"one.svm": "1 1:1\n1 2:1\n"}, ["train", "{d}/one.svm", "-o", "{d}/m.sklsh"], "single class"),
        ({"x.npz": None}, ["train", "{d}/x.npz", "-o", "{d}/m.sklsh"], "no array 'y'"),
        ({"ml.txt": "2 3 2\n0,1 0:1\n1 1:1\n"}, ["train", "{d}/ml.txt", "-o", "{d}/m.sklsh"], "one label per row"),
        ({"ok.svm": "1 1:1\n2 2:1\n"}, ["train", "{d}/ok.svm", "-o", "{d}/nofolder/m.sklsh"], "No such folder"),
        ({"m.sklsh": "not a model"}, ["predict", "{d}/m.sklsh", "{d}/m.sklsh"], "is not a model file"),
        ({}, ["evaluate", "{d}/none.sklsh", "{d}/x.svm"], "No such model file"),
    ],
)
def test_bad_files_give_a_clear_error_and_exit_2(tmp_path, capsys, files, argv, message):
    for name, text in files.items():
        if name.endswith(".npz"):
            np.savez(tmp_path / name, X=np.ones((2, 2)))
        else:
            (tmp_path / name).write_text(text)
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_pickled_non_model_is_refused(tmp_path, capsys):
    joblib.dump({"not": "a model"}, tmp_path / "m.joblib")
    (tmp_path / "x.svm").write_text("1 1:1\n")
    assert main(["predict", str(tmp_path / "m.joblib"), str(tmp_path / "x.svm"), "--allow-unsafe-pickle"]) == 2
    assert "not an LSHSoftmaxClassifier" in capsys.readouterr().err


def test_train_refuses_to_overwrite_before_training(tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.sklsh"
    model.write_bytes(b"precious")
    monkeypatch.setattr("sklearn_lsh._cli._train", lambda *a, **k: pytest.fail("trained before checking"))
    assert main(["train", str(SECTOR / "sector.heldout"), "-o", str(model)]) == 2
    assert model.read_bytes() == b"precious"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["partition", "--n-classes", "0"], "must be at least 1"),
        (["demo", "--epochs", "x"], "expected an integer"),
        (["train", "a.svm", "-o", "m", "--eta0", "-1"], "must be a positive number"),
        (["train", "a.svm", "-o", "m", "--alpha", "nan"], "non-negative"),
        (["train", "a.svm"], "required: -o/--output"),
        (["predict", "m", "x", "--retrieval", "fast"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_with_a_usage_error(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_every_option_is_explained_in_help():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == {"demo", "train", "predict", "evaluate", "partition"}
    for name, sub in subparsers.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def _option(parser, command, flag):
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return next(a for a in subparsers.choices[command]._actions if flag in a.option_strings)


def test_choices_are_read_from_the_registries(monkeypatch):
    parser = build_parser()
    for command in ("train", "predict", "evaluate"):
        formats = _option(parser, command, "--format")
        assert tuple(formats.choices) == ("auto", *DATA_FILE_FORMATS) and formats.default == "auto"
        assert "svmlight: svmlight/libsvm text" in formats.help and "npz for .npz files" in formats.help
    constraints = LSHSoftmaxClassifier._parameter_constraints
    for flag, param in (("--estimator", "estimator"), ("--logit-adjustment-form", "logit_adjustment_form")):
        action = _option(parser, "train", flag)
        default = LSHSoftmaxClassifier().get_params()[param]
        assert action.default == action.choices[0] == default  # the default first, then sorted
        options = set().union(*(c.options for c in constraints[param]))
        assert action.choices[1:] == sorted(options - {default})
    # A new estimator or format reaches the command line without touching it.
    monkeypatch.setitem(constraints, "estimator", [StrOptions({"auto"}), StrOptions({"lsh", "exact", "new-sampler"})])

    def read_tsv(path, *, zero_based):
        """Tab-separated values."""

    monkeypatch.setitem(DATA_FILE_FORMATS, "tsv", read_tsv)
    parser = build_parser()
    assert _option(parser, "train", "--estimator").choices == ["auto", "exact", "lsh", "new-sampler"]
    formats = _option(parser, "predict", "--format")
    assert "tsv" in formats.choices and "tsv: Tab-separated values" in formats.help


def test_entry_points_help():
    out = subprocess.run([sys.executable, "-m", "sklearn_lsh", "--help"], capture_output=True, text=True, check=True)
    for command in ("demo", "train", "predict", "evaluate", "partition"):
        assert command in out.stdout
    out = subprocess.run([sys.executable, "-m", "sklearn_lsh", "train", "--help"], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert "--zero-based" in out.stdout and "--force" in out.stdout
