"""Word n-gram language models in ARPA format: a reader for decoding and a builder.

``build_arpa`` estimates interpolated modified Kneser-Ney (Chen & Goodman) and writes it as a
standard backoff ARPA file: each seen n-gram carries its interpolated probability and each
history the interpolation weight as its backoff, so any ARPA reader (KenLM's included) gets
distributions that sum to one. ``ArpaLM`` reads such files (ours or KenLM's) and scores words
in natural log, as beam search wants. stdlib only: a device needs no toolkit to use an LM.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from runtime.errors import EdgeASRError
from runtime.fileio import write_text
from runtime.text import normalize_text

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LN10 = math.log(10.0)
NO_PROB = -99.0  # log10 probability ARPA files give <s>, which is never predicted


class LMError(EdgeASRError):
    """A missing or malformed ARPA file, or bad input to the builder."""


# --------------------------------------------------------------------------------------------
# reading


class ArpaLM:
    """A backoff n-gram model; ``score`` returns natural-log P(word | history)."""

    def __init__(
        self,
        ngrams: list[dict[tuple[str, ...], tuple[float, float]]],
        unk_floor: float = -10.0 * LN10,
    ) -> None:
        # ngrams[n - 1][words] = (ln prob, ln backoff)
        self.ngrams = ngrams
        self.order = len(ngrams)
        self.unk_floor = unk_floor
        self.has_unk = (UNK,) in ngrams[0]
        self.vocab = {w for (w,) in ngrams[0]}

    @classmethod
    def load(cls, path: str | os.PathLike, unk_floor: float = -10.0 * LN10) -> ArpaLM:
        """Read an ARPA file (``.gz`` too); a malformed one raises LMError with the line."""
        path = Path(path)
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as fh:
                return cls(_parse(fh, str(path)), unk_floor)
        except FileNotFoundError:
            raise LMError(f"{path}: no such ARPA file") from None
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
            raise LMError(f"{path}: not a text ARPA file ({exc})") from None
        except IsADirectoryError:
            raise LMError(f"{path}: is a directory, not an ARPA file") from None

    @classmethod
    def from_text(cls, text: str, name: str = "<arpa>") -> ArpaLM:
        return cls(_parse(text.splitlines(), name))

    @functools.cached_property
    def word_prefixes(self) -> set[str]:
        """Every prefix of every word (the decoder penalizes partial words outside it)."""
        return {w[:i] for w in self.vocab for i in range(len(w) + 1)}

    def _map(self, word: str) -> str:
        return word if word in self.vocab else UNK

    def score(self, word: str, history: Sequence[str] = ()) -> float:
        """ln P(word | history) with standard backoff. Out-of-vocabulary words score as
        ``<unk>``, or ``unk_floor`` when the model has no ``<unk>``."""
        w = self._map(word)
        if w == UNK and not self.has_unk:
            return self.unk_floor
        keep = self.order - 1
        hist = tuple(self._map(h) for h in history[max(0, len(history) - keep) :]) if keep else ()
        backoff = 0.0
        for i in range(len(hist) + 1):
            ctx = hist[i:]
            entry = self.ngrams[len(ctx)].get((*ctx, w))
            if entry is not None:
                return backoff + entry[0]
            ctx_entry = self.ngrams[len(ctx) - 1].get(ctx) if ctx else None
            if ctx_entry is not None:
                backoff += ctx_entry[1]
        return self.unk_floor  # unreachable for a well-formed model (every word is a unigram)

    def sentence_score(self, words: str | Sequence[str]) -> float:
        """ln P of a sentence, from ``<s>`` to ``</s>``."""
        if isinstance(words, str):
            words = words.split()
        hist: list[str] = [BOS]
        total = 0.0
        for w in [*words, EOS]:
            total += self.score(w, hist)
            hist.append(w)
        return total


def _parse(lines: Iterable[str], name: str) -> list[dict[tuple[str, ...], tuple[float, float]]]:
    counts: dict[int, int] = {}
    tables: list[dict[tuple[str, ...], tuple[float, float]]] = []
    section = "start"  # start -> data -> ngrams -> end
    order = 0
    lineno = 0

    def fail(msg: str) -> LMError:
        return LMError(f"{name}: line {lineno}: {msg}")

    for lineno, raw in enumerate(lines, 1):  # noqa: B007 (fail() reads lineno)
        line = raw.strip()
        if not line:
            continue
        if section == "start":
            if line == "\\data\\":
                section = "data"
            continue  # text before \data\ is a comment
        if section == "end":
            continue
        if line == "\\end\\":
            if section == "data":
                raise fail("\\end\\ before any n-gram section")
            section = "end"
            continue
        if line.startswith("\\") and line.endswith("-grams:"):
            try:
                n = int(line[1 : -len("-grams:")])
            except ValueError:
                raise fail(f"bad section header {line!r}") from None
            if n != order + 1 or n not in counts:
                raise fail(f"unexpected section {line!r} (expected \\{order + 1}-grams:)")
            if order and len(tables[-1]) != counts[order]:
                raise fail(
                    f"\\{order}-grams: has {len(tables[-1])} entries, \\data\\ says {counts[order]}"
                )
            order = n
            tables.append({})
            section = "ngrams"
            continue
        if section == "data":
            if not line.startswith("ngram "):
                raise fail(f"expected 'ngram N=COUNT' in \\data\\, got {line!r}")
            try:
                n_str, c_str = line[len("ngram ") :].split("=")
                n, c = int(n_str), int(c_str)
            except ValueError:
                raise fail(f"bad count line {line!r}") from None
            if n != len(counts) + 1 or c < 0:
                raise fail(f"bad count line {line!r}")
            counts[n] = c
            continue
        fields = line.split()
        if len(fields) not in (order + 1, order + 2):
            raise fail(f"a {order}-gram line needs {order + 1} or {order + 2} fields: {line!r}")
        try:
            prob = float(fields[0])
            bow = float(fields[order + 1]) if len(fields) == order + 2 else 0.0
        except ValueError:
            raise fail(f"bad number in {line!r}") from None
        if math.isnan(prob) or prob > 0 or math.isnan(bow):
            raise fail(f"bad log10 probability in {line!r}")
        tables[-1][tuple(fields[1 : order + 1])] = (prob * LN10, bow * LN10)
    if section == "start":
        raise LMError(f"{name}: not an ARPA file (no \\data\\ section)")
    if section != "end":
        raise LMError(f"{name}: truncated ARPA file (no \\end\\)")
    if len(tables) != len(counts):
        raise LMError(f"{name}: \\data\\ declares {len(counts)} orders, found {len(tables)}")
    if len(tables[-1]) != counts[order]:
        raise LMError(
            f"{name}: \\{order}-grams: has {len(tables[-1])} entries, \\data\\ says {counts[order]}"
        )
    if not tables[0]:
        raise LMError(f"{name}: no unigrams")
    return tables


# --------------------------------------------------------------------------------------------
# building


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
