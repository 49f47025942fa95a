"""The built-in synthetic corpus: generated sentences spoken by more than one synthesis engine
(espeak-ng's accents and variants; the Piper neural voice when its wheel is installed), passed
through simulated rooms, microphones, noise and codecs; 16 kHz WAV + manifests.

Layout of ``DIR``::

    wav/{train,valid,test}/ID.wav   16-bit mono 16 kHz
    train.jsonl valid.jsonl test.jsonl
    {split}.{engine}.jsonl          the same rows, one engine each (cross-engine checks)
    corpus.json                     summary and the arguments (written last: "complete" marker)

Design choices, and why:

- Every utterance is a pure function of (seed, split, index): its sentence, engine, voice,
  prosody, acoustic degradations and gain come from a ``random.Random`` seeded with those;
  espeak speaks it in a forked, never-used synthesizer (see ``espeak.py``) and Piper samples its
  noise from the utterance's seed (see ``piper.py``). So the corpus is bitwise identical for any
  ``--jobs``, and a split simply keeps the shortest prefix of its utterances that reaches its
  share of the hours.
- Sentences come from one stream (``sentences.iter_sentences(seed)``, never repeating) dealt to
  the splits in a fixed pattern, so no sentence is shared between splits.
- The test split draws half of its utterances from voice variants that train and valid never use
  (``TEST_ONLY_VARIANTS``), so a test score says something about unseen voices.
- Engines: ``--piper-share`` of the utterances are Piper's (one speaker, so each gets a random
  pitch/formant/tempo transform to become many), the rest espeak's. A missing engine wheel is
  skipped with one warning and the corpus is built from the others; rows keep ``engine``,
  ``voice`` and ``seed`` so any split can be narrowed (``--where engine=piper``).
- Acoustic realism (``acoustics.degrade``): every utterance gets a speaker transform (tempo
  0.9/1.0/1.1, maybe pitch and formants) and a random level; ``--realism`` of them also go
  through a room, noise (``--noise-fraction`` of those, at ``--snr``), microphone EQ / band
  limits and codecs. What was applied is in each manifest row. Every utterance gets a low noise
  floor first (exact zeros wreck log-spectrogram normalization).
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.data import acoustics, espeak, piper
from edge_asr.data.manifest import Utterance, load_manifest, write_manifest
from edge_asr.data.sentences import iter_sentences
from runtime.audio import resample, write_wav
from runtime.errors import EdgeASRError
from runtime.fileio import write_json

SAMPLE_RATE = 16000
SPLITS = ("train", "valid", "test")
SUMMARY = "corpus.json"
FORMAT_VERSION = 2  # 2: engines, acoustics chain, per-engine manifests

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
ENGINES = ("espeak", "piper")
RATE_WPM = (140, 220)
PITCH = (30, 70)
# Piper prosody per utterance (VITS length / noise scales): ranges that still sound like speech.
PIPER_LENGTH = (0.75, 1.5)  # ~ espeak's 140-220 wpm spread (duration is ~75 + 255 x scale)
PIPER_NOISE = (0.4, 0.9)
PIPER_NOISE_W = (0.5, 1.0)
# Piper's one speaker (F0 ~90 Hz) made many: pitch -3..+8 semitones, formant warp to 1.18.
PIPER_SPEAKERS = {"p_pitch": 0.8, "semitones": (-3.0, 8.0), "p_formant": 0.8, "alpha": (0.9, 1.18)}
LEVEL_DB = (-32.0, -16.0)  # active-speech level of the finished utterance, dBFS
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
    noise_fraction: float = 0.6
    snr: tuple[float, float] = (8.0, 30.0)
    engines: tuple[str, ...] = ENGINES
    piper_share: float = 0.35
    realism: float = 0.75

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise CorpusError(f"--hours must be positive, got {self.hours}")
        for name in ("noise_fraction", "piper_share", "realism"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                flag = "--" + name.replace("_", "-")
                raise CorpusError(f"{flag} must be in [0, 1], got {value}")
            object.__setattr__(self, name, float(value))
        lo, hi = self.snr
        if not lo <= hi:
            raise CorpusError(f"--snr LOW HIGH needs LOW <= HIGH, got {lo} {hi}")
        engines = tuple(dict.fromkeys(self.engines))
        unknown = [e for e in engines if e not in ENGINES]
        if unknown or not engines:
            raise CorpusError(
                f"--engines: unknown {', '.join(unknown) or 'empty list'}; "
                f"choose from {', '.join(ENGINES)}"
            )
        object.__setattr__(self, "engines", engines)
        object.__setattr__(self, "snr", (float(lo), float(hi)))
        object.__setattr__(self, "hours", float(self.hours))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["snr"] = list(self.snr)
        d["engines"] = list(self.engines)
        return d

    def acoustics(self, engine: str = "espeak") -> acoustics.Realism:
        """The degradation chain for ``engine``'s utterances: ``realism`` of them go through
        room/noise/channel/codec stages, ``noise_fraction`` of those get noise at ``snr``; all
        get a speaker transform (tempo, maybe pitch and formants) and a level. Piper has one
        speaker, so its pitch and formants move more often and further (up to a higher voice)."""
        chain = acoustics.Realism(
            clean=1.0 - self.realism, p_noise=self.noise_fraction, snr_db=self.snr,
            level_db=LEVEL_DB,
        )  # fmt: skip
        if engine == "piper":
            chain = replace(chain, **PIPER_SPEAKERS)
        return chain

    def split_seconds(self) -> dict[str, float]:
        """Target seconds per split: 90/5/5, but valid and test get up to 5 minutes (or 15 %)."""
        total = self.hours * 3600.0
        held = max(0.05 * total, min(300.0, 0.15 * total))
        return {"train": total - 2 * held, "valid": held, "test": held}


def usable_engines(config: CorpusConfig) -> tuple[tuple[str, ...], dict[str, str]]:
    """(engines that will speak, {engine: why it is skipped}); espeak is required (babble and
    phonemes come from it), the others are optional wheels."""
    skipped: dict[str, str] = {}
    if "piper" in config.engines:
        reason = piper.available()
        if reason is not None:
            skipped["piper"] = reason
    used = tuple(e for e in config.engines if e not in skipped)
    if not used:
        raise CorpusError(f"no synthesis engine is usable: {'; '.join(skipped.values())}")
    return used, skipped


def train_variants() -> tuple[str, ...]:
    """Variants used in train and valid (everything but the test-only ones)."""
    return tuple(v for v in STANDARD_VARIANTS + NAMED_VARIANTS if v not in TEST_ONLY_VARIANTS)


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything needed to render one utterance; rendering is a pure function of this."""

    split: str
    index: int
    text: str
    engine: str  # one of ENGINES
    accent: str  # espeak: accent; piper: the voice's name
    variant: str  # espeak: variant; piper: "-"
    rate: float  # espeak: words per minute; piper: length scale
    pitch: float  # espeak: 0-99; piper: noise scale
    noise_w: float | None  # piper only
    seed: int  # the engine's and the acoustics chain's draws

    @property
    def id(self) -> str:
        return f"{self.split}-{self.index:06d}"

    @property
    def voice(self) -> str:
        if self.engine == "espeak":
            return f"{self.accent}+{self.variant}"
        return f"{self.engine}:{self.accent}"

    @property
    def relpath(self) -> str:
        return f"wav/{self.split}/{self.id}.wav"

    def extra(self, applied: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "engine": self.engine, "voice": self.voice}
        if self.engine == "espeak":
            row.update(rate=self.rate, pitch=self.pitch)
        else:
            row.update(length_scale=self.rate, noise_scale=self.pitch, noise_w=self.noise_w)
        row.update(seed=self.seed, noise="none", snr=None)
        row.update(applied)  # what the acoustics chain did (noise, snr, room_rt60, band, ...)
        return row


