"""Penn Treebank reader and next-word features for log-linear language models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

EOS = "<eos>"
PTB_SPLITS = ("train", "valid", "test")
def read_tokens(path) -> list[str]:
    """Whitespace tokens of a text file, ``<eos>`` appended to every line."""
    tokens: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            tokens.extend(line.split())
            tokens.append(EOS)
    return tokens


def load_ptb(data_home) -> dict[str, list[str]]:
    """The Penn Treebank language-model splits as token lists.

    Parameters
    ----------
    data_home : str or Path
        Folder with ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt``
        (Mikolov's 10k-word version; e.g. ``../shared/data/ptb``).

    Returns
    -------
    splits : dict with keys "train", "valid", "test"
        Token lists, ``<eos>`` at every sentence end.
    """
    data_home = Path(data_home)
    missing = [s for s in PTB_SPLITS if not (data_home / f"ptb.{s}.txt").is_file()]
    if missing:
        raise FileNotFoundError(
            f"No Penn Treebank file(s) {[f'ptb.{s}.txt' for s in missing]} in {str(data_home)!r}; pass the folder "
            "that holds ptb.train.txt, ptb.valid.txt and ptb.test.txt."
        )
    return {s: read_tokens(data_home / f"ptb.{s}.txt") for s in PTB_SPLITS}


UNK = "<unk>"


def load_brown(path, *, test_every: int = 10) -> dict[str, list[str]]:
    """The Brown corpus (NLTK's ``brown.zip``) as next-word token lists.

    Words are lower-cased with their part-of-speech tags removed, ``<eos>``
    ends every sentence (line). The split is by file, not by row (no text
    is shared between the splits): every ``test_every``-th file id in
    sorted order is "test", the others "train". Test words never seen in
    training become ``<unk>``, which is then part of the vocabulary.

    Parameters
    ----------
    path : str or Path
        ``brown.zip`` (e.g. ``../shared/data/brown/brown.zip``).
    test_every : int, default=10
        One file in ``test_every`` goes to the test split.

    Returns
    -------
    splits : dict with keys "train" and "test"
        Token lists.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No Brown corpus file {str(path)!r}; pass the path of NLTK's brown.zip.")
    if int(test_every) < 2:
        raise ValueError(f"test_every must be an int >= 2, got {test_every!r}.")
    splits: dict[str, list[str]] = {"train": [], "test": []}
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.count("/") == 1 and n.split("/")[1][:1].isalpha()
                       and n.split("/")[1][1:2].isalpha() and n.split("/")[1][2:].isdigit())  # fmt: skip
        if not names:
            raise ValueError(f"{str(path)!r} holds no Brown corpus files (brown/ca01, ...).")
        for number, name in enumerate(names):
            tokens = splits["test" if number % test_every == test_every - 1 else "train"]
            for line in archive.read(name).decode("utf-8").splitlines():
                words = [token.rsplit("/", 1)[0].lower() for token in line.split()]
                if words:
                    tokens.extend(words)
                    tokens.append(EOS)
    known = set(splits["train"])
    known.add(UNK)
    splits["train"].append(UNK)  # a position whose target is <unk>, so that it is a class
    splits["test"] = [word if word in known else UNK for word in splits["test"]]
    return splits


class NextWordFeatures:
    """Features for next-word prediction: embeddings of the previous words.

    For position t the features are the concatenated embeddings of tokens
    t-1, ..., t-context_size (positions before the start use ``<eos>``,
    i.e. the previous sentence end), and the target is token t. The word
    embeddings are learned from the training tokens only: a positive
    pointwise mutual information (PPMI) matrix of co-occurrences within
    ``window`` words (context counts smoothed by ``** 0.75``), factored by a
    randomized truncated SVD; each word vector is ``U * sqrt(S)`` scaled to
    unit norm.

    Parameters
    ----------
    context_size : int, default=3
    n_components : int, default=64
    window : int, default=2
    random_state : int, default=0
        Seed of the randomized SVD.

    Attributes
    ----------
    vocabulary_ : ndarray of str
        The words, sorted; a word's class id is its position.
    embeddings_ : ndarray of shape (n_words, n_components), float32

    Examples
    --------
    >>> from sklearn_lsh.datasets import NextWordFeatures
    >>> tokens = "the cat sat on the mat <eos> the dog sat on the log <eos>".split()
    >>> feats = NextWordFeatures(context_size=2, n_components=3).fit(tokens)
    >>> X, y = feats.transform(tokens)
    >>> X.shape, y.shape, str(feats.vocabulary_[y[1]])
    ((14, 6), (14,), 'cat')
    """

    def __init__(self, context_size: int = 3, n_components: int = 64, window: int = 2, random_state: int = 0):
        self.context_size = context_size
        self.n_components = n_components
        self.window = window
        self.random_state = random_state

    def fit(self, tokens) -> "NextWordFeatures":
        """Learn the vocabulary and the word embeddings from training tokens.

        Parameters
        ----------
        tokens : sequence of str
            Training tokens, ``<eos>`` at sentence ends (e.g. ``fetch_ptb().train``).

        Returns
        -------
        self : NextWordFeatures
        """
        words = np.asarray(tokens)
        if words.ndim != 1 or words.shape[0] <= self.window:
            raise ValueError(
                f"tokens must be a flat sequence of more than window={self.window} words, got an array of shape "
                f"{words.shape}."
            )
        self.vocabulary_, ids = np.unique(words, return_inverse=True)
        if EOS not in set(self.vocabulary_.tolist()):
            self.vocabulary_ = np.sort(np.append(self.vocabulary_, EOS))
            ids = np.searchsorted(self.vocabulary_, words)
        n_words = self.vocabulary_.shape[0]
        rows, cols = [], []
        for offset in range(1, self.window + 1):
            rows += [ids[:-offset], ids[offset:]]
            cols += [ids[offset:], ids[:-offset]]
        counts = sp.csr_matrix(
            (np.ones(sum(r.shape[0] for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_words, n_words),
        )
        counts.sum_duplicates()
        total = counts.sum()
        word_p = np.asarray(counts.sum(axis=1)).ravel() / total
        context = np.asarray(counts.sum(axis=0)).ravel() ** 0.75
        context_p = context / context.sum()
        coo = counts.tocoo()
        pmi = np.log(coo.data / total) - np.log(word_p[coo.row]) - np.log(context_p[coo.col])
        keep = pmi > 0
        ppmi = sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=(n_words, n_words))
        k = min(self.n_components, n_words - 1)
        U, S, _ = randomized_svd(ppmi, k, random_state=self.random_state)
        vectors = U * np.sqrt(S)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.embeddings_ = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return self

    def transform(self, tokens):
        """``(X, y)``: float32 features (n_tokens, context_size * n_components)
        and int64 target ids; unknown words raise a ValueError."""
        words = np.asarray(tokens)
        ids = np.searchsorted(self.vocabulary_, words)
        ids[ids >= self.vocabulary_.shape[0]] = 0
        unknown = self.vocabulary_[ids] != words
        if unknown.any():
            raise ValueError(f"Tokens not in the training vocabulary: {np.unique(words[unknown])[:5]!r}.")
        eos = int(np.searchsorted(self.vocabulary_, EOS))
        padded = np.concatenate([np.full(self.context_size, eos), ids])
        n = ids.shape[0]
        blocks = [self.embeddings_[padded[self.context_size - c : self.context_size - c + n]]
                  for c in range(1, self.context_size + 1)]  # fmt: skip
        return np.hstack(blocks), ids.astype(np.int64)
