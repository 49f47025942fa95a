"""``edge-asr transcribe``: the device-side command (WAV files, or live audio on stdin).

Nothing here imports TensorFlow or Keras: a device with only the ``runtime`` extra runs it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from runtime.errors import EdgeASRError

STDIN_BLOCK_SECONDS = 0.1
#: ``--backend`` values (``runtime.backends.BACKENDS``, spelled out so ``--help`` imports no
#: numpy): a format (its interpreters, LiteRT first) or one interpreter.
BACKEND_CHOICES = ("auto", "tflite", "onnx", "litert", "tflite-runtime", "onnxruntime")
STDIN_EPILOG = """\
files: WAV (PCM 8-32 bit or float, any rate and channel count, resampled); any length in
bounded memory: streaming artifacts and greedy decoding are exact at any length; offline
artifacts run a file of up to 60 s in one call and longer files in 40 s windows (5 s of
context each side), beam search decodes up to 60 s at a time, cut in a pause.

stdin (--stream): raw signed 16-bit little-endian mono PCM at the bundle's sample rate (16 kHz
for the demo) or at --rate; a WAV stream (RIFF header) is read with its own rate, channels and
format (metadata chunks before or after the data are skipped). FLAC and Ogg are refused.
Ctrl-C (SIGINT) ends the input: the last utterance is finalized and printed, exit 0. With
--json, partials are {"partial": TEXT, "final": false} (with --partial-new-words
{"new": WORDS, "index": I, "final": false}: only the words completed since the previous
line, I = the first one's position in the utterance) and finals carry the offline keys plus
"final": true, one per utterance (endpointing). A closed stdout (`| head -1`) ends quietly
with exit 141.

examples:
  edge-asr transcribe demo/bundle recording.wav other.wav --json
  edge-asr transcribe demo/bundle long.wav --artifact tflite-int8-dynamic --beam 16 --lm lm.arpa
  arecord -f S16_LE -r 16000 -c 1 | edge-asr transcribe demo/bundle --stream
  edge-asr transcribe demo/bundle --stream --json --partial-new-words < meeting.wav"""


class UsageError(EdgeASRError):
    """An option out of range or options that contradict each other."""


def _at_least(low: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{what} must be >= {low}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"seconds must be >= 0, got {text}")
    return value


def register_transcribe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe WAV files (or live audio from stdin with --stream) with a bundle",
        description="Transcribe WAV files, or live audio from stdin (--stream), with one "
        "artifact of a bundle on the device runtime (numpy + LiteRT or onnxruntime; no "
        "TensorFlow).",
        epilog=STDIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bundle", help="bundle directory (from `edge-asr convert`)")
    p.add_argument("files", nargs="*", help="WAV files (none with --stream)")
    p.add_argument(
        "--artifact",
        help="artifact name (default: the smallest that passed the gate; with --stream the "
        "smallest streaming one)",
    )
    p.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default="auto",
        help="a format (tflite: LiteRT, else tflite-runtime) or one interpreter; must match "
        "--artifact's format (default: auto)",
    )
    p.add_argument(
        "--threads",
        type=_at_least(1, "--threads"),
        default=1,
        help="interpreter threads (default: 1)",
    )
    p.add_argument(
        "--beam",
        type=_at_least(1, "--beam"),
        default=1,
        help="beam width; 1 = greedy, 16 when --lm or --hotword is given (default: 1)",
    )
    p.add_argument("--lm", help="ARPA word language model (enables beam search; default: none)")
    p.add_argument("--alpha", type=float, default=0.5, help="LM weight (default: 0.5)")
    p.add_argument("--beta", type=float, default=1.0, help="word insertion bonus (default: 1.0)")
    p.add_argument(
        "--hotword", action="append", default=None, help="word to favour (repeat; default: none)"
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object per result on stdout (default: text)"
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="read live audio from stdin (format below); partials as they change "
        "(default: transcribe FILES)",
    )
    p.add_argument(
        "--partial-new-words",
        action="store_true",
        help="--stream --json: partial lines carry only the words completed since the "
        "previous one (default: the whole partial text)",
    )
    p.add_argument(
        "--rate",
        type=_at_least(1000, "--rate"),
        help="sample rate of raw PCM on stdin, resampled (default: the bundle's)",
    )
    p.add_argument(
        "--endpoint",
        type=_seconds,
        default=0.8,
        metavar="SECONDS",
        help="--stream: end an utterance after this much silence; 0 = one utterance (default: 0.8)",
    )
    p.add_argument(
        "--max-utterance",
        type=_seconds,
        default=20.0,
        metavar="SECONDS",
        help="--stream: cut utterances longer than this (default: 20)",
    )
    p.set_defaults(func=run_transcribe)


def _decoder(args: argparse.Namespace) -> Any:
    from runtime.recognizer import DecoderOptions

    lm = None
    if args.lm:
        from runtime.lm import ArpaLM

        lm = ArpaLM.load(args.lm)
    for word in args.hotword or ():
        if not word.strip():
            raise UsageError("--hotword must be a word, got an empty string")
    return DecoderOptions(
        beam_width=args.beam,
        lm=lm,
        alpha=args.alpha,
        beta=args.beta,
        hotwords=tuple(args.hotword or ()),
    )


def _recognizer(args: argparse.Namespace, streaming: bool | None) -> Any:
    from runtime.endpoint import EndpointConfig
    from runtime.recognizer import Recognizer

    endpoint = None
    if streaming and args.endpoint > 0:
        endpoint = EndpointConfig(args.endpoint, args.max_utterance)
    return Recognizer.from_bundle(
        args.bundle,
        args.artifact,
        args.backend,
        args.threads,
        decoder=_decoder(args),
        streaming=streaming,
        endpoint=endpoint,
    )


def run_transcribe(args: argparse.Namespace) -> int:
    if args.partial_new_words and not (args.stream and args.json):
        raise UsageError("--partial-new-words is for --stream --json")
    if args.stream:
        if args.files:
            raise UsageError("--stream reads stdin; give no files")
        return _stream(args)
    if args.rate:
        raise UsageError("--rate is for raw PCM on stdin (--stream); WAV files carry their rate")
    if not args.files:
        raise UsageError("give WAV files to transcribe, or --stream to read stdin")
    rec = _recognizer(args, None)
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
            out = {"file": file, "artifact": rec.artifact.name, **result.to_dict()}
            print(json.dumps(out), flush=True)
        else:
            print(f"{file}: {result.text}", flush=True)
    return 1 if failures else 0


class _Printer:
    """Partials and finals on stdout: JSON lines, a rewritten line on a TTY, or plain lines."""

    def __init__(self, args: argparse.Namespace, artifact: str) -> None:
        self.json = args.json
        self.new_words = args.partial_new_words
        self.tty = sys.stdout.isatty()
        self.artifact = artifact
        self.last = ""
        self.sent = 0  # --partial-new-words: words of this utterance already printed
        self.finals = 0

    def partial(self, stream: Any) -> None:
        if self.new_words:
            words = stream.complete_words
            if len(words) > self.sent:
                new = {"new": " ".join(words[self.sent :]), "index": self.sent, "final": False}
                print(json.dumps(new), flush=True)
            self.sent = len(words)
            return
        text = stream.partial
        if text == self.last:
            return
        self.last = text
        if self.json:
            print(json.dumps({"partial": text, "final": False}), flush=True)
        elif self.tty:
            print(f"\r\x1b[K{text}", end="", flush=True)
        else:
            print(f"partial: {text}", flush=True)

    def final(self, result: Any) -> None:
        self.last = ""
        self.sent = 0
        self.finals += 1
        if self.json:
            out = {"file": "-", "artifact": self.artifact, **result.to_dict(), "final": True}
            print(json.dumps(out), flush=True)
        elif self.tty:
            print(f"\r\x1b[K{result.text}", flush=True)
        else:
            print(f"final: {result.text}", flush=True)


def _stream(args: argparse.Namespace) -> int:
    from runtime.stdin_audio import detect

    rec = _recognizer(args, True)
    printer = _Printer(args, rec.artifact.name)
    stream = rec.create_stream()
    stdin = sys.stdin.buffer
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            pcm, head = detect(stdin, args.rate or rec.sample_rate)
            block = max(1, int(pcm.rate * STDIN_BLOCK_SECONDS)) * pcm.frame_bytes
            data = head
            while True:
                samples = pcm.decode(data)
                if len(samples):
                    stream.accept_waveform(pcm.rate, samples)
                    for result in stream.pop_results():
                        printer.final(result)
                    printer.partial(stream)
                if pcm.finished:  # the WAV's data chunk is complete: trailing chunks are not audio
                    break
                data = stdin.read(block)
                if not data:
                    break
        except KeyboardInterrupt:  # arecord | edge-asr ... --stream ends with Ctrl-C
            pass
        final = rec.finish(stream)
        for result in stream.pop_results():
            printer.final(result)
        if final.text or not printer.finals:
            printer.final(final)
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0
