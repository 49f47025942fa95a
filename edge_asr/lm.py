"""Building word n-gram language models: interpolated modified Kneser-Ney, written as ARPA.

Tooling, not device code: a device only reads ARPA files (``runtime.lm.ArpaLM``). The model is
estimated as in Chen & Goodman and written as a standard backoff ARPA file: each seen n-gram
carries its interpolated probability and each history the interpolation weight as its backoff,
so any ARPA reader (KenLM's included) gets distributions that sum to one.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable

from runtime.fileio import write_text
from runtime.lm import BOS, EOS, UNK, LMError
from runtime.text import normalize_text

NO_PROB = -99.0  # log10 probability ARPA files give <s>, which is never predicted


def _discounts(count_of_counts: Counter) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts of counts; on data too small for
    them, the single discount n1 / (n1 + 2 n2), and 0.5 when even that is undefined."""
    n1, n2, n3, n4 = (count_of_counts.get(i, 0) for i in (1, 2, 3, 4))
    if n1 and n2 and n3 and n4:
        y = n1 / (n1 + 2 * n2)
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if 0 < d[0] < 1 and 0 < d[1] < 2 and 0 < d[2] < 3:
            return d
    if n1 and n2:
        single = n1 / (n1 + 2 * n2)
        if 0 < single < 1:
            return single, single, single
    return 0.5, 0.5, 0.5


def build_arpa(sentences: Iterable[str], order: int = 3) -> str:
    """An interpolated modified Kneser-Ney model of whitespace-split ``sentences`` as ARPA text.

    Counts: raw at the top order and for n-grams starting with ``<s>``; otherwise the number
    of distinct words seen before the n-gram (continuation counts). Unigrams interpolate with
    the uniform distribution over the vocabulary, ``</s>`` and ``<unk>``.
    """
    if order < 1:
        raise LMError(f"order must be >= 1, got {order}")
    raw: list[Counter] = [Counter() for _ in range(order)]
    n_sent = 0
    for s in sentences:
        words = s.split()
        if not words:
            continue
        if BOS in words or EOS in words:
            raise LMError(f"sentence {n_sent + 1} contains {BOS} or {EOS}: {s[:60]!r}")
        n_sent += 1
        toks = [BOS, *words, EOS]
        for n in range(1, order + 1):
            for i in range(len(toks) - n + 1):
                raw[n - 1][tuple(toks[i : i + n])] += 1
    if n_sent == 0:
        raise LMError("no sentences to build a language model from")

    # adjusted counts
    adjusted: list[dict[tuple[str, ...], int]] = [dict() for _ in range(order)]
    adjusted[order - 1] = dict(raw[order - 1])
    for n in range(order - 1, 0, -1):
        cont: Counter = Counter()
        for g in raw[n]:  # (n+1)-grams seen: each is one left extension of its suffix
            cont[g[1:]] += 1
        # every n-gram not starting with <s> follows some word, so its count here is >= 1
        adjusted[n - 1] = {g: c if g[0] == BOS else cont[g] for g, c in raw[n - 1].items()}
    adjusted[0].pop((BOS,), None)

    vocab = sorted({g[0] for g in adjusted[0]} | {EOS, UNK})
    probs: list[dict[tuple[str, ...], float]] = [dict() for _ in range(order)]
    backoffs: list[dict[tuple[str, ...], float]] = [dict() for _ in range(order)]

    for n in range(1, order + 1):
        adj = adjusted[n - 1]
        d1, d2, d3 = _discounts(Counter(min(c, 4) for c in adj.values()))

        def disc(c: int, d1: float = d1, d2: float = d2, d3: float = d3) -> float:
            return d1 if c == 1 else d2 if c == 2 else d3

        by_hist: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
        for g, c in adj.items():
            by_hist[g[:-1]].append((g[-1], c))
        for hist, entries in by_hist.items():
            total = sum(c for _, c in entries)
            gamma = sum(disc(c) for _, c in entries) / total
            if n == 1:
                lower = {w: 1.0 / len(vocab) for w in vocab}
                for w in vocab:
                    probs[0][(w,)] = gamma * lower[w]
                for w, c in entries:
                    probs[0][(w,)] += (c - disc(c)) / total
            else:
                backoffs[n - 2][hist] = gamma
                for w, c in entries:
                    lower_p = _interp(probs, backoffs, (*hist[1:], w))
                    probs[n - 1][(*hist, w)] = (c - disc(c)) / total + gamma * lower_p
    return _format_arpa(probs, backoffs)


def _interp(
    probs: list[dict[tuple[str, ...], float]],
    backoffs: list[dict[tuple[str, ...], float]],
    gram: tuple[str, ...],
) -> float:
    """P(gram[-1] | gram[:-1]) from the lower orders built so far (backoff semantics)."""
    weight = 1.0
    while True:
        p = probs[len(gram) - 1].get(gram)
        if p is not None:
            return weight * p
        ctx = gram[:-1]
        weight *= backoffs[len(ctx) - 1].get(ctx, 1.0)
        gram = gram[1:]


def _format_arpa(
    probs: list[dict[tuple[str, ...], float]], backoffs: list[dict[tuple[str, ...], float]]
) -> str:
    order = len(probs)
    probs[0][(BOS,)] = 0.0
    out = ["\\data\\"]
    out += [f"ngram {n}={len(probs[n - 1])}" for n in range(1, order + 1)]
    for n in range(1, order + 1):
        out += ["", f"\\{n}-grams:"]
        for g in sorted(probs[n - 1]):
            p = probs[n - 1][g]
            lp = NO_PROB if p <= 0 else math.log10(p)
            line = f"{lp:.8f}\t{' '.join(g)}"
            if n < order:
                bo = backoffs[n - 1].get(g)
                if bo is not None:
                    line += f"\t{math.log10(bo):.8f}"
            out.append(line)
    out += ["", "\\end\\", ""]
    return "\n".join(out)


def write_arpa(path: str | os.PathLike, sentences: Iterable[str], order: int = 3) -> None:
    """Build a model of ``sentences`` and write it to ``path`` atomically."""
    write_text(path, build_arpa(sentences, order))


def read_sentences(path: str | os.PathLike) -> list[str]:
    """Non-empty lines of a text file, each normalized with ``runtime.text.normalize_text``."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [normalize_text(line) for line in fh]
    except FileNotFoundError:
        raise LMError(f"{path}: no such text file") from None
    except UnicodeDecodeError as exc:
        raise LMError(f"{path}: not UTF-8 text ({exc})") from None
    except IsADirectoryError:
        raise LMError(f"{path}: is a directory, not a text file") from None
    sentences = [s for s in lines if s]
    if not sentences:
        raise LMError(f"{path}: no sentences (empty after normalization)")
    return sentences


def build_from_text_file(path: str | os.PathLike, order: int = 3) -> str:
    """ARPA text of a model of a sentence-per-line file (what ``edge-asr lm build`` writes)."""
    return build_arpa(read_sentences(path), order)
