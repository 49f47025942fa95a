"""CTC decoding on the device: best path, prefix beam search (optionally with a word LM,
a lexicon and hot words) and word timestamps. numpy + stdlib only.

Inputs are natural-log posteriors ``(T, V)`` with the blank in the last column (the bundle's
models emit softmax probabilities: take ``to_log_probs`` first). With the 29-symbol alphabet of
``runtime.text`` the space (index 1) separates words; other vocabulary sizes are decoded as plain
label sequences (that is what the exact brute-force tests use).

Why a prefix beam search of our own: the device cannot carry a C++ decoder, and a lean
pure-Python loop over (prefix, candidate) pairs, with numpy choosing the candidates of every
frame at once and blank-only stretches skipped in one step, is several times faster than
pyctcdecode on the same posteriors (see ``bench/decode.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from runtime.errors import EdgeASRError
from runtime.text import BLANK, NUM_CLASSES, SYMBOLS, int_to_text, normalize_text

SPACE = 1  # word separator in runtime.text.SYMBOLS
_AVG_WORD_LEN = 6  # a partial unknown word longer than this pays proportionally more
NEG = -math.inf
_ROOT = 0


class DecodeError(EdgeASRError):
    """Posteriors or decoder options that cannot be decoded (shape, NaN, probabilities...)."""


class WordScorer(Protocol):
    """What beam search needs from a language model (``runtime.lm.ArpaLM`` is one)."""

    order: int

    def score(self, word: str, history: tuple[str, ...]) -> float:
        """Natural-log P(word | history); ``history`` starts with ``"<s>"``."""
        ...


# --------------------------------------------------------------------------------------------
# input checks and helpers


def to_log_probs(probs: np.ndarray, floor: float = 1e-30) -> np.ndarray:
    """Natural-log posteriors from softmax probabilities (zeros become ``log(floor)``)."""
    return np.log(np.maximum(np.asarray(probs, dtype=np.float32), floor))


def _check(log_probs: Any) -> np.ndarray:
    lp = np.asarray(log_probs)
    if lp.ndim != 2 or lp.shape[1] < 2:
        raise DecodeError(f"log_probs must have shape (frames, classes), got {lp.shape}")
    if not np.issubdtype(lp.dtype, np.floating):
        raise DecodeError(f"log_probs must be floating point, got {lp.dtype}")
    if lp.size and np.isnan(lp).any():
        raise DecodeError("log_probs contains NaN")
    if lp.size and lp.max() > 1e-3:
        raise DecodeError(
            f"log_probs has positive values (max {float(lp.max()):.3g}): pass natural-log "
            "probabilities, e.g. runtime.decoding.to_log_probs(softmax_output)"
        )
    return lp


# --------------------------------------------------------------------------------------------
# best path


def greedy_decode_with_frames(log_probs: np.ndarray) -> tuple[list[int], list[int]]:
    """Best path (argmax per frame, repeats collapsed, blanks dropped) and the frame where each
    emitted label starts."""
    lp = _check(log_probs)
    if len(lp) == 0:
        return [], []
    blank = lp.shape[1] - 1
    best = lp.argmax(axis=1)
    starts = np.ones(len(best), dtype=bool)
    starts[1:] = best[1:] != best[:-1]
    keep = np.flatnonzero(starts & (best != blank))
    return best[keep].tolist(), keep.tolist()


def greedy_decode(log_probs: np.ndarray) -> list[int]:
    """Best-path labels (argmax per frame, repeats collapsed, blanks dropped)."""
    return greedy_decode_with_frames(log_probs)[0]


# --------------------------------------------------------------------------------------------
# forced alignment (exact frames for timestamps)


def ctc_align(log_probs: np.ndarray, labels: Sequence[int]) -> tuple[list[int], list[int]]:
    """Viterbi alignment of ``labels`` to the posteriors: the first and last frame of each label
    on the single most likely path. Used for timestamps so they do not depend on beam internals.
    """
    lp = _check(log_probs)
    n_lab = len(labels)
    if n_lab == 0:
        return [], []
    T, V = lp.shape
    blank = V - 1
    lp = np.maximum(lp.astype(np.float64), -1e10)  # -inf would make every path equal
    lab = np.asarray(labels, dtype=np.int64)
    ext = np.full(2 * n_lab + 1, blank, dtype=np.int64)
    ext[1::2] = lab
    S = len(ext)
    # a state may skip the blank before it when it is a label that differs from the one before
    skip = np.zeros(S, dtype=bool)
    skip[3::2] = lab[1:] != lab[:-1]
    need = n_lab + int(np.sum(lab[1:] == lab[:-1]))
    if need > T:
        raise DecodeError(f"{n_lab} labels cannot be aligned to {T} frames")
    score = np.full(S, -np.inf)
    score[0] = lp[0, blank]
    score[1] = lp[0, lab[0]]
    back = np.zeros((T, S), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, T):
        one = np.concatenate(([-np.inf], score[:-1]))
        two = np.concatenate(([-np.inf, -np.inf], score[:-2]))
        two[~skip] = -np.inf
        stacked = np.stack((score, one, two))
        choice = stacked.argmax(axis=0)
        score = stacked[choice, np.arange(S)] + lp[t, ext]
        back[t] = choice
    s = S - 1 if S == 1 or score[S - 1] >= score[S - 2] else S - 2
    states = np.empty(T, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        states[t] = s
        s -= back[t, s]
    starts = [0] * n_lab
    ends = [0] * n_lab
    prev = -1
    for t, st in enumerate(states.tolist()):
        if st % 2 == 1:
            u = st // 2
            if st != prev:
                starts[u] = t
            ends[u] = t
        prev = st
    return starts, ends


def ctc_log_likelihood(log_probs: np.ndarray, labels: Sequence[int]) -> float:
    """ln P(labels | posteriors): the CTC forward algorithm, summed over every alignment.
    The exact yardstick the beam search is checked (and benchmarked) against."""
    lp = _check(log_probs).astype(np.float64)
    T, V = lp.shape
    blank = V - 1
    lab = np.asarray(labels, dtype=np.int64)
    ext = np.full(2 * len(lab) + 1, blank, dtype=np.int64)
    ext[1::2] = lab
    S = len(ext)
    if T == 0:
        return 0.0 if S == 1 else NEG
    skip = np.zeros(S, dtype=bool)
    skip[3::2] = lab[1:] != lab[:-1]
    alpha = np.full(S, -np.inf)
    alpha[: min(2, S)] = lp[0, ext[: min(2, S)]]
    with np.errstate(invalid="ignore"):
        for t in range(1, T):
            one = np.concatenate(([-np.inf], alpha[:-1]))
            two = np.where(skip, np.concatenate(([-np.inf, -np.inf], alpha[:-2])), -np.inf)
            alpha = np.logaddexp(np.logaddexp(alpha, one), two) + lp[t, ext]
    return float(np.logaddexp.reduce(alpha[-2:])) if S > 1 else float(alpha[0])


def text_log_likelihood(log_probs: np.ndarray, text: str) -> float:
    """ln P(text | posteriors) summed over every label sequence that spells ``text`` (any
    leading, trailing or repeated spaces): the text-level quantity the beam search ranks by
    with the 29-symbol alphabet (the exact yardstick for tests and ``bench/decode.py``)."""
    lp = _check(log_probs).astype(np.float64)
    if lp.shape[1] != NUM_CLASSES:
        raise DecodeError(f"text_log_likelihood needs the {NUM_CLASSES}-symbol alphabet")
    words = [[SYMBOLS.index(c) for c in w] for w in normalize_text(text).split()]
    T = len(lp)
    # A path automaton: emits[s] is a label, or -1 for "blank or space" (separator run).
    emits: list[int] = []
    preds: list[list[int]] = []
    starts: list[int] = []

    def state(label: int, pred: list[int], loop: bool = True) -> int:
        s = len(emits)
        emits.append(label)
        preds.append(pred + ([s] if loop else []))
        return s

    lead = state(-1, [])  # blanks and spaces before the first word
    starts.append(lead)
    prev_ends: list[int] = [lead]  # states the next char may follow
    for wi, word in enumerate(words):
        if wi:  # >= 1 space between words: blanks, the first space, then any mix
            b1 = state(BLANK, prev_ends[:1])
            sp = state(SPACE, [prev_ends[0], b1], loop=False)
            mix = state(-1, [sp])
            prev_ends = [sp, mix]
        for ci, k in enumerate(word):
            c = state(k, list(prev_ends))
            if wi == 0 and ci == 0:
                starts.append(c)
            prev_ends = [c]
            if ci + 1 < len(word):
                b = state(BLANK, [c])
                # a doubled letter needs the blank between its copies
                prev_ends = [b] if word[ci + 1] == k else [c, b]
    if not words:
        finals = [lead]
    else:
        last_char = prev_ends[0]
        trail = state(-1, [last_char])
        finals = [last_char, trail]
    n = len(emits)
    width = max(len(p) for p in preds)
    pred_idx = np.full((n, width), n, dtype=np.int64)
    for s, p in enumerate(preds):
        pred_idx[s, : len(p)] = p
    em = np.asarray(emits)
    mixed = em < 0
    sep = np.logaddexp(lp[:, BLANK], lp[:, SPACE])
    emit_all = np.where(mixed[None, :], sep[:, None], lp[:, np.where(mixed, 0, em)])
    if T == 0:
        return 0.0 if not words else NEG
    alpha = np.full(n + 1, -np.inf)
    alpha[starts] = emit_all[0, starts]
    with np.errstate(invalid="ignore"):
        for t in range(1, T):
            alpha[:n] = np.logaddexp.reduce(alpha[pred_idx], axis=1) + emit_all[t]
    return float(np.logaddexp.reduce(alpha[finals]))


# --------------------------------------------------------------------------------------------
# prefix beam search


@dataclass
class DecodeResult:
    """Best labelling of a beam search, its score and where each label sits in time."""

    labels: list[int]
    score: float  # acoustic log-prob of the prefix plus LM / hot-word terms
    acoustic: float  # log P(labels | posteriors) summed over the alignments kept in the beam
    frames: list[int]  # first frame of each label (Viterbi alignment)
    end_frames: list[int]  # last frame of each label
    nbest: list[tuple[list[int], float]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return int_to_text(self.labels)


def _lse(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == NEG:
        return a
    return a + math.log1p(math.exp(b - a))


class _WordState:
    """Per-prefix word bookkeeping for the LM, lexicon and hot words (only built when used)."""

    def __init__(
        self,
        lm: WordScorer | None,
        alpha: float,
        beta: float,
        hotwords: Iterable[str] | None,
        hotword_weight: float,
        lexicon: Iterable[str] | None,
        unk_penalty: float,
    ) -> None:
        self.lm = lm
        self.alpha = alpha
        self.beta = beta if lm is not None else 0.0
        self.unk_penalty = unk_penalty
        # the LM's words and their prefixes, when it exposes them (ArpaLM does, cached)
        self.lm_vocab: set[str] | None = getattr(lm, "vocab", None)
        self.lm_prefixes: set[str] | None = getattr(lm, "word_prefixes", None)
        self.keep = max(1, int(getattr(lm, "order", 5)) - 1) if lm is not None else 1
        hot = {w for h in (hotwords or ()) for w in normalize_text(h).split()}
        self.hot = hot
        self.hot_weight = hotword_weight
        self.hot_prefix: dict[str, int] = {}  # prefix -> length of the shortest hot word
        for w in hot:
            for i in range(1, len(w) + 1):
                p = w[:i]
                self.hot_prefix[p] = min(self.hot_prefix.get(p, len(w)), len(w))
        self.words: set[str] | None = None
        self.prefixes: set[str] | None = None
        if lexicon is not None:
            self.words = {w for entry in lexicon for w in normalize_text(entry).split()} | hot
            self.prefixes = {w[:i] for w in self.words for i in range(len(w) + 1)}
        self.cache: dict[tuple[tuple[str, ...], str], float] = {}
        # per trie node: (partial word, word history, committed score)
        self.state: list[tuple[str, tuple[str, ...], float]] = [("", ("<s>",), 0.0)]

    def word_score(self, history: tuple[str, ...], word: str) -> float:
        key = (history, word)
        s = self.cache.get(key)
        if s is None:
            s = 0.0
            if self.lm is not None:
                s = self.alpha * self.lm.score(word, history) + self.beta
            if word in self.hot:
                s += self.hot_weight
            elif self.lm_vocab is not None and word not in self.lm_vocab:
                s += self.unk_penalty
            self.cache[key] = s
        return s

    def partial_score(self, partial: str) -> float:
        """Hot-word prefixes earn part of the bonus early; a partial word that starts no LM
        word pays the unknown-word penalty early (more when long), so the search does not run
        words together to dodge penalties."""
        n = self.hot_prefix.get(partial)
        if n:
            return self.hot_weight * len(partial) / n
        if self.lm_prefixes is not None and partial not in self.lm_prefixes:
            return self.unk_penalty * max(1.0, len(partial) / _AVG_WORD_LEN)
        return 0.0

    def peek(self, parent: int, k: int) -> tuple[float, tuple[str, tuple[str, ...], float]] | None:
        """Static score and state of ``parent`` + label ``k``; None if the lexicon forbids it."""
        partial, hist, committed = self.state[parent]
        if k == SPACE:
            if partial:
                if self.words is not None and partial not in self.words:
                    return None
                committed += self.word_score(hist, partial)
                hist = (*hist, partial)[-self.keep :]
                partial = ""
        else:
            partial += SYMBOLS[k]
            if self.prefixes is not None and partial not in self.prefixes:
                return None
        return committed + self.partial_score(partial), (partial, hist, committed)

    def final(self, node: int) -> float | None:
        """Score added at the end of the utterance (last word, ``</s>``); None if forbidden."""
        partial, hist, s = self.state[node]
        if partial:
            if self.words is not None and partial not in self.words:
                return None
            s += self.word_score(hist, partial)
            hist = (*hist, partial)[-self.keep :]
        if self.lm is not None:
            s += self.alpha * self.lm.score("</s>", hist)
        return s


def _candidates(
    lp: np.ndarray, prune_top_k: int | None, prune_threshold: float | None
) -> tuple[np.ndarray, list[list[tuple[int, float]]], np.ndarray, np.ndarray]:
    """Per frame: is the blank a candidate, the non-blank (label, log-prob) candidates best
    first, the blank log-probs; chosen for all frames at once (argmax always kept, -inf never).
    """
    T, V = lp.shape
    mask = lp > NEG
    if prune_threshold is not None:
        mask &= lp >= prune_threshold
    if prune_top_k is not None and prune_top_k < V:
        kth = np.partition(lp, V - prune_top_k, axis=1)[:, V - prune_top_k]
        mask &= lp >= kth[:, None]
    mask[np.arange(T), lp.argmax(axis=1)] = True
    blank_ok = mask[:, V - 1]
    ts, ks = np.nonzero(mask[:, : V - 1])
    vals = lp[ts, ks]
    order = np.lexsort((-vals, ts))  # by frame, best first (lets the search stop early)
    ts, ks, vals = ts[order], ks[order], vals[order].tolist()
    counts = np.bincount(ts, minlength=T)
    cands: list[list[tuple[int, float]]] = []
    pos = 0
    ks_list = ks.tolist()
    for c in counts.tolist():
        cands.append(list(zip(ks_list[pos : pos + c], vals[pos : pos + c], strict=True)))
        pos += c
    return blank_ok, cands, lp[:, V - 1].tolist(), counts


class _PrefixSearch:
    """The state of one prefix beam search: a trie of prefixes and the current beam.

    Trie nodes carry a label, a parent and a static score (LM / hot-word terms). A candidate
    extension is keyed ``n * V + k``; it becomes a node only once it makes the beam (most never
    do). Until then it is the "virtual" id ``-key - 2``; ``children`` maps a key to its node,
    or to -1 when the lexicon forbids it.
    """

    def __init__(
        self,
        V: int,
        beam_width: int,
        beam_prune_logp: float | None,
        ws: Any,
        recombine: bool,
    ) -> None:
        self.V = V
        self.beam_width = beam_width
        self.beam_prune_logp = beam_prune_logp
        self.ws: _WordState | None = ws
        self.space = SPACE if V == NUM_CLASSES else -1
        self.label: list[int] = [-1]
        self.parent: list[int] = [-1]
        self.extra: list[float] = [0.0]
        self.children: dict[int, int] = {}
        self.pending: dict[int, tuple[float, Any]] = {}  # key -> LM peek of a virtual id
        self.beam: dict[int, tuple[float, float]] = {_ROOT: (0.0, NEG)}  # (p_blank, p_label)
        self.recombine = recombine and self.space >= 0
        self.words: list[tuple[str, str]] = [("", "")]  # (last word, partial word), no LM

    def blanks(self, total: float) -> None:
        """Frames where only the blank survives pruning: every prefix gains their log-prob."""
        self.beam = {n: (_lse(pb, pnb) + total, NEG) for n, (pb, pnb) in self.beam.items()}

    def expand(
        self, fc: list[tuple[int, float]], b_lp: float | None
    ) -> tuple[dict[int, float], dict[int, float]]:
        """One frame: new (p_blank, p_label) per prefix id, from the blank log-prob (None when
        pruned) and the non-blank candidates ``fc`` (best first)."""
        beam, label, extra, children, pending = (
            self.beam,
            self.label,
            self.extra,
            self.children,
            self.pending,
        )
        ws, space, V = self.ws, self.space, self.V
        nxt_b: dict[int, float] = {}
        nxt_nb: dict[int, float] = {}
        totals = {n: _lse(pb, pnb) for n, (pb, pnb) in beam.items()}
        # Every old prefix stays in the running with at least ptot + log P(blank). When they
        # fill the beam, a new prefix scoring below the lowest of those cannot make it; nor one
        # below the best of them + beam_prune_logp. Skipping those early changes no result.
        low = NEG
        if b_lp is not None:
            stays = list(totals.values())
            if ws is not None:
                stays = [totals[n] + extra[n] for n in beam]
            if len(beam) >= self.beam_width:
                low = min(stays) + b_lp
            if self.beam_prune_logp is not None:
                low = max(low, max(stays) + b_lp + self.beam_prune_logp)
        fmap = dict(fc)
        # prefixes with a child in the beam (or a separator merge) must see every extension
        keep_all = {self.parent[c] for c in beam} if ws is None else None
        for n, (pb, pnb) in beam.items():
            ptot = totals[n]
            if b_lp is not None:
                nxt_b[n] = ptot + b_lp
            last = label[n]
            lpl = fmap.get(last)
            if lpl is not None and pnb > NEG:  # the same label continues
                old = nxt_nb.get(n)
                v = pnb + lpl
                nxt_nb[n] = v if old is None else _lse(old, v)
            merges = space >= 0 and (n == _ROOT or last == space)
            can_stop = keep_all is not None and n not in keep_all and not merges
            base = n * V
            for k, lpk in fc:
                e = (pb if k == last else ptot) + lpk  # after the same label: only via blank
                if e < low and can_stop and ptot + lpk < low:
                    break  # candidates are sorted: none after this one makes the beam
                if e == NEG:
                    continue
                key = base + k
                c = children.get(key)
                if c is None:
                    if k == space and merges:
                        c = children[key] = n  # repeated separators spell the same text
                    elif ws is not None and key not in pending:
                        peek = ws.peek(n, k)
                        if peek is None:
                            children[key] = -1
                            continue
                        pending[key] = peek
                        c = -key - 2
                    else:
                        c = -key - 2
                elif c == -1:
                    continue
                if e < low and c not in beam:
                    if ws is None:
                        continue
                    if e + (extra[c] if c >= 0 else pending[-c - 2][0]) < low:
                        continue  # even with its LM / hot-word terms it cannot make the beam
                old = nxt_nb.get(c)
                nxt_nb[c] = e if old is None else _lse(old, e)
        return nxt_b, nxt_nb

    def select(self, nxt_b: dict[int, float], nxt_nb: dict[int, float]) -> None:
        """Keep the best ``beam_width`` prefixes (and those within ``beam_prune_logp``)."""
        tot: dict[int, float] = {}
        for c, pnb in nxt_nb.items():
            pb = nxt_b.get(c)
            tot[c] = pnb if pb is None else _lse(pb, pnb)
        for c, pb in nxt_b.items():
            if c not in tot:
                tot[c] = pb
        if self.ws is not None:
            for c in tot:
                tot[c] += self.extra[c] if c >= 0 else self.pending[-c - 2][0]
        ranked = sorted(tot, key=tot.__getitem__, reverse=True)
        if self.recombine:
            # prefixes with the same recent words and partial word have the same future (the
            # LM state): keep the best of each, so the beam holds different futures instead of
            # every combination of earlier alternatives
            sel, seen = [], set()
            for c in ranked:
                state = self._state(c)
                if state not in seen:
                    seen.add(state)
                    sel.append(c)
                    if len(sel) == self.beam_width:
                        break
        else:
            sel = ranked[: self.beam_width]
        if self.beam_prune_logp is not None:
            floor = tot[sel[0]] + self.beam_prune_logp
            sel = [c for c in sel if tot[c] >= floor]
        self.beam = {self._node(c): (nxt_b.get(c, NEG), nxt_nb.get(c, NEG)) for c in sel}

    def _node(self, c: int) -> int:
        if c >= 0:
            return c
        key = -c - 2  # a new prefix made the beam: give it a node
        n = len(self.label)
        self.children[key] = n
        par, k = divmod(key, self.V)
        self.label.append(k)
        self.parent.append(par)
        if self.ws is not None:
            score, state = self.pending.pop(key)
            self.extra.append(score)
            self.ws.state.append(state)
        else:
            self.extra.append(0.0)
            self.words.append(self._next_words(self.words[par], k))
        return n

    def _next_words(self, words: tuple[str, str], k: int) -> tuple[str, str]:
        last, partial = words
        if k == self.space:
            return (partial, "") if partial else words
        return last, partial + SYMBOLS[k]

    def _state(self, c: int) -> tuple[Any, str]:
        """What a prefix's future depends on: the LM history (else the last word) and the
        partial word."""
        if self.ws is not None:
            partial, hist, _ = self.ws.state[c] if c >= 0 else self.pending[-c - 2][1]
            return hist, partial
        if c >= 0:
            return self.words[c]
        par, k = divmod(-c - 2, self.V)
        return self._next_words(self.words[par], k)

    def finals(self) -> list[tuple[float, float, int]]:
        """(score, acoustic score, node) of the final prefixes, best first: a trailing separator
        merged into its parent (same text), the last word and ``</s>`` scored."""
        merged: dict[int, float] = {}
        for n, (pb, pnb) in self.beam.items():
            if self.space >= 0 and n != _ROOT and self.label[n] == self.space:
                n = self.parent[n]
            ac = _lse(pb, pnb)
            merged[n] = _lse(merged[n], ac) if n in merged else ac
        out = []
        for n, ac in merged.items():
            add = self.ws.final(n) if self.ws is not None else 0.0
            if add is not None:
                out.append((ac + add, ac, n))
        if not out:  # the lexicon rules out every final prefix: fall back to the acoustics
            out = [(ac, ac, n) for n, ac in merged.items()]
        return sorted(out, key=lambda f: f[0], reverse=True)

    def labels_of(self, n: int) -> list[int]:
        out = []
        while n != _ROOT:
            out.append(self.label[n])
            n = self.parent[n]
        return out[::-1]


def beam_search_result(
    log_probs: np.ndarray,
    beam_width: int = 16,
    *,
    prune_top_k: int | None = None,
    prune_threshold: float | None = -10.0,
    beam_prune_logp: float | None = None,
    lm: WordScorer | None = None,
    alpha: float = 0.5,
    beta: float = 1.0,
    hotwords: Iterable[str] | None = None,
    hotword_weight: float = 5.0,
    lexicon: Iterable[str] | None = None,
    unk_penalty: float = -10.0,
    nbest: int = 1,
    align: bool = True,
    recombine: bool = True,
) -> DecodeResult:
    """CTC prefix beam search; the best labelling with its score, label frames and n-best.

    Each prefix keeps log P(ending in blank) and log P(ending in a label). Per frame only the
    labels with log-prob >= ``prune_threshold`` (and among the ``prune_top_k`` best) extend
    prefixes; the frame's argmax always does (if pruning leaves no prefix alive, the frame is
    redone with every symbol). ``beam_prune_logp`` also drops prefixes that far below the best
    one. With the 29-symbol alphabet, leading, repeated and trailing spaces are merged into one
    prefix (they spell the same text), so scores are text probabilities.

    Words (29-symbol alphabet only): when a word is completed (space or end of utterance) the
    score gains ``alpha * ln P_lm(word | history) + beta`` (with ``lm``; the LM's ``<unk>`` for
    unknown words, plus ``unk_penalty``, which a partial word that starts no LM word pays
    early) and ``hotword_weight`` for a hot word (prefixes of hot words get a proportional part
    early). With ``lexicon`` a prefix whose partial word starts no lexicon word (hot words count
    as lexicon words) is dropped. ``recombine`` keeps only the best prefix per future (LM
    history, else last word, plus the partial word), as pyctcdecode does; ``False`` keeps the
    search exact for a wide enough beam. Frames: Viterbi alignment of the best labels
    (``align=False`` skips it).
    """
    lp = _check(log_probs)
    if beam_width < 1:
        raise DecodeError(f"beam_width must be >= 1, got {beam_width}")
    T, V = lp.shape
    words_on = lm is not None or bool(hotwords) or lexicon is not None
    if words_on and V != NUM_CLASSES:
        raise DecodeError(f"LM, lexicon and hot words need the {NUM_CLASSES}-symbol alphabet")
    if T == 0:
        return DecodeResult([], 0.0, 0.0, [], [], [([], 0.0)])
    ws = (
        _WordState(lm, alpha, beta, hotwords, hotword_weight, lexicon, unk_penalty)
        if words_on
        else None
    )
    search = _PrefixSearch(V, beam_width, beam_prune_logp, ws, recombine)

    lp64 = lp.astype(np.float64, copy=False)
    blank_ok, cands, lpb, counts = _candidates(lp64, prune_top_k, prune_threshold)
    blank_only = (counts == 0).tolist()
    blank_ok_l = blank_ok.tolist()
    impossible = False
    t = 0
    while t < T:
        if blank_only[t]:
            total = 0.0
            while t < T and blank_only[t]:
                total += lpb[t]
                t += 1
            search.blanks(total)
            continue
        nxt_b, nxt_nb = search.expand(cands[t], lpb[t] if blank_ok_l[t] else None)
        if not (nxt_b or nxt_nb):  # pruning (or the lexicon) left nothing: try every symbol
            row = lp64[t]
            fc = [(k, float(row[k])) for k in np.argsort(-row[: V - 1]).tolist() if row[k] > NEG]
            nxt_b, nxt_nb = search.expand(fc, float(row[-1]) if row[-1] > NEG else None)
        if nxt_b or nxt_nb:
            search.select(nxt_b, nxt_nb)
        else:  # no symbol is possible in this frame: skip it and report the score as -inf
            impossible = True
        t += 1

    finals = search.finals()
    best_score, best_ac, best_node = finals[0]
    if impossible:
        best_score = best_ac = NEG
    labels = search.labels_of(best_node)
    starts, ends = ctc_align(lp, labels) if align else ([], [])
    return DecodeResult(
        labels=labels,
        score=best_score,
        acoustic=best_ac,
        frames=starts,
        end_frames=ends,
        nbest=[(search.labels_of(n), s) for s, _, n in finals[: max(1, nbest)]],
    )


def beam_search(log_probs: np.ndarray, beam_width: int = 16, **options: Any) -> list[int]:
    """Best labelling of a CTC prefix beam search; ``options`` are ``beam_search_result``'s
    keywords (pruning, LM, hot words, lexicon...)."""
    return beam_search_result(log_probs, beam_width, align=False, **options).labels


# --------------------------------------------------------------------------------------------
# timestamps


def words_with_times(
    labels: Sequence[int],
    frames: Sequence[int],
    frame_seconds: float,
    end_frames: Sequence[int] | None = None,
    symbols: Sequence[str] = SYMBOLS,
) -> list[dict[str, Any]]:
    """Words (``word``, ``start``, ``end`` in seconds) from label start frames (``end_frames``:
    last frame of each label; without them a word ends one frame after its last label starts).

    Whitespace symbols separate words and ids outside ``symbols`` (the blank) are skipped, so
    ``" ".join(w["word"] for w in words)`` is exactly ``Labels.text(labels)``.
    """
    if len(frames) != len(labels) or (end_frames is not None and len(end_frames) != len(labels)):
        raise DecodeError(
            f"labels ({len(labels)}) and frames ({len(frames)}) must have the same length"
        )
    words: list[dict[str, Any]] = []
    chars: list[str] = []
    first = last = 0
    for i, (k, f) in enumerate(zip(labels, frames, strict=True)):
        k = int(k)
        if not 0 <= k < len(symbols):
            continue
        if symbols[k].isspace():
            if chars:
                words.append(_word(chars, first, last, frame_seconds))
                chars = []
            continue
        if not chars:
            first = int(f)
        last = int(end_frames[i]) if end_frames is not None else int(f)
        chars.append(symbols[k])
    if chars:
        words.append(_word(chars, first, last, frame_seconds))
    return words


def _word(chars: list[str], first: int, last: int, frame_seconds: float) -> dict[str, Any]:
    return {
        "word": "".join(chars),
        "start": round(first * frame_seconds, 3),
        "end": round((last + 1) * frame_seconds, 3),
    }
