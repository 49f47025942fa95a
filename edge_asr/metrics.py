"""Character and word error rates, corpus-level (total edits / total reference length).

Corpus-level rates weigh long utterances by their length, which is what a listener notices and
what the seed project's report used; averaging per-utterance rates would let one short, badly
recognized utterance swamp the number. One implementation here is shared by training
(validation CER), ``edge-asr evaluate``, the converters' parity gate and the validation report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import editdistance


@dataclass(frozen=True)
class ErrorCount:
    """Edits (substitutions + deletions + insertions) against a reference of ``length`` units."""

    edits: int
    length: int

    @property
    def rate(self) -> float:
        return rate(self.edits, self.length)


def rate(edits: int, length: int) -> float:
    """``edits / length``; an empty reference scores 0 when nothing was hypothesized, else 1."""
    if length == 0:
        return 0.0 if edits == 0 else 1.0
    return edits / length


def char_errors(reference: str, hypothesis: str) -> ErrorCount:
    """Character edits of one utterance (spaces count as characters, as in the seed)."""
    return ErrorCount(int(editdistance.eval(reference, hypothesis)), len(reference))


def word_errors(reference: str, hypothesis: str) -> ErrorCount:
    """Word edits of one utterance (words split on whitespace)."""
    ref, hyp = reference.split(), hypothesis.split()
    return ErrorCount(int(editdistance.eval(ref, hyp)), len(ref))


def _check(refs: Sequence[str], hyps: Sequence[str]) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus character error rate: total character edits / total reference characters."""
    _check(refs, hyps)
    counts = [char_errors(r, h) for r, h in zip(refs, hyps, strict=True)]
    return rate(sum(c.edits for c in counts), sum(c.length for c in counts))


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus word error rate: total word edits / total reference words."""
    _check(refs, hyps)
    counts = [word_errors(r, h) for r, h in zip(refs, hyps, strict=True)]
    return rate(sum(c.edits for c in counts), sum(c.length for c in counts))
