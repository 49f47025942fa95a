"""Word n-gram language models in ARPA format: the reader beam search decodes with.

``ArpaLM`` reads standard backoff ARPA files (``edge_asr.lm``'s or KenLM's) and scores words in
natural log, as beam search wants. stdlib only: a device needs no toolkit to use an LM. Building
one is a tooling job (``edge_asr.lm``, ``edge-asr lm build``).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from runtime.errors import EdgeASRError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LN10 = math.log(10.0)


class LMError(EdgeASRError):
    """A missing or malformed ARPA file, or bad input to the builder (``edge_asr.lm``)."""


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
