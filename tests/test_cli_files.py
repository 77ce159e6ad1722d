"""The command line's files (issue 21, items 1 and 5): model files that run
no code when read, output paths checked before any work, one-line errors
with exit status 2, temporary files of killed runs, the umask, -k, and
line numbers in data errors. One test (or parameter) per case."""

import errno
import io
import os
import pickle
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

import sklearn_lsh
from sklearn_lsh import LSHSoftmaxClassifier, load_model, save_model
from sklearn_lsh import _persistence
from sklearn_lsh._cli import main

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _data(folder, n=240, n_classes=6, seed=0):
    """A small svmlight file: class c has large values in features 3c+1..3c+3."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        c = i % n_classes
        feats = sorted({3 * c + 1 + int(j) for j in rng.integers(0, 3, 2)} | {int(rng.integers(1, 3 * n_classes + 1))})
        lines.append(f"{c} " + " ".join(f"{j}:{rng.uniform(0.5, 1.5):.3f}" for j in feats))
    path = Path(folder) / "train.svm"
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(data, model, *extra):
    return main(["train", str(data), "-o", str(model), "--epochs", "2", "--n-bits", "2", "--n-tables", "4",
                 "--no-progress", *extra])  # fmt: skip


@pytest.fixture
def trained(tmp_path):
    data = _data(tmp_path)
    model = tmp_path / "m.sklsh"
    assert _train(data, model) == 0
    return data, model


def _one_line_error(capsys_or_err, code, expected):
    err = capsys_or_err if isinstance(capsys_or_err, str) else capsys_or_err.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("sklearn-lsh ") and ": error: " in lines[0], err
    assert expected in lines[0], err


def _no_work(monkeypatch):
    """Fail the test if a command reads its data or trains."""
    monkeypatch.setattr("sklearn_lsh._cli._read_data", lambda *a, **k: pytest.fail("read the data"))
    monkeypatch.setattr("sklearn_lsh._cli._train", lambda *a, **k: pytest.fail("trained"))


def _parts(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".part"))


# ---------------------------------------------------------------- safe loading
class _CreatesAFile:
    """Unpickling this creates the file ``path`` (through builtins.open)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("name", ["evil.joblib", "evil.sklsh"])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, capsys, command, name):
    data = _data(tmp_path)
    marker = tmp_path / "created-by-the-pickle"
    evil = tmp_path / name
    evil.write_bytes(pickle.dumps(_CreatesAFile(marker)))
    for _ in range(4):
        _one_line_error(capsys, main([command, str(evil), str(data)]), "--allow-unsafe-pickle")
        assert not marker.exists()
    # joblib's compressed files are recognised too
    joblib.dump(_CreatesAFile(marker), evil, compress=3)
    _one_line_error(capsys, main([command, str(evil), str(data)]), "can run any code")
    assert not marker.exists()
    # The payload is real: with the flag that names the risk, it runs.
    code = main([command, str(evil), str(data), "--allow-unsafe-pickle"])
    _one_line_error(capsys, code, "not an LSHSoftmaxClassifier")
    assert marker.exists()


def test_a_trained_model_round_trips_in_a_fresh_process_with_identical_predictions(tmp_path, monkeypatch, capsys):
    data = _data(tmp_path)
    model = tmp_path / "m.sklsh"
    saved = []

    def keep(clf, f):
        saved.append(clf)
        save_model(clf, f)

    monkeypatch.setattr("sklearn_lsh._cli.save_model", keep)
    assert _train(data, model) == 0
    clf = saved[0]
    X, _ = sklearn_lsh.datasets.load_data_file(data, n_features=clf.n_features_in_)
    for retrieval in ("exact", "lsh"):
        labels, proba = clf.predict_topk(X, k=3, retrieval=retrieval)
        expected = ["\t".join([str(i), *map(str, labels[i]), *(f"{p:.6g}" for p in proba[i])])
                    for i in range(X.shape[0])]  # fmt: skip
        argv = ["predict", str(model), str(data), "-k", "3", "--retrieval", retrieval]
        out = subprocess.run([sys.executable, "-m", "sklearn_lsh", *argv], capture_output=True, text=True, env=ENV,
                             check=True)  # fmt: skip
        assert out.stdout.splitlines()[1:] == expected
    # the file holds no pickle: every array member is a plain .npy
    with zipfile.ZipFile(model) as archive:
        for name in archive.namelist():
            if name.endswith(".npy"):
                np.lib.format.read_array(io.BytesIO(archive.read(name)), allow_pickle=False)