def split_sentences(seed: int, split: str) -> Iterator[str]:
    """The split's share of the sentence stream, in order."""
    for k, text in enumerate(iter_sentences(seed)):
        if _DEAL[k % len(_DEAL)] == split:
            yield text


def plan(
    config: CorpusConfig, split: str, engines: tuple[str, ...] | None = None
) -> Iterator[UtteranceSpec]:
    """The endless sequence of utterance specs for ``split``; a split keeps a prefix of it.

    ``engines``: those usable here (default: the config's). Each utterance's draws do not depend
    on it, so the espeak utterances of a corpus built without Piper are the same sentences with
    the same voices as in one built with it.
    """
    engines = config.engines if engines is None else engines
    variants = train_variants()
    for index, text in enumerate(split_sentences(config.seed, split)):
        rng = random.Random(f"edge-asr-corpus/{config.seed}/{split}/{index}")
        if split == "test" and rng.random() < TEST_UNSEEN_SHARE:
            variant = rng.choice(TEST_ONLY_VARIANTS)
        else:
            variant = rng.choice(variants)
        accent = rng.choice(ACCENTS)
        rate: float = rng.randint(*RATE_WPM)
        pitch: float = rng.randint(*PITCH)
        seed = rng.getrandbits(31)
        use_piper = rng.random() < config.piper_share
        piper_draws = (
            round(rng.uniform(*PIPER_LENGTH), 3),
            round(rng.uniform(*PIPER_NOISE), 3),
            round(rng.uniform(*PIPER_NOISE_W), 3),
        )
        mixed = "piper" if use_piper else "espeak"
        engine = engines[0] if len(engines) == 1 else mixed
        noise_w = None
        if engine == "piper":
            accent, variant = piper.VOICE_NAME, "-"
            rate, pitch, noise_w = piper_draws
        yield UtteranceSpec(split, index, text, engine, accent, variant, rate, pitch, noise_w, seed)


