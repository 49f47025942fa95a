"""CTC decoding: best path, prefix beam search (exact on tiny cases, agrees with pyctcdecode),
LM / lexicon / hot-word biasing, numerics and word timestamps."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from edge_asr.lm import build_arpa
from runtime.decoding import (
    DecodeError,
    beam_search,
    beam_search_result,
    ctc_align,
    ctc_log_likelihood,
    greedy_decode,
    greedy_decode_with_frames,
    text_log_likelihood,
    to_log_probs,
    words_with_times,
)
from runtime.lm import ArpaLM
from runtime.text import BLANK, SYMBOLS, int_to_text, text_to_int

B = BLANK
IDX = {c: i for i, c in enumerate(SYMBOLS)}

HARVARD = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it's easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "the hogs were fed chopped corn and garbage",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
]


def frames_to_log_probs(spec: list[dict[str, float]], floor: float = 1e-6) -> np.ndarray:
    """One frame per dict {char or '_' (blank): probability}; the rest share ``floor``."""
    out = np.full((len(spec), len(SYMBOLS) + 1), floor)
    for t, frame in enumerate(spec):
        for ch, p in frame.items():
            out[t, B if ch == "_" else IDX[ch]] = p
    return np.log(out / out.sum(axis=1, keepdims=True))


def spell(text: str) -> list[dict[str, float]]:
    """Frames that say ``text`` clearly: each char then a blank."""
    return [f for ch in text for f in ({ch: 0.97}, {"_": 0.97})]


def simulate(labels: list[int], rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
    """Peaky posteriors around true labels with random confusions and blank runs."""
    T = int(len(labels) * 2.5) + 6
    x = rng.normal(0, noise, size=(T, 29))
    x[:, B] += 6.0
    pos = np.sort(rng.choice(np.arange(1, T - 1), size=len(labels), replace=False))
    for p, k in zip(pos, labels, strict=True):
        x[p, k] += rng.normal(9, 1.5)
        if rng.random() < 0.25:
            x[p, rng.integers(0, 28)] += rng.normal(8.5, 1.0)
    return x - np.logaddexp.reduce(x, axis=1, keepdims=True)


def canonical(labels: list[int]) -> str:
    return " ".join(int_to_text(labels).split())


# ---------------------------------------------------------------------------------- best path


def test_greedy_collapses_repeats_drops_blanks_and_reports_start_frames():
    spec = [{"a": 0.9}, {"a": 0.9}, {"_": 0.9}, {"a": 0.9}, {"b": 0.9}, {"b": 0.9}]
    spec += [{"_": 0.9}, {" ": 0.9}, {"c": 0.9}]
    labels, frames = greedy_decode_with_frames(frames_to_log_probs(spec))
    assert int_to_text(labels) == "aab c"
    assert frames == [0, 3, 4, 7, 8]
    assert greedy_decode(frames_to_log_probs(spec)) == labels


def test_greedy_empty_and_all_blank():
    assert greedy_decode(np.zeros((0, 29), np.float32)) == []
    assert greedy_decode(frames_to_log_probs([{"_": 0.99}] * 5)) == []


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(29), "shape"),
        (np.full((3, 29), np.nan), "NaN"),
        (np.full((3, 29), 1 / 29), "positive"),  # probabilities instead of log-probabilities
        (np.zeros((3, 29), dtype=np.int32), "floating"),
    ],
)
def test_bad_input_is_a_clear_error(bad, match):
    with pytest.raises(DecodeError, match=match):
        greedy_decode(bad)
    with pytest.raises(DecodeError, match=match):
        beam_search(bad)


def test_to_log_probs_handles_exact_zeros():
    lp = to_log_probs(np.array([[0.0, 1.0], [0.5, 0.5]]))
    assert np.isfinite(lp).all() and lp[0, 1] == 0.0


# ------------------------------------------------------------------------- beam search: exact


def _brute_force(lp: np.ndarray, symbols: list[int], text_level: bool):
    """Sum every path's probability into its labelling (or its text): the exact answer."""
    T = len(lp)
    totals: dict = {}
    for path in itertools.product(symbols, repeat=T):
        p = float(sum(lp[t, k] for t, k in enumerate(path)))
        blank = lp.shape[1] - 1
        lab = tuple(k for i, k in enumerate(path) if (i == 0 or path[i - 1] != k) and k != blank)
        key = canonical(list(lab)) if text_level else lab
        totals[key] = np.logaddexp(totals.get(key, -np.inf), p)
    return totals


def test_beam_search_with_a_wide_beam_is_the_exact_best_labelling():
    rng = np.random.default_rng(0)
    for _ in range(25):
        T, V = int(rng.integers(1, 7)), int(rng.integers(2, 5))
        x = rng.normal(size=(T, V)) * 2
        lp = x - np.logaddexp.reduce(x, axis=1, keepdims=True)
        totals = _brute_force(lp, list(range(V)), text_level=False)
        best = max(totals, key=totals.get)
        res = beam_search_result(lp, 1000, prune_threshold=None, nbest=5, recombine=False)
        assert tuple(res.labels) == best
        assert res.score == pytest.approx(totals[best], abs=1e-9)
        for labels, score in res.nbest:  # every prefix kept is scored exactly
            assert score == pytest.approx(totals[tuple(labels)], abs=1e-9)
            assert ctc_log_likelihood(lp, labels) == pytest.approx(score, abs=1e-9)


