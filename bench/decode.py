"""Beam-search decoding, side by side with pyctcdecode on the same log-probabilities.

Same posteriors, same beam width, same pruning (token log-prob cutoff and beam log-prob window),
no LM: reports how often the two give the same text, which one is more probable where they
differ (exact text-level CTC likelihood, ``runtime.decoding.text_log_likelihood``), and ms per
utterance for each, timed interleaved utterance by utterance. Goal: ours >= 3x faster.

Posteriors come from a trained model (``--model-dir``, default demo/model, on ``--manifest``,
default demo/corpus/test.jsonl). Without one they are SIMULATED: an oracle acoustic model makes
peaky posteriors around the true labels of real transcripts (the manifest's, else the corpus
generator's), with random confusions and blank runs, timed from the utterance durations.

Run: .venv/bin/python bench/decode.py [--beam 16] [--limit 100] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_asr.metrics import cer  # noqa: E402
from runtime.decoding import (  # noqa: E402
    beam_search,
    greedy_decode,
    text_log_likelihood,
    to_log_probs,
)
from runtime.text import BLANK, NUM_CLASSES, SYMBOLS, int_to_text, text_to_int  # noqa: E402

FRAME_SECONDS = 0.02  # 10 ms features x stride 2 (the seed's final model)


def normalized(text: str) -> str:
    return " ".join(int_to_text(text_to_int(text)).split())


# ------------------------------------------------------------------------ posteriors: model


def model_posteriors(model_dir: Path, manifest: Path, limit: int) -> tuple[list, list[str]]:
    """Log-posteriors of a trained model on the manifest's audio."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from edge_asr.data.loading import load_set
    from edge_asr.inference import keras_posteriors
    from edge_asr.models.saving import load_model_dir

    model, folder = load_model_dir(model_dir)
    loaded = load_set(manifest, folder.features, limit=limit)
    posts = keras_posteriors(model, loaded.features, batch_size=8)
    keep = [i for i, p in enumerate(posts) if len(p)]
    return [to_log_probs(posts[i]) for i in keep], [loaded.texts[i] for i in keep]


# ------------------------------------------------------------------- posteriors: simulated


def transcripts(manifest: Path, limit: int) -> tuple[list[str], list[float], str]:
    """Real transcripts and durations: the manifest's, else the corpus sentence generator's
    (durations at an espeak-like 14 characters per second)."""
    if manifest.exists():
        from edge_asr.data.manifest import load_manifest

        utts = load_manifest(manifest)[:limit]
        return [u.text for u in utts], [u.duration for u in utts], f"transcripts of {manifest}"
    from edge_asr.data.sentences import generate_sentences

    texts = generate_sentences(limit, seed=1234)
    return texts, [0.4 + len(t) / 14.0 for t in texts], "edge_asr.data.sentences (seed 1234)"


