"""``edge-asr transcribe`` and ``edge-asr lm``: the device-side commands.

Nothing here imports TensorFlow or Keras: a device with only the ``runtime`` extra runs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runtime.errors import EdgeASRError

STDIN_BLOCK_BYTES = 3200  # 100 ms of 16-bit mono at 16 kHz


def register_transcribe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe WAV files (or raw PCM from stdin with --stream) with a bundle",
        description="Transcribe audio on the device runtime (no TensorFlow).",
    )
    p.add_argument("bundle", help="bundle directory (from `edge-asr convert`)")
    p.add_argument("files", nargs="*", help="WAV files")
    p.add_argument("--artifact", help="artifact name (default: smallest that passed the gate)")
    p.add_argument("--backend", choices=["auto", "tflite", "onnx"], default="auto")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    p.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy)")
    p.add_argument("--lm", help="ARPA word language model (enables beam search)")
    p.add_argument("--alpha", type=float, default=0.5, help="LM weight")
    p.add_argument("--beta", type=float, default=1.0, help="word insertion bonus")
    p.add_argument("--hotword", action="append", default=None, help="word to favour (repeat)")
    p.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read raw 16-bit little-endian mono PCM at the bundle rate from stdin",
    )
    p.set_defaults(func=run_transcribe)


def register_lm(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lm", help="word n-gram language models (ARPA)")
    lm_sub = p.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    b = lm_sub.add_parser("build", help="build an ARPA n-gram model from sentences")
    b.add_argument("corpus", help="text file, one sentence per line (normalized on reading)")
    b.add_argument("--order", type=int, default=3)
    b.add_argument("--out", required=True, help="output .arpa file")
    b.set_defaults(func=run_lm_build)


def run_lm_build(args: argparse.Namespace) -> int:
    from runtime import lm
    from runtime.fileio import write_text

    text = lm.build_from_text_file(args.corpus, order=args.order)
    write_text(args.out, text)
    print(f"wrote {args.out} (order {args.order})")
    return 0


def _decoder(args: argparse.Namespace) -> Any:
    from runtime.recognizer import DecoderOptions

    lm = None
    if args.lm:
        from runtime.lm import ArpaLM

        lm = ArpaLM.load(args.lm)
    beam = args.beam if args.beam > 1 or not (lm or args.hotword) else max(args.beam, 16)
    return DecoderOptions(
        beam_width=beam, lm=lm, alpha=args.alpha, beta=args.beta, hotwords=args.hotword
    )


def run_transcribe(args: argparse.Namespace) -> int:
    if args.stream:
        if args.files:
            raise EdgeASRError("--stream reads stdin; give no files")
        return _stream(args)
    if not args.files:
        raise EdgeASRError("give WAV files to transcribe, or --stream to read stdin")
    from runtime.recognizer import Recognizer

    rec = Recognizer.from_bundle(
        args.bundle, args.artifact, args.backend, args.threads, decoder=_decoder(args)
    )
    failures = 0
    for file in args.files:
        try:
            result = rec.transcribe(file)
        except EdgeASRError as exc:  # one bad file does not stop the others
            failures += 1
            print(f"edge-asr transcribe: error: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": file, "error": str(exc)}), flush=True)
            continue
        if args.json:
            out = {"file": file, "artifact": rec.artifact["name"], **result.to_dict()}
            print(json.dumps(out), flush=True)
        else:
            print(f"{file}: {result.text}", flush=True)
    return 1 if failures else 0


def _stream(args: argparse.Namespace) -> int:
    from runtime.audio import pcm16_to_float
    from runtime.recognizer import StreamingRecognizer

    rec = StreamingRecognizer.from_bundle(
        args.bundle, args.artifact, args.backend, args.threads, decoder=_decoder(args)
    )
    tty = sys.stdout.isatty()
    last = ""
    carry = b""
    stdin = sys.stdin.buffer
    while block := stdin.read(STDIN_BLOCK_BYTES):
        data = carry + block
        cut = len(data) - len(data) % 2
        carry = data[cut:]
        partial = rec.accept_audio(pcm16_to_float(data[:cut]))
        if partial != last:
            last = partial
            if args.json:
                print(json.dumps({"partial": partial}), flush=True)
            elif tty:
                print(f"\r{partial}", end="", flush=True)
            else:
                print(f"partial: {partial}", flush=True)
    result = rec.finalize()
    if args.json:
        print(json.dumps({"final": True, **result.to_dict()}), flush=True)
    else:
        print(f"\r{result.text}" if tty else f"final: {result.text}", flush=True)
    return 0