def test_beam_search_merges_space_variants_into_the_exact_best_text():
    """With the 29-symbol alphabet, ' a', 'a ' and 'a  b' spell 'a' / 'a b': scored as texts."""
    rng = np.random.default_rng(1)
    active = [IDX[" "], IDX["a"], IDX["b"], B]
    for _ in range(25):
        T = int(rng.integers(1, 7))
        x = np.full((T, 29), -np.inf)
        x[:, active] = rng.normal(size=(T, 4)) * 2
        lp = x - np.logaddexp.reduce(x, axis=1, keepdims=True)
        totals = _brute_force(lp, active, text_level=True)
        best = max(totals, key=totals.get)
        res = beam_search_result(lp, 1000, prune_threshold=None, recombine=False)
        assert canonical(res.labels) == best
        assert res.score == pytest.approx(totals[best], abs=1e-9)
        for text, p in totals.items():
            assert text_log_likelihood(lp, text) == pytest.approx(p, abs=1e-9)


def test_degenerate_cases():
    one_hot = frames_to_log_probs(spell("hello world"), floor=1e-12)
    for width in (1, 2, 16):
        assert beam_search(one_hot, width) == greedy_decode(one_hot)
    assert beam_search(np.zeros((0, 29))) == []
    assert beam_search(frames_to_log_probs([{"_": 0.99}] * 4)) == []
    single = frames_to_log_probs([{"x": 0.9}])
    assert int_to_text(beam_search(single, 1)) == "x"
    two_symbols = np.log(np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]]))  # one label + blank
    assert beam_search(two_symbols, 4, prune_threshold=None) == [0]
    with pytest.raises(DecodeError, match="beam_width"):
        beam_search(one_hot, 0)


def test_pruning_options_keep_clear_answers():
    lp = frames_to_log_probs(spell("the cat"))
    want = text_to_int("the cat")
    assert beam_search(lp, 8, prune_top_k=2) == want
    assert beam_search(lp, 8, prune_threshold=-1.0) == want
    assert beam_search(lp, 8, beam_prune_logp=-5.0) == want
    assert beam_search(lp, 8, prune_threshold=None) == want


def test_agrees_with_pyctcdecode_on_peaky_posteriors():
    """Same posteriors, beam and pruning: same text almost always, and where not, ours is the
    more probable text (exact text-level likelihood) more often than theirs."""
    pyctcdecode = pytest.importorskip("pyctcdecode")
    logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
    decoder = pyctcdecode.build_ctcdecoder([*SYMBOLS, ""])
    rng = np.random.default_rng(2)
    agree = ours_better = theirs_better = 0
    for sentence in HARVARD * 3:
        lp = simulate(text_to_int(sentence), rng)
        ours = canonical(beam_search(lp, 16, prune_threshold=-5.0, beam_prune_logp=-10.0))
        theirs = decoder.decode(lp, beam_width=16, beam_prune_logp=-10.0, token_min_logp=-5.0)
        if ours == theirs:
            agree += 1
        elif text_log_likelihood(lp, ours) >= text_log_likelihood(lp, theirs):
            ours_better += 1
        else:
            theirs_better += 1
    assert agree >= 0.85 * len(HARVARD) * 3, (agree, ours_better, theirs_better)
    assert ours_better >= theirs_better


# ---------------------------------------------------------------------- LM, lexicon, hot words


def _ambiguous_cat() -> np.ndarray:
    """'the kat sat' by a hair over 'the cat sat'."""
    spec = spell("the ")
    spec += [{"k": 0.52, "c": 0.46}, {"_": 0.97}]
    spec += spell("at sat")
    return frames_to_log_probs(spec)


@pytest.fixture(scope="module")
def cat_lm() -> ArpaLM:
    sentences = ["the cat sat", "the cat ran", "a cat sat on the mat", "the dog sat"] * 3
    return ArpaLM.from_text(build_arpa(sentences, order=3))


def test_lm_moves_the_decision_to_an_in_vocabulary_word(cat_lm):
    lp = _ambiguous_cat()
    assert int_to_text(beam_search(lp, 16)) == "the kat sat"
    res = beam_search_result(lp, 16, lm=cat_lm, alpha=0.5, beta=1.0, nbest=3)
    assert res.text == "the cat sat"
    assert 2 <= len(res.nbest) <= 3 and res.nbest[0][1] == res.score
    assert [s for _, s in res.nbest] == sorted((s for _, s in res.nbest), reverse=True)
    # with alpha = 0 only the unknown-word penalty speaks; without it the LM has no say
    assert int_to_text(beam_search(lp, 16, lm=cat_lm, alpha=0.0)) == "the cat sat"
    no_say = beam_search(lp, 16, lm=cat_lm, alpha=0.0, beta=0.0, unk_penalty=0.0)
    assert int_to_text(no_say) == "the kat sat"