# ----------------------------------------------------------------------------- rendering
def _espeak(text: str, voice: str, rate: int, pitch: int, seed: int) -> np.ndarray:
    """espeak at 22.05 kHz -> trimmed -> 16 kHz float32."""
    samples, sr = espeak.synthesize(text, voice, rate, pitch, seed=seed, isolated=True)
    return resample(espeak.trim_silence(samples), sr, SAMPLE_RATE)


def _speech(spec: UtteranceSpec) -> np.ndarray:
    """The clean 16 kHz utterance from ``spec``'s engine."""
    if spec.engine == "espeak":
        return _espeak(spec.text, spec.voice, int(spec.rate), int(spec.pitch), spec.seed)
    voice = piper.get_voice()
    assert spec.noise_w is not None
    samples = voice.synthesize(
        spec.text,
        seed=spec.seed,
        length_scale=spec.rate,
        noise_scale=spec.pitch,
        noise_w=spec.noise_w,
    )
    return resample(samples, voice.sample_rate, SAMPLE_RATE)


def _babble_source(spec: UtteranceSpec) -> acoustics.BabbleSource:
    """Other espeak talkers saying other sentences (the split's voices: test babble may use the
    test-only variants), for the chain's babble noise."""
    texts = iter_sentences(spec.seed)
    variants = train_variants() if spec.split != "test" else TEST_ONLY_VARIANTS + train_variants()

    def talker(rng: np.random.Generator) -> np.ndarray:
        voice = f"{ACCENTS[rng.integers(len(ACCENTS))]}+{variants[rng.integers(len(variants))]}"
        rate, pitch = int(rng.integers(*RATE_WPM)), int(rng.integers(*PITCH))
        return _espeak(next(texts), voice, rate, pitch, 0)

    return talker


