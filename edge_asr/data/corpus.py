"""The built-in synthetic corpus: espeak voices reading generated sentences, 16 kHz WAV + manifests.

Layout of ``DIR``::

    wav/{train,valid,test}/ID.wav   16-bit mono 16 kHz
    train.jsonl valid.jsonl test.jsonl
    corpus.json                     summary and the arguments (written last: "complete" marker)

Design choices, and why:

- Every utterance is a pure function of (seed, split, index): its sentence, voice, rate, pitch,
  noise and gain come from a ``random.Random`` seeded with those, and espeak speaks it in a
  forked, never-used synthesizer (see ``espeak.py``). So the corpus is bitwise identical for any
  ``--jobs``, and a split simply keeps the shortest prefix of its utterances that reaches its
  share of the hours.
- Sentences come from one stream (``sentences.iter_sentences(seed)``, never repeating) dealt to
  the splits in a fixed pattern, so no sentence is shared between splits.
- The test split draws half of its utterances from voice variants that train and valid never use
  (``TEST_ONLY_VARIANTS``), so a test score says something about unseen voices.
- Every utterance gets a low noise floor (exact zeros wreck log-spectrogram normalization) and a
  random level; ``--noise-fraction`` of them also get white, pink, brown or babble noise.
- WAVs are written (atomically) before any manifest, and ``corpus.json`` last: an interrupted run
  never leaves a manifest pointing at missing files, and a complete folder is reused.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import shutil
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.data import espeak
from edge_asr.data.manifest import Utterance, load_manifest, write_manifest
from edge_asr.data.sentences import iter_sentences
from runtime.audio import resample, write_wav
from runtime.errors import EdgeASRError
from runtime.fileio import write_json

SAMPLE_RATE = 16000
SPLITS = ("train", "valid", "test")
SUMMARY = "corpus.json"
FORMAT_VERSION = 1

# `en-gb` is refused by this libespeak-ng build; `en` is British English.
ACCENTS = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
STANDARD_VARIANTS = (
    *(f"m{i}" for i in range(1, 9)),
    *(f"f{i}" for i in range(1, 6)),
    "klatt",
    *(f"klatt{i}" for i in range(2, 7)),
)
# Named variants from espeak-ng-data/voices/!v that sound like speech. Left out: whisper voices
# (whisper, whisperf, caleb), robots and heavy echo (robosoft*, UniRobot, anikaRobot,
# RicishayMax*, announcer, Marco), novelty voices (Demonic, croak, Tweaky, zac, fast,
# "Mr serious").
NAMED_VARIANTS = (
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Denis", "Diogo", "Gene", "Gene2",
    "Henrique", "Hugo", "Jacky", "Lee", "Mario", "Michael", "Mike", "Nguyen", "Reed", "Storm",
    "adam", "anika", "antonio", "aunty", "belinda", "benjamin", "boris", "david", "ed", "edward",
    "edward2", "grandma", "grandpa", "gustave", "ian", "iven", "iven2", "iven3", "iven4", "john",
    "kaukovalta", "linda", "marcelo", "max", "michel", "miguel", "mike2", "norbert", "pablo",
    "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby", "steph", "steph2", "steph3",
    "travis", "victor",
)  # fmt: skip
# Held out of train and valid; half of the test utterances use one of these.
TEST_ONLY_VARIANTS = ("m5", "f3", "klatt4", "belinda", "grandpa", "iven3")
TEST_UNSEEN_SHARE = 0.5
NOISE_KINDS = ("white", "pink", "brown", "babble")
RATE_WPM = (140, 220)
PITCH = (30, 70)
LEVEL_DB = (-32.0, -16.0)  # RMS level of the finished utterance, dBFS
# Sentences are dealt from one stream in this repeating pattern (no sentence in two splits).
_DEAL = ("test", "valid", *["train"] * 18)
_MEAN_SECONDS = 3.0  # first guess of an utterance's length, for the progress bar only


class CorpusError(EdgeASRError):
    """Bad corpus arguments, or an output folder that holds something else."""


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class CorpusConfig:
    """What determines the corpus content (``--jobs`` does not)."""

    hours: float
    seed: int = 0
    noise_fraction: float = 0.5
    snr: tuple[float, float] = (10.0, 30.0)

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise CorpusError(f"--hours must be positive, got {self.hours}")
        if not 0.0 <= self.noise_fraction <= 1.0:
            raise CorpusError(f"--noise-fraction must be in [0, 1], got {self.noise_fraction}")
        lo, hi = self.snr
        if not lo <= hi:
            raise CorpusError(f"--snr LOW HIGH needs LOW <= HIGH, got {lo} {hi}")
        object.__setattr__(self, "snr", (float(lo), float(hi)))
        object.__setattr__(self, "hours", float(self.hours))
        object.__setattr__(self, "noise_fraction", float(self.noise_fraction))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["snr"] = list(self.snr)
        return d

    def split_seconds(self) -> dict[str, float]:
        """Target seconds per split: 90/5/5, but valid and test get up to 5 minutes (or 15 %)."""
        total = self.hours * 3600.0
        held = max(0.05 * total, min(300.0, 0.15 * total))
        return {"train": total - 2 * held, "valid": held, "test": held}


def train_variants() -> tuple[str, ...]:
    """Variants used in train and valid (everything but the test-only ones)."""
    return tuple(v for v in STANDARD_VARIANTS + NAMED_VARIANTS if v not in TEST_ONLY_VARIANTS)


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything needed to render one utterance; rendering is a pure function of this."""

    split: str
    index: int
    text: str
    accent: str
    variant: str
    rate: int
    pitch: int
    noise: str  # "none" or one of NOISE_KINDS
    snr: float | None
    level_db: float
    seed: int

    @property
    def id(self) -> str:
        return f"{self.split}-{self.index:06d}"

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"

    @property
    def relpath(self) -> str:
        return f"wav/{self.split}/{self.id}.wav"

    def extra(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "voice": self.voice,
            "rate": self.rate,
            "pitch": self.pitch,
            "noise": self.noise,
            "snr": self.snr,
        }