def test_lm_keeps_clearly_separated_unknown_words(cat_lm):
    """Unknown words cost an LM penalty each, but clear word gaps are not glued over."""
    lp = frames_to_log_probs(spell("the cat zq xv sat"))
    assert int_to_text(beam_search(lp, 16, lm=cat_lm)) == "the cat zq xv sat"


def test_lexicon_drops_prefixes_outside_it():
    lp = _ambiguous_cat()
    assert int_to_text(beam_search(lp, 16, lexicon=["the", "cat", "sat"])) == "the cat sat"
    # when pruning leaves no in-lexicon prefix, the frame is redone with every symbol: the
    # only allowed text wins however faint
    assert int_to_text(beam_search(lp, 16, lexicon=["zebra"])) == "zebra"


def test_hot_words_bias_toward_them():
    lp = _ambiguous_cat()
    assert int_to_text(beam_search(lp, 16, hotwords=["cat"], hotword_weight=2.0)) == "the cat sat"
    assert int_to_text(beam_search(lp, 16, hotwords=["Kat"], hotword_weight=2.0)) == "the kat sat"
    # a tiny weight is not enough against clear acoustics
    clear = frames_to_log_probs(spell("the kat sat"))
    assert int_to_text(beam_search(clear, 16, hotwords=["cat"], hotword_weight=0.1)) == (
        "the kat sat"
    )


def test_word_options_need_the_29_symbol_alphabet(cat_lm):
    with pytest.raises(DecodeError, match="29"):
        beam_search(np.log(np.full((3, 4), 0.25)), 4, lm=cat_lm)


# -------------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("floor", [-1e30, -np.inf])
def test_very_negative_log_probs(floor):
    lp = frames_to_log_probs(spell("hi there"))
    lp = np.where(lp < np.log(1e-3), floor, lp)
    want = text_to_int("hi there")
    assert greedy_decode(lp) == want
    res = beam_search_result(lp, 8, prune_threshold=None)
    assert res.labels == want and np.isfinite(res.score)
    assert res.frames == greedy_decode_with_frames(lp)[1]


def test_a_frame_with_no_possible_symbol_does_not_crash():
    lp = frames_to_log_probs(spell("ok"))
    lp[1] = -np.inf
    res = beam_search_result(lp, 4)
    assert res.score == -np.inf
    assert int_to_text(res.labels) == "ok"  # the impossible frame is skipped


def test_long_utterance_stays_finite_in_float32():
    lp = frames_to_log_probs(spell(" ".join(HARVARD))).astype(np.float32)
    res = beam_search_result(lp, 16)
    assert canonical(res.labels) == " ".join(HARVARD)
    assert np.isfinite(res.score) and res.score < 0


# ------------------------------------------------------------------------------ timestamps


def test_align_frames_match_greedy_on_clear_speech():
    lp = frames_to_log_probs([{"_": 0.9}] * 3 + spell("go now"))
    labels, frames = greedy_decode_with_frames(lp)
    starts, ends = ctc_align(lp, labels)
    assert starts == frames
    assert ends == frames  # one frame per label here
    res = beam_search_result(lp, 8)
    assert res.frames == frames and res.end_frames == ends


def test_align_finds_label_extents_and_rejects_impossible_alignments():
    spec = [{"_": 0.9}, {"a": 0.9}, {"a": 0.9}, {"a": 0.9}, {"_": 0.9}, {"a": 0.9}]
    lp = frames_to_log_probs(spec)
    assert ctc_align(lp, text_to_int("aa")) == ([1, 5], [3, 5])
    with pytest.raises(DecodeError, match="cannot be aligned"):
        ctc_align(lp[:2], text_to_int("aa"))


def test_words_with_times():
    step = 0.02
    labels = text_to_int("hi there")
    frames = [2 * i + 10 for i in range(len(labels))]
    words = words_with_times(labels, frames, step)
    assert [w["word"] for w in words] == ["hi", "there"]
    # "hi": frames 10, 12; "there": frames 16 .. 24 (0.02 s each)
    assert words[0]["start"] == pytest.approx(0.2) and words[0]["end"] == pytest.approx(0.26)
    assert words[1]["start"] == pytest.approx(0.32) and words[1]["end"] == pytest.approx(0.5)
    ends = [f + 1 for f in frames]
    assert words_with_times(labels, frames, step, ends)[1]["end"] == pytest.approx(0.52)
    assert words_with_times([], [], step) == []
    with pytest.raises(DecodeError):
        words_with_times(labels, frames[:-1], step)


def test_beam_result_timestamps_end_to_end():
    lp = frames_to_log_probs([{"_": 0.9}] * 5 + spell("see you") + [{"_": 0.9}] * 4)
    res = beam_search_result(lp, 8)
    words = words_with_times(res.labels, res.frames, 0.02, res.end_frames)
    assert [(w["word"], w["start"], w["end"]) for w in words] == [
        ("see", 0.1, 0.2),  # s e e at frames 5, 7, 9
        ("you", 0.26, 0.36),  # y o u at frames 13, 15, 17
    ]