def simulate(text: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Oracle posteriors: each label a 1-2 frame spike at its place in time, sometimes with a
    confusable rival (a random letter nearly as likely) or a weaker second spike; blank runs in
    between; logit noise everywhere."""
    labels = text_to_int(text)
    T = max(int(seconds / FRAME_SECONDS), 2 * len(labels) + 2)
    logits = rng.normal(0.0, 1.0, size=(T, NUM_CLASSES))
    logits[:, BLANK] += 7.0
    slots = np.linspace(1, T - 3, num=len(labels) + 1)[:-1]
    pos = np.clip(np.round(slots + rng.uniform(0, 1.5, len(labels))).astype(int), 0, T - 2)
    for p, k in zip(pos, labels, strict=True):
        width = 1 + int(rng.random() < 0.4)
        strength = rng.normal(10.0, 1.5)
        logits[p : p + width, k] += strength
        r = rng.random()
        if r < 0.15:  # a confusion: another letter almost as likely
            logits[p, rng.integers(2, 28)] += strength - abs(rng.normal(0.5, 1.0))
        elif r < 0.2:  # a weak second emission after a blank
            logits[min(p + width + 1, T - 1), k] += strength - 3.0
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


# ------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=ROOT / "demo" / "model")
    ap.add_argument("--manifest", type=Path, default=ROOT / "demo" / "corpus" / "test.jsonl")
    ap.add_argument("--beam", type=int, default=16)
    ap.add_argument("--limit", type=int, default=100, help="utterances")
    ap.add_argument("--token-min-logp", type=float, default=-5.0)
    ap.add_argument("--beam-prune-logp", type=float, default=-10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-lm", action="store_true", help="skip the with-LM line")
    args = ap.parse_args()

    logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # no KenLM warning
    try:
        import pyctcdecode
    except ImportError:
        print("pyctcdecode is not installed (a dev dependency): pip install pyctcdecode==0.5.0")
        return 1

    if (args.model_dir / "model.keras").exists() and args.manifest.exists():
        source = f"REAL posteriors of {args.model_dir} on {args.manifest}"
        log_probs, texts = model_posteriors(args.model_dir, args.manifest, args.limit)
    else:
        texts, seconds, origin = transcripts(args.manifest, args.limit)
        rng = np.random.default_rng(args.seed)
        log_probs = [simulate(t, s, rng) for t, s in zip(texts, seconds, strict=True)]
        source = (
            f"SIMULATED posteriors (oracle acoustic simulation of {origin}; "
            f"no trained model at {args.model_dir})"
        )

    decoder = pyctcdecode.build_ctcdecoder([*SYMBOLS, ""])
    opts = {"prune_threshold": args.token_min_logp, "beam_prune_logp": args.beam_prune_logp}
    theirs_opts = {"beam_prune_logp": args.beam_prune_logp, "token_min_logp": args.token_min_logp}
    beam_search(log_probs[0], args.beam, **opts)  # warm-up, both
    decoder.decode(log_probs[0], beam_width=args.beam, **theirs_opts)

    t_ours = t_theirs = t_greedy = 0.0
    agree = ours_better = theirs_better = 0
    hyps: dict[str, list[str]] = {"ours": [], "theirs": [], "greedy": []}
    for lp in log_probs:
        t0 = time.perf_counter()
        ours = " ".join(int_to_text(beam_search(lp, args.beam, **opts)).split())
        t1 = time.perf_counter()
        theirs = decoder.decode(lp, beam_width=args.beam, **theirs_opts)
        t2 = time.perf_counter()
        greedy = " ".join(int_to_text(greedy_decode(lp)).split())
        t3 = time.perf_counter()
        t_ours, t_theirs, t_greedy = t_ours + t1 - t0, t_theirs + t2 - t1, t_greedy + t3 - t2
        if ours == theirs:
            agree += 1
        elif text_log_likelihood(lp, ours) >= text_log_likelihood(lp, theirs):
            ours_better += 1
        else:
            theirs_better += 1
        for name, hyp in (("ours", ours), ("theirs", theirs), ("greedy", greedy)):
            hyps[name].append(hyp)

    n = len(log_probs)
    frames = sum(len(lp) for lp in log_probs)
    print(f"posteriors:   {source}")
    print(f"utterances:   {n} ({frames} frames, {frames / n:.0f} per utterance)")
    print(
        f"decoding:     beam {args.beam}, no LM, both: token log-prob >= {args.token_min_logp}, "
        f"beams within {-args.beam_prune_logp:g} of the best"
    )
    print(
        f"agreement:    {agree}/{n} same text ({100 * agree / n:.1f}%); where they differ, the "
        f"more probable text (exact CTC): ours {ours_better}, pyctcdecode {theirs_better}"
    )
    refs = [normalized(t) for t in texts]
    c = {name: 100 * cer(refs, h) for name, h in hyps.items()}
    print(
        f"CER vs truth: ours {c['ours']:.2f}%, pyctcdecode {c['theirs']:.2f}%, "
        f"greedy {c['greedy']:.2f}%"
    )
    ms = {k: 1000 * v / n for k, v in (("o", t_ours), ("t", t_theirs), ("g", t_greedy))}
    print(
        f"ms/utterance: ours {ms['o']:.2f}, pyctcdecode {ms['t']:.2f}, greedy {ms['g']:.3f} "
        f"(ours {frames / t_ours / 1000 / FRAME_SECONDS:.0f}x real time at 20 ms/frame)"
    )
    ratio = t_theirs / t_ours
    print(f"speed ratio:  ours is {ratio:.1f}x faster than pyctcdecode (goal >= 3x)")
    if not args.no_lm:
        lm_line(log_probs, texts, args, opts)
    return 0


def lm_line(log_probs: list, texts: list[str], args: argparse.Namespace, opts: dict) -> None:
    """Ours with a word 3-gram LM (pyctcdecode would need KenLM): cost and CER change."""
    from edge_asr.lm import build_arpa
    from runtime.lm import ArpaLM

    train = ROOT / "demo" / "corpus" / "train.jsonl"
    if train.exists():
        from edge_asr.data.manifest import load_manifest

        sentences, origin = [u.text for u in load_manifest(train)], str(train)
    else:
        from edge_asr.data.sentences import generate_sentences

        sentences, origin = generate_sentences(5000, seed=99), "5000 generated sentences"
    test_set = {" ".join(t.split()) for t in texts}
    sentences = [s for s in sentences if " ".join(s.split()) not in test_set]
    lm = ArpaLM.from_text(build_arpa(sentences, order=3))
    elapsed = 0.0
    hyps = []
    for lp in log_probs:
        t0 = time.perf_counter()
        out = beam_search(lp, args.beam, lm=lm, alpha=0.5, beta=1.0, **opts)
        elapsed += time.perf_counter() - t0
        hyps.append(" ".join(int_to_text(out).split()))
    print(
        f"with LM:      ours + 3-gram LM of {origin} ({len(sentences)} sentences, test ones "
        f"removed): {1000 * elapsed / len(log_probs):.2f} ms/utterance, "
        f"CER {100 * cer([normalized(t) for t in texts], hyps):.2f}%"
    )


if __name__ == "__main__":
    sys.exit(main())