def split_sentences(seed: int, split: str) -> Iterator[str]:
    """The split's share of the sentence stream, in order."""
    for k, text in enumerate(iter_sentences(seed)):
        if _DEAL[k % len(_DEAL)] == split:
            yield text


def plan(config: CorpusConfig, split: str) -> Iterator[UtteranceSpec]:
    """The endless sequence of utterance specs for ``split``; a split keeps a prefix of it."""
    variants = train_variants()
    for index, text in enumerate(split_sentences(config.seed, split)):
        rng = random.Random(f"edge-asr-corpus/{config.seed}/{split}/{index}")
        if split == "test" and rng.random() < TEST_UNSEEN_SHARE:
            variant = rng.choice(TEST_ONLY_VARIANTS)
        else:
            variant = rng.choice(variants)
        accent = rng.choice(ACCENTS)
        rate = rng.randint(*RATE_WPM)
        pitch = rng.randint(*PITCH)
        noisy = rng.random() < config.noise_fraction
        noise = rng.choice(NOISE_KINDS) if noisy else "none"
        snr = round(rng.uniform(*config.snr), 1) if noisy else None
        level_db = round(rng.uniform(*LEVEL_DB), 1)
        seed = rng.getrandbits(31)
        yield UtteranceSpec(
            split, index, text, accent, variant, rate, pitch, noise, snr, level_db, seed
        )


# ----------------------------------------------------------------------------- rendering
def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _speech(text: str, voice: str, rate: int, pitch: int, seed: int) -> np.ndarray:
    """espeak at 22.05 kHz -> trimmed -> 16 kHz float32."""
    samples, sr = espeak.synthesize(text, voice, rate, pitch, seed=seed, isolated=True)
    return resample(espeak.trim_silence(samples), sr, SAMPLE_RATE)


def _colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    if exponent == 0:
        return rng.standard_normal(n)
    size = 1 << max(n - 1, 1).bit_length()  # a power of two: pocketfft is slow on odd sizes
    spectrum = np.fft.rfft(rng.standard_normal(size))
    f = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    f[0] = f[1]
    shaped = np.fft.irfft(spectrum / f ** (exponent / 2), size)[:n]
    return shaped / max(_rms(shaped), 1e-12)