# ------------------------------------------------------------ the output path
def test_a_missing_output_folder_fails_before_reading_data(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    _one_line_error(capsys, _train(tmp_path / "data.svm", tmp_path / "nosuchdir" / "m.sklsh"), "No such folder")
    code = main(["predict", str(tmp_path / "m.sklsh"), "x.svm", "-o", str(tmp_path / "nosuchdir" / "p.tsv")])
    _one_line_error(capsys, code, "No such folder")


def test_an_output_folder_that_is_a_file_fails_before_reading_data(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    (tmp_path / "afile").write_text("")
    _one_line_error(capsys, _train(tmp_path / "data.svm", tmp_path / "afile" / "m.sklsh"), "is not a folder")


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_an_output_that_is_a_directory_fails_before_reading_data(tmp_path, capsys, monkeypatch, force):
    _no_work(monkeypatch)
    (tmp_path / "adir").mkdir()
    _one_line_error(capsys, _train(tmp_path / "data.svm", tmp_path / "adir", *force), "is a directory")
    code = main(["predict", "m.sklsh", "x.svm", "-o", str(tmp_path / "adir"), *force])
    _one_line_error(capsys, code, "is a directory")


def test_an_existing_output_fails_before_reading_data_without_force(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    (tmp_path / "m.sklsh").write_bytes(b"precious")
    _one_line_error(capsys, _train(tmp_path / "data.svm", tmp_path / "m.sklsh"), "pass --force")
    assert (tmp_path / "m.sklsh").read_bytes() == b"precious"


def test_a_pickle_suffix_is_refused_before_reading_data(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    _one_line_error(capsys, _train(tmp_path / "data.svm", tmp_path / "m.joblib"), "'m.sklsh'")


def _in_unprivileged_child(function):
    """``function()`` with write permission bits enforced: directly, or for
    root (who may write anywhere) in a forked child that drops to nobody.
    Returns its exit status."""
    if os.geteuid() != 0:
        return function()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.setgid(65534)
            os.setuid(65534)
            code = function()
        finally:
            sys.stderr.flush()
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_an_unwritable_output_folder_fails_before_reading_data(capfd, monkeypatch):
    _no_work(monkeypatch)
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # world-traversable, unlike pytest's tmp_path
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        code = _in_unprivileged_child(lambda: _train(base / "data.svm", locked / "m.sklsh"))
        _one_line_error(capfd.readouterr().err, code, "Cannot write in the folder")
        assert not list(locked.iterdir())
    finally:
        (base / "locked").chmod(0o755)
        for path in sorted(base.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        base.rmdir()


# ------------------------------------------------------------- write failures
class _FullDisk(io.RawIOBase):
    """A raw file on a disk that fills up after ``budget`` bytes."""

    def __init__(self, fd, budget):
        self.fd, self.left = fd, budget

    def writable(self):
        return True

    def write(self, data):
        if self.left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(self.fd, bytes(data)[: self.left])
        self.left -= n
        return n

    def fileno(self):
        return self.fd

    def close(self):
        if not self.closed:
            os.close(self.fd)
        super().close()


def test_a_full_disk_is_a_one_line_error_and_keeps_the_previous_model(trained, capsys, monkeypatch):
    data, model = trained
    before = model.read_bytes()
    def full_disk_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int) and "w" in mode:  # the temporary file atomic_write creates
            return io.BufferedWriter(_FullDisk(file, 1000))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(_persistence, "open", full_disk_open, raising=False)
    capsys.readouterr()
    _one_line_error(capsys, _train(data, model, "--force"), "No space left on device")
    assert model.read_bytes() == before and _parts(model.parent) == []
    out = model.parent / "p.tsv"
    _one_line_error(capsys, main(["predict", str(model), str(data), "-o", str(out)]), "No space left on device")
    assert not out.exists() and _parts(model.parent) == []


_KILLED_WHILE_WRITING = textwrap.dedent(
    """
    import os, signal, sys, time
    import sklearn_lsh._cli as cli

    def save_model(model, f):
        f.write(b"PK half a model")
        f.flush()
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        print("writing", flush=True)
        time.sleep(60)

    cli.save_model = save_model
    sys.exit(cli.main(sys.argv[2:]))
    """
)


def _train_argv(data, model):
    return ["train", str(data), "-o", str(model), "--epochs", "1", "--n-bits", "2", "--n-tables", "2", "--no-progress"]


def test_a_killed_run_leaves_a_part_file_that_the_next_run_removes(tmp_path, capsys):
    data = _data(tmp_path)
    model = tmp_path / "m.sklsh"
    run = subprocess.run([sys.executable, "-c", _KILLED_WHILE_WRITING, "kill", *_train_argv(data, model)], env=ENV,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == -signal.SIGKILL, run.stderr
    (stale,) = _parts(tmp_path)
    assert stale.startswith(".m.sklsh.") and not model.exists()
    # temporary files of live processes and of other hosts are left alone
    host = _persistence._host_tag()
    other_host = f".m.sklsh.{'0' * 8 if host != '0' * 8 else '1' * 8}-12345-abcdef01.part"
    live = f".m.sklsh.{host}-{os.getpid()}-abcdef01.part"
    for name in (other_host, live):
        (tmp_path / name).write_bytes(b"")
    assert main(_train_argv(data, model)) == 0
    assert f"removed '{stale}'" in capsys.readouterr().err
    assert _parts(tmp_path) == sorted([other_host, live]) and load_model(model).classes_.shape == (6,)


def test_sigterm_while_writing_removes_the_part_file(tmp_path):
    data = _data(tmp_path)
    model = tmp_path / "m.sklsh"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_WRITING, "term", *_train_argv(data, model)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "writing"
    assert len(_parts(tmp_path)) == 1
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1] == "sklearn-lsh train: interrupted (SIGTERM); no output file was written."
    assert _parts(tmp_path) == [] and not model.exists()


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_outputs_honour_the_umask(tmp_path, umask):
    data = _data(tmp_path)
    previous = os.umask(umask)
    try:
        assert _train(data, tmp_path / "m.sklsh") == 0
        assert main(["predict", str(tmp_path / "m.sklsh"), str(data), "-o", str(tmp_path / "p.tsv")]) == 0
    finally:
        os.umask(previous)
    for name in ("m.sklsh", "p.tsv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


# --------------------------------------------------------------- model files
def test_an_unfitted_model_is_a_one_line_error(tmp_path, capsys):
    save_model(LSHSoftmaxClassifier(), tmp_path / "u.sklsh")
    _one_line_error(capsys, main(["predict", str(tmp_path / "u.sklsh"), "x.svm"]), "never fitted")


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "text renamed", "empty", "other zip"])
def test_a_corrupt_model_file_is_a_one_line_error(trained, capsys, damage):
    data, model = trained
    good = model.read_bytes()
    bad = model.parent / "bad.joblib"
    if damage == "truncated":
        bad.write_bytes(good[: len(good) // 2])
    elif damage == "flipped byte":
        broken = bytearray(good)
        broken[len(good) // 2] ^= 0xFF  # inside the weights' .npy
        bad.write_bytes(bytes(broken))
    elif damage == "text renamed":
        bad.write_text("a text file\n" * 50)
    elif damage == "empty":
        bad.write_bytes(b"")
    else:
        with open(bad, "wb") as f:
            np.savez(f, X=np.ones(3))
    for flags in ([], ["--allow-unsafe-pickle"]):
        _one_line_error(capsys, main(["evaluate", str(bad), str(data), *flags]), str(bad))


def test_a_directory_as_model_or_data_is_a_one_line_error(trained, capsys):
    data, model = trained
    _one_line_error(capsys, main(["predict", str(data.parent), str(data)]), "is a directory, not a model file")
    _one_line_error(capsys, main(["predict", str(model), str(data.parent)]), "is a directory, not a data file")
    _one_line_error(capsys, main(["train", str(data.parent), "-o", str(data.parent / "n.sklsh")]),
                    "is a directory, not a data file")  # fmt: skip


@pytest.mark.parametrize("command, ks", [("evaluate", ["1", "500"]), ("predict", ["7"])])
def test_k_above_the_number_of_classes_is_a_one_line_error_before_reading_data(trained, capsys, monkeypatch,
                                                                                command, ks):  # fmt: skip
    data, model = trained
    monkeypatch.setattr("sklearn_lsh._cli._read_data", lambda *a, **k: pytest.fail("read the data"))
    _one_line_error(capsys, main([command, str(model), str(data), "-k", *ks]),
                    f"-k {ks[-1]} is more than the model's 6 classes")  # fmt: skip


def test_k_equal_to_the_number_of_classes_reports_every_cutoff(trained, capsys):
    data, model = trained
    assert main(["evaluate", str(model), str(data), "-k", "1", "6", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"P@6"' in out and '"nDCG@6"' in out


# ---------------------------------------------------------------- data files
@pytest.mark.parametrize(
    "text, line, message",
    [
        ("1 1:1\n2 2:1\n3 a:b\n", 3, "'a:b' is not 'index:value'"),
        ("1 1:1\n# a comment\n\n2 2\n", 4, "'2' is not 'index:value'"),
        ("1 1:1\nx 2:1\n", 2, "the label 'x' is not a number"),
        ("1 1:1\n2 3:1 2:1\n", 2, "sorted and unique"),
        ("1 1:1\n2 0:1\n", 2, "pass --zero-based"),
        ("1 1:1\n2 99999999999:1\n", 2, "too large"),
        ("3 4 2\n0 0:1\n1 1:1 2\n", 3, "'2' is not 'index:value'"),  # XC repository format, header on line 1
    ],
)
def test_malformed_data_lines_are_reported_with_their_line_number(tmp_path, capsys, text, line, message):
    (tmp_path / "bad.txt").write_text(text)
    code = main(["train", str(tmp_path / "bad.txt"), "-o", str(tmp_path / "m.sklsh")])
    _one_line_error(capsys, code, f"line {line}: ")
    assert not (tmp_path / "m.sklsh").exists()


def test_malformed_data_line_messages_name_the_reason(tmp_path):
    cases = {"1 1:1\n2 a:b\n": "'a:b' is not 'index:value'", "1 1:1\nx 2:1\n": "the label 'x' is not a number"}
    for text, reason in cases.items():
        (tmp_path / "bad.svm").write_text(text)
        with pytest.raises(ValueError, match=f"line 2: {reason}"):
            sklearn_lsh.datasets.load_data_file(tmp_path / "bad.svm")


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"sklearn-lsh {sklearn_lsh.__version__}"
    out = subprocess.run([sys.executable, "-m", "sklearn_lsh", "--version"], capture_output=True, text=True, env=ENV,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == f"sklearn-lsh {sklearn_lsh.__version__}"


def test_stdout_write_errors_are_one_line(trained, capsys, monkeypatch):
    data, model = trained

    class Full(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sys, "stdout", Full())
    _one_line_error(capsys, main(["predict", str(model), str(data)]), "Cannot write to standard output")


def test_interrupting_training_writes_nothing(tmp_path, capsys, monkeypatch):
    data = _data(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sklearn_lsh._cli._train", interrupted)
    assert _train(data, tmp_path / "m.sklsh") == 128 + signal.SIGINT
    assert "interrupted (SIGINT)" in capsys.readouterr().err
    assert not (tmp_path / "m.sklsh").exists() and _parts(tmp_path) == []