def render(
    spec: UtteranceSpec, realism: dict[str, acoustics.Realism]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The finished 16 kHz float32 utterance (empty if the engine produced nothing) and what
    the acoustics chain applied to it (manifest fields)."""
    speech = _speech(spec)
    if speech.size == 0:
        return speech, {}
    rng = np.random.default_rng(spec.seed)
    x = espeak.pad_with_floor(speech, SAMPLE_RATE, rng)
    chain = realism[spec.engine]
    return acoustics.degrade(x, SAMPLE_RATE, rng, chain, babble=_babble_source(spec))


def _worker_init(engines: tuple[str, ...]) -> None:
    espeak.get_synthesizer()  # load and initialize once; every utterance forks from it
    if "piper" in engines:
        piper.get_voice()  # one ONNX session per process, one thread


def _render_to_file(
    spec: UtteranceSpec, realism: dict[str, acoustics.Realism], root: str
) -> tuple[int, dict[str, Any]]:
    """Worker task: render and write ``spec``'s WAV; returns its sample count (0: skipped) and
    what was applied."""
    audio, applied = render(spec, realism)
    if audio.size == 0:
        return 0, applied
    write_wav(Path(root) / spec.relpath, audio, SAMPLE_RATE)
    return int(audio.size), applied


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


@dataclass(frozen=True)
class Rendered:
    """One kept utterance: its spec, sample count and what the acoustics chain applied."""

    spec: UtteranceSpec
    samples: int
    applied: dict[str, Any]

    def utterance(self, out: Path) -> Utterance:
        duration = round(self.samples / SAMPLE_RATE, 6)
        return Utterance(
            out / self.spec.relpath, duration, self.spec.text, self.spec.extra(self.applied)
        )


def _split_summary(kept: list[Rendered]) -> dict[str, Any]:
    seconds = sum(r.samples for r in kept) / SAMPLE_RATE
    specs = [r.spec for r in kept]
    engines: dict[str, dict[str, float | int]] = {}
    for r in kept:
        e = engines.setdefault(r.spec.engine, {"utterances": 0, "hours": 0.0})
        e["utterances"] += 1
        e["hours"] += r.samples / SAMPLE_RATE / 3600
    return {
        "utterances": len(kept),
        "seconds": round(seconds, 3),
        "hours": round(seconds / 3600, 4),
        "noisy": sum(1 for r in kept if r.applied.get("noise", "none") != "none"),
        "degraded": sum(1 for r in kept if not r.applied.get("clean")),
        "engines": {k: {**v, "hours": round(v["hours"], 4)} for k, v in sorted(engines.items())},
        "voices": sorted({spec.voice for spec in specs}),
        "variants": sorted({spec.variant for spec in specs if spec.engine == "espeak"}),
        "accents": sorted({spec.accent for spec in specs if spec.engine == "espeak"}),
    }


class _Builder:
    """Runs the pool and keeps, per split, the shortest prefix reaching the target seconds."""

    def __init__(
        self,
        out: Path,
        realism: dict[str, acoustics.Realism],
        executor: ProcessPoolExecutor,
        jobs: int,
        progress,
    ) -> None:
        self.out = out
        self.realism = realism
        self.executor = executor
        self.window = 4 * jobs
        self.progress = progress
        self.task = None

    def run_split(self, specs: Iterator[UtteranceSpec], target: float) -> list[Rendered]:
        kept: list[Rendered] = []
        pending: deque[tuple[UtteranceSpec, Future]] = deque()
        seconds = 0.0
        try:
            while seconds < target:
                while len(pending) < self.window:
                    spec = next(specs)
                    pending.append(
                        (
                            spec,
                            self.executor.submit(
                                _render_to_file, spec, self.realism, str(self.out)
                            ),
                        )
                    )
                spec, future = pending.popleft()
                n, applied = future.result()
                if n:
                    kept.append(Rendered(spec, n, applied))
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
    """Make (or reuse) the corpus in ``out``; returns the summary written to ``corpus.json``
    (``skipped_engines`` names the engines whose wheel is missing, with the reason)."""
    out = Path(out)
    if jobs < 1:
        raise CorpusError(f"--jobs must be at least 1, got {jobs}")
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out}: exists and is not a folder")
    espeak.check_available()
    engines, skipped = usable_engines(config)
    summary_path = out / SUMMARY
    if summary_path.is_file() and not fresh:
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            summary = {}
        same = summary.get("args") == config.to_dict()
        if same and summary.get("engines_used") == list(engines) and _is_complete(out, summary):
            summary["reused"] = True
            return summary
        if summary.get("args") is not None and not same:
            raise CorpusError(
                f"{out} holds a corpus made with {summary['args']}; use --fresh to replace it "
                "or choose another --out"
            )
    _clear(out)
    started = time.perf_counter()
    targets = config.split_seconds()
    order = ("test", "valid", "train")  # small splits first: the bar's estimate settles early
    results: dict[str, list[Rendered]] = {}
    saved_env = _single_thread_env()
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_worker_init, initargs=(engines,)
        ) as executor:
            progress = None
            if show_progress:
                from edge_asr.progress import make_progress

                progress = make_progress()
            estimate = sum(max(1, round(t / _MEAN_SECONDS)) for t in targets.values())
            chains = {engine: config.acoustics(engine) for engine in engines}
            builder = _Builder(out, chains, executor, jobs, progress)
            with progress if progress is not None else contextlib.nullcontext():
                if progress is not None:
                    builder.task = progress.add_task("corpus", total=estimate, info="")
                for split in order:
                    if progress is not None:
                        progress.update(builder.task, info=split)
                    specs = plan(config, split, engines)
                    results[split] = builder.run_split(specs, targets[split])
                    done = sum(len(r) for r in results.values())
                    made = sum(x.samples for r in results.values() for x in r) / SAMPLE_RATE
                    left = sum(targets[s] for s in order if s not in results)
                    if progress is not None and done:
                        mean = made / done
                        progress.update(builder.task, total=done + round(left / mean))
    except BrokenProcessPool as exc:
        raise CorpusError(f"a synthesis worker died ({exc}); are the engines working?") from None
    finally:
        _restore_env(saved_env)
    manifests: dict[str, str] = {}
    for split in SPLITS:
        write_manifest(out / f"{split}.jsonl", [r.utterance(out) for r in results[split]])
        manifests[split] = f"{split}.jsonl"
        for engine in engines if len(engines) > 1 else ():
            rows = [r.utterance(out) for r in results[split] if r.spec.engine == engine]
            if rows:
                write_manifest(out / f"{split}.{engine}.jsonl", rows)
                manifests[f"{split}.{engine}"] = f"{split}.{engine}.jsonl"
    splits = {split: _split_summary(results[split]) for split in SPLITS}
    total = sum(s["seconds"] for s in splits.values())
    summary = {
        "format": "edge-asr-corpus",
        "version": FORMAT_VERSION,
        "args": config.to_dict(),
        "engines_used": list(engines),
        "skipped_engines": skipped,
        "sample_rate": SAMPLE_RATE,
        "hours": round(total / 3600, 4),
        "utterances": sum(s["utterances"] for s in splits.values()),
        "splits": splits,
        "test_only_variants": sorted(TEST_ONLY_VARIANTS),
        "acoustics": {
            "version": acoustics.AUGMENT_VERSION,
            **{engine: asdict(config.acoustics(engine)) for engine in engines},
        },
        "manifests": manifests,
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
        f"{'split':6} {'hours':>8} {'utterances':>11} {'voices':>7} {'variants':>9} "
        f"{'noisy':>6} {'degraded':>9}  engines",
    ]
    for split in SPLITS:
        s = summary["splits"][split]
        engines = ", ".join(f"{k} {v['hours']:.3f} h" for k, v in s.get("engines", {}).items())
        lines.append(
            f"{split:6} {s['hours']:8.3f} {s['utterances']:11d} {len(s['voices']):7d} "
            f"{len(s['variants']):9d} {s['noisy']:6d} {s.get('degraded', 0):9d}  {engines}"
        )
    test_only = ", ".join(summary["test_only_variants"])
    lines.append(f"test-only variants: {test_only}")
    if "elapsed_seconds" in summary and not summary.get("reused"):
        lines.append(f"made in {summary['elapsed_seconds']:.1f} s with {summary['jobs']} jobs")
    return "\n".join(lines)
