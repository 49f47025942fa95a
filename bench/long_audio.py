"""Long files in bounded memory: peak RSS of transcribing 1 min vs 60 min, side by side.

Builds long WAVs from a manifest's utterances (each followed by 0.3-0.7 s of -60 dBFS noise,
cycled to the length, optionally resampled to ``--rate``), then per artifact kind (the
smallest offline and the smallest streaming artifact that passed the gate, or ``--artifact``)
transcribes each in a fresh process (``edge-asr transcribe``'s path: ``Recognizer.transcribe``
on the file) and prints its peak RSS, the ratio long/short and the RTF. ``--whole`` adds the
whole-input path (all samples, all features, one model run: what ``transcribe`` did before
issue 11) for the lengths up to ``--compare-minutes``.

Accuracy of the bounded path on long audio (``--compare-minutes``, default 10): the text of
``transcribe`` against the whole-input path's text (CER between them: 0 means the same
transcript) and both against the reference transcript, greedy and with ``--beam``.

    python bench/long_audio.py [--bundle demo/bundle] [--manifest demo/corpus/test.jsonl]
        [--minutes 1 60] [--rate 16000] [--compare-minutes 10] [--beam 16] [--whole]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

_CHILD = "--child"


def build_wav(path: Path, files: list[tuple[str, str]], minutes: float, rate: int) -> str:
    """Write the long WAV (16-bit, ``rate`` Hz) utterance by utterance; return its transcript."""
    from runtime.audio import read_audio, resample

    target = int(minutes * 60 * rate)
    rng = np.random.default_rng(0)
    texts, written = [], 0
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        i = 0
        while written < target:
            audio, text = files[i % len(files)]
            x = read_audio(audio, 16000)
            gap = rng.normal(0, 1e-3, int(rng.uniform(0.3, 0.7) * 16000))
            x = np.concatenate([x, gap])
            if rate != 16000:
                x = resample(x, 16000, rate)
            x = x[: target - written]
            w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
            written += len(x)
            texts.append(text)
            i += 1
    tmp.replace(path)
    transcript = " ".join(texts)
    path.with_suffix(".txt").write_text(transcript)
    return transcript


def whole_posteriors(rec, samples: np.ndarray) -> np.ndarray:
    """The whole-input path, independent of ``runtime.long_audio``: every sample (and every
    feature frame) at once, one model run (or every chunk of a streaming artifact)."""
    from runtime.features import extract
    from runtime.streaming import as_pcm, run_audio_chunked, run_chunked

    be, art, rule = rec.backend, rec.artifact, rec.bundle.header.output_length
    if getattr(art, "audio", None) is not None:  # audio-in: PCM straight into the graph
        if art.stream is not None:
            return run_audio_chunked(be, art.stream, samples, rule)
        pcm = as_pcm(samples, np.dtype(be.inputs[0]["dtype"]))
        return be.run({be.input_names[0]: pcm[None]})[be.output_names[0]][0]
    feats = extract(samples, rec.bundle.features)
    if art.stream is not None:
        return run_chunked(be, art.stream, feats, rule(len(feats)))
    return be.run({be.input_names[0]: feats[None]})[be.output_names[0]][0]


def child(bundle: str, artifact: str, wav: str, mode: str, beam: int) -> None:
    """Transcribe ``wav`` in this fresh process; print peak RSS, seconds and the text."""
    from edge_asr.measure import peak_rss_mb
    from runtime import decoding
    from runtime.audio import read_audio
    from runtime.recognizer import DecoderOptions, Recognizer

    rec = Recognizer.from_bundle(bundle, artifact, decoder=DecoderOptions(beam_width=beam))
    loaded = peak_rss_mb()
    t0 = time.perf_counter()
    if mode == "whole":
        probs = whole_posteriors(rec, read_audio(wav, rec.sample_rate))
        text = rec._result(decoding.to_log_probs(probs), rec.decoder, 0, (0.0, 0.0, [])).text
    else:
        text = rec.transcribe(wav).text
    seconds = time.perf_counter() - t0
    print(json.dumps({"loaded": loaded, "peak": peak_rss_mb(), "seconds": seconds, "text": text}))


def run_child(bundle: str, artifact: str, wav: Path, mode: str, beam: int = 1) -> dict:
    cmd = [sys.executable, __file__, _CHILD, bundle, artifact, str(wav), mode, str(beam)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{artifact} {mode} {wav.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def cer(a: str, b: str) -> float:
    import editdistance

    return editdistance.eval(a, b) / max(1, len(b))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        bundle, artifact, wav, mode, beam = sys.argv[2:7]
        child(bundle, artifact, wav, mode, int(beam))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="demo/bundle")
    parser.add_argument("--manifest", default="demo/corpus/test.jsonl")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 60.0])
    parser.add_argument("--rate", type=int, default=16000, help="sample rate of the long WAVs")
    parser.add_argument("--artifact", action="append", help="artifact (repeat; default: kinds)")
    parser.add_argument("--compare-minutes", type=float, default=10.0)
    parser.add_argument("--beam", type=int, default=16, help="beam width of the accuracy check")
    parser.add_argument("--whole", action="store_true", help="also the whole-input path's RSS")
    parser.add_argument("--workdir", default="/tmp/edge-asr-long-audio")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    from edge_asr.data.manifest import load_manifest
    from runtime.bundle import Bundle

    if not Path(args.bundle, "bundle.json").is_file():
        print(f"no bundle at {args.bundle}: run `make demo` first", file=sys.stderr)
        return 2
    bundle = Bundle.load(args.bundle)
    names = args.artifact or [
        a.name for kind in (False, True) if (a := _smallest(bundle, kind)) is not None
    ]
    files = [(str(u.path), u.text) for u in load_manifest(args.manifest)]
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    lengths = sorted({*args.minutes, args.compare_minutes})
    wavs, truth = {}, {}
    for minutes in lengths:
        wavs[minutes] = work / f"long_{minutes:g}min_{args.rate}.wav"
        txt = wavs[minutes].with_suffix(".txt")
        if wavs[minutes].is_file() and txt.is_file():
            truth[minutes] = txt.read_text()
        else:
            truth[minutes] = build_wav(wavs[minutes], files, minutes, args.rate)
    numbers: dict = {"rate": args.rate, "rss": [], "accuracy": []}

    cols = "".join(f"{f'{m:g} min':>10}" for m in lengths)
    print(f"peak RSS (MB) of one transcribing process, {args.rate} Hz WAV")
    print(f"{'artifact':26} {'path':7} {cols} {'ratio':>6} {'RTF':>7}")
    for name in names:
        for mode in ("bounded", "whole") if args.whole else ("bounded",):
            keep = [m for m in lengths if mode == "bounded" or m <= args.compare_minutes]
            runs = {m: run_child(str(bundle.path), name, wavs[m], mode) for m in keep}
            row = {"artifact": name, "path": mode}
            row |= {f"rss_{m:g}min": r["peak"] for m, r in runs.items()}
            row["ratio"] = runs[max(keep)]["peak"] / runs[min(keep)]["peak"]
            row["rtf"] = runs[max(keep)]["seconds"] / (max(keep) * 60)
            numbers["rss"].append(row)
            cells = "".join(
                f"{runs[m]['peak']:10.1f}" if m in runs else f"{'-':>10}" for m in lengths
            )
            print(f"{name:26} {mode:7} {cells} {row['ratio']:6.2f} {row['rtf']:7.4f}", flush=True)

    m = args.compare_minutes
    print(f"\naccuracy on the {m:g}-minute file: CER of the bounded text vs the whole-input text")
    print(f"{'artifact':26} {'decoder':8} {'vs whole':>9} {'CER whole':>10} {'CER bounded':>12}")
    for name in names:
        for beam in (1, args.beam):
            whole = run_child(str(bundle.path), name, wavs[m], "whole", beam)["text"]
            bounded = run_child(str(bundle.path), name, wavs[m], "bounded", beam)["text"]
            row = {
                "artifact": name,
                "beam": beam,
                "cer_vs_whole": cer(bounded, whole),
                "cer_whole": cer(whole, truth[m]),
                "cer_bounded": cer(bounded, truth[m]),
            }
            numbers["accuracy"].append(row)
            decoder = "greedy" if beam == 1 else f"beam {beam}"
            print(
                f"{name:26} {decoder:8} {row['cer_vs_whole']:9.4f} {row['cer_whole']:10.4f} "
                f"{row['cer_bounded']:12.4f}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2))
    return 0


def _smallest(bundle, streaming: bool):
    passing = bundle.passing(streaming=streaming)
    return min(passing, key=lambda a: a.size_bytes or 0) if passing else None


if __name__ == "__main__":
    sys.exit(main())