def _babble(spec: UtteranceSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Three other voices saying other sentences, looped to ``n`` samples, unit RMS."""
    talkers = random.Random(spec.seed)
    texts = list(islice(iter_sentences(spec.seed), 3))
    variants = train_variants() if spec.split != "test" else TEST_ONLY_VARIANTS + train_variants()
    mix = np.zeros(n)
    for text in texts:
        voice = f"{talkers.choice(ACCENTS)}+{talkers.choice(variants)}"
        speech = _speech(text, voice, talkers.randint(*RATE_WPM), talkers.randint(*PITCH), 0)
        if speech.size == 0:
            continue
        looped = np.resize(speech, n + speech.size)
        start = int(rng.integers(0, speech.size))
        mix += looped[start : start + n] / max(_rms(speech), 1e-6)
    return mix / max(_rms(mix), 1e-12)


def render(spec: UtteranceSpec) -> np.ndarray:
    """The finished 16 kHz float32 utterance (empty if espeak produced nothing)."""
    speech = _speech(spec.text, spec.voice, spec.rate, spec.pitch, spec.seed)
    if speech.size == 0:
        return speech
    rng = np.random.default_rng(spec.seed)
    x = espeak.pad_with_floor(speech, SAMPLE_RATE, rng).astype(np.float64)
    speech_rms = _rms(speech)
    if spec.noise != "none" and spec.snr is not None:
        if spec.noise == "babble":
            noise = _babble(spec, x.size, rng)
        else:
            noise = _colored_noise(x.size, float(NOISE_KINDS.index(spec.noise)), rng)
        x += noise * (speech_rms * 10 ** (-spec.snr / 20))
    x *= 10 ** (spec.level_db / 20) / max(speech_rms, 1e-9)
    peak = float(np.max(np.abs(x)))
    if peak > 0.98:
        x *= 0.98 / peak
    return x.astype(np.float32)


def _worker_init() -> None:
    espeak.get_synthesizer()  # load and initialize once; every utterance forks from it


def _render_to_file(spec: UtteranceSpec, root: str) -> int:
    """Worker task: render and write ``spec``'s WAV; returns its sample count (0: skipped)."""
    audio = render(spec)
    if audio.size == 0:
        return 0
    write_wav(Path(root) / spec.relpath, audio, SAMPLE_RATE)
    return int(audio.size)


# ----------------------------------------------------------------------------- building
def _is_complete(out: Path, summary: dict[str, Any]) -> bool:
    for split in SPLITS:
        manifest = out / f"{split}.jsonl"
        if not manifest.is_file():
            return False
        try:
            utterances = load_manifest(manifest)
        except EdgeASRError:
            return False
        if len(utterances) != summary["splits"][split]["utterances"]:
            return False
        if not all(u.path.is_file() for u in utterances):
            return False
    return True


def _clear(out: Path) -> None:
    """Remove what a corpus run writes: summary first, then manifests, then audio."""
    (out / SUMMARY).unlink(missing_ok=True)
    for split in SPLITS:
        (out / f"{split}.jsonl").unlink(missing_ok=True)
    shutil.rmtree(out / "wav", ignore_errors=True)


def _split_summary(kept: list[tuple[UtteranceSpec, int]]) -> dict[str, Any]:
    seconds = sum(n for _, n in kept) / SAMPLE_RATE
    return {
        "utterances": len(kept),
        "seconds": round(seconds, 3),
        "hours": round(seconds / 3600, 4),
        "noisy": sum(1 for spec, _ in kept if spec.noise != "none"),
        "voices": sorted({spec.voice for spec, _ in kept}),
        "variants": sorted({spec.variant for spec, _ in kept}),
        "accents": sorted({spec.accent for spec, _ in kept}),
    }


class _Builder:
    """Runs the pool and keeps, per split, the shortest prefix reaching the target seconds."""

    def __init__(self, out: Path, executor: ProcessPoolExecutor, jobs: int, progress) -> None:
        self.out = out
        self.executor = executor
        self.window = 4 * jobs
        self.progress = progress
        self.task = None

    def run_split(self, specs: Iterator[UtteranceSpec], target: float) -> list:
        kept: list[tuple[UtteranceSpec, int]] = []
        pending: deque[tuple[UtteranceSpec, Future]] = deque()
        seconds = 0.0
        try:
            while seconds < target:
                while len(pending) < self.window:
                    spec = next(specs)
                    pending.append(
                        (spec, self.executor.submit(_render_to_file, spec, str(self.out)))
                    )
                spec, future = pending.popleft()
                n = future.result()
                if n:
                    kept.append((spec, n))
                    seconds += n / SAMPLE_RATE
                if self.progress is not None:
                    self.progress.advance(self.task)
        finally:  # speculative work past the cut: cancel it, or wait and delete its file
            for spec, future in pending:
                if not future.cancel():
                    with contextlib.suppress(Exception):
                        future.result()
                (self.out / spec.relpath).unlink(missing_ok=True)
        return kept


def _single_thread_env() -> dict[str, str | None]:
    """Pin BLAS to one thread in the workers (no oversubscription, same sums every run)."""
    saved = {}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        saved[var] = os.environ.get(var)
        os.environ[var] = "1"
    return saved


def _restore_env(saved: dict[str, str | None]) -> None:
    for var, value in saved.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def build_corpus(
    out: str | os.PathLike,
    config: CorpusConfig,
    *,
    jobs: int = 2,
    fresh: bool = False,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Make (or reuse) the corpus in ``out``; returns the summary written to ``corpus.json``."""
    out = Path(out)
    if jobs < 1:
        raise CorpusError(f"--jobs must be at least 1, got {jobs}")
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out}: exists and is not a folder")
    summary_path = out / SUMMARY
    if summary_path.is_file() and not fresh:
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            summary = {}
        if summary.get("args") == config.to_dict() and _is_complete(out, summary):
            summary["reused"] = True
            return summary
        if summary.get("args") not in (None, config.to_dict()):
            raise CorpusError(
                f"{out} holds a corpus made with {summary['args']}; use --fresh to replace it "
                "or choose another --out"
            )
    espeak.check_available()
    _clear(out)
    started = time.perf_counter()
    targets = config.split_seconds()
    order = ("test", "valid", "train")  # small splits first: the bar's estimate settles early
    results: dict[str, list[tuple[UtteranceSpec, int]]] = {}
    saved_env = _single_thread_env()
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init) as executor:
            progress = None
            if show_progress:
                from edge_asr.progress import make_progress

                progress = make_progress()
            estimate = sum(max(1, round(t / _MEAN_SECONDS)) for t in targets.values())
            builder = _Builder(out, executor, jobs, progress)
            with progress if progress is not None else contextlib.nullcontext():
                if progress is not None:
                    builder.task = progress.add_task("corpus", total=estimate, info="")
                for split in order:
                    if progress is not None:
                        progress.update(builder.task, info=split)
                    results[split] = builder.run_split(plan(config, split), targets[split])
                    done = sum(len(r) for r in results.values())
                    made = sum(n for r in results.values() for _, n in r) / SAMPLE_RATE
                    left = sum(targets[s] for s in order if s not in results)
                    if progress is not None and done:
                        mean = made / done
                        progress.update(builder.task, total=done + round(left / mean))
    except BrokenProcessPool as exc:
        raise CorpusError(f"a synthesis worker died ({exc}); is espeak-ng working?") from None
    finally:
        _restore_env(saved_env)
    for split in SPLITS:
        utterances = [
            Utterance(out / spec.relpath, round(n / SAMPLE_RATE, 6), spec.text, spec.extra())
            for spec, n in results[split]
        ]
        write_manifest(out / f"{split}.jsonl", utterances)
    splits = {split: _split_summary(results[split]) for split in SPLITS}
    total = sum(s["seconds"] for s in splits.values())
    summary = {
        "format": "edge-asr-corpus",
        "version": FORMAT_VERSION,
        "args": config.to_dict(),
        "sample_rate": SAMPLE_RATE,
        "hours": round(total / 3600, 4),
        "utterances": sum(s["utterances"] for s in splits.values()),
        "splits": splits,
        "test_only_variants": sorted(TEST_ONLY_VARIANTS),
        "manifests": {split: f"{split}.jsonl" for split in SPLITS},
        "jobs": jobs,
        "elapsed_seconds": round(time.perf_counter() - started, 2),
    }
    write_json(summary_path, summary)
    return summary


def format_summary(summary: dict[str, Any], out: str | os.PathLike) -> str:
    """A few lines for the terminal: hours, utterances and voices per split."""
    lines = [
        f"corpus {out}: {summary['hours']:.3f} h, {summary['utterances']} utterances, "
        f"seed {summary['args']['seed']}" + (" (reused)" if summary.get("reused") else ""),
        f"{'split':6} {'hours':>8} {'utterances':>11} {'voices':>7} {'variants':>9} {'noisy':>6}",
    ]
    for split in SPLITS:
        s = summary["splits"][split]
        lines.append(
            f"{split:6} {s['hours']:8.3f} {s['utterances']:11d} {len(s['voices']):7d} "
            f"{len(s['variants']):9d} {s['noisy']:6d}"
        )
    test_only = ", ".join(summary["test_only_variants"])
    lines.append(f"test-only variants: {test_only}")
    if "elapsed_seconds" in summary and not summary.get("reused"):
        lines.append(f"made in {summary['elapsed_seconds']:.1f} s with {summary['jobs']} jobs")
    return "\n".join(lines)
