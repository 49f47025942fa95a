"""Conversion bench: per architecture and variant, size vs fp32, conversion time, and onnxruntime
latency of the native-RNN ONNX graph (converters.onnx_export) vs the Loop graph tf2onnx makes of
Keras 3 RNNs, measured side by side in one run.

    python bench/convert.py                      # random-initialized models, builder defaults
    python bench/convert.py --units 128          # smaller models
    python bench/convert.py --model-dir DIR --manifest valid.jsonl   # + delta CER, trained model

Random-initialized models (builder defaults, BatchNorm statistics randomized) give sizes,
conversion times and latencies; CER differences are meaningful only for a trained model, so
``--model-dir`` runs the real ``edge-asr convert`` pipeline (gate included) on it and prints its
parity numbers. The tf2onnx graph is made from the export twin (TimeDistributed replaced by
Dense) so that both ONNX graphs compute the same function and only the RNN ops differ.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

ARCHS = [
    "simple_rnn_model",
    "rnn_model",
    "cnn_rnn_model",
    "deep_rnn_model",
    "bidirectional_rnn_model",
    "final_model",
    "final_model_streaming",
]


def _randomize(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            leaf = weight.path.rsplit("/", 1)[-1]
            if leaf in ("moving_mean", "beta"):
                weight.assign(rng.normal(0.0, 0.3, tuple(weight.shape)).astype("float32"))
            elif leaf in ("moving_variance", "gamma"):
                weight.assign(rng.uniform(0.5, 1.5, tuple(weight.shape)).astype("float32"))


def _latency_ms(path: Path, feats: np.ndarray, repeats: int) -> float:
    """Median ms of one onnxruntime call (1 thread) on ``feats``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: feats})  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sess.run(None, {name: feats})
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def bench_architecture(name: str, units: int | None, frames: int, repeats: int, work: Path):
    """Rows (variant, bytes, seconds) and the native-vs-Loop latency of one architecture."""
    import onnx
    import onnxruntime as ort

    from converters import tflite_export
    from converters.onnx_export import export_onnx, export_onnx_tf2onnx
    from converters.onnx_quant import quantize
    from converters.streaming import stream_spec
    from edge_asr.models import build
    from edge_asr.models.twin import inference_twin

    params = {"units": units} if units and name != "simple_rnn_model" else {}
    model = build(name, input_dim=161, **params)
    _randomize(model)
    rows = []
    saved = str(work / f"{name}.sm")
    _, export_s = _timed(tflite_export.offline_saved_model, model, saved)
    for precision in ("fp32", "fp16", "int8-dynamic"):
        flat, secs = _timed(tflite_export.convert, saved, precision)
        rows.append((f"tflite-{precision}", len(flat), secs + export_s))
    spec = stream_spec(model, 16)
    if spec is not None:
        stream_saved = str(work / f"{name}.stream.sm")
        _, export_s = _timed(tflite_export.streaming_saved_model, model, spec, stream_saved)
        windows = [
            {"feats": np.random.default_rng(i).normal(size=(1, spec.window_frames, 161))}
            | {s.input: np.zeros(s.shape, np.float32) for s in spec.states}
            for i in range(20)
        ]
        for precision in ("fp32", "int8-full"):
            flat, secs = _timed(tflite_export.convert, stream_saved, precision, windows)
            rows.append((f"tflite-{precision}-stream", len(flat), secs + export_s))
    native = work / f"{name}.onnx"
    _, secs = _timed(export_onnx, model, native)
    rows.append(("onnx-fp32", native.stat().st_size, secs))
    for precision in ("fp16", "int8-dynamic"):
        dst = work / f"{name}.{precision}.onnx"
        _, secs = _timed(quantize, native, dst, precision)
        rows.append((f"onnx-{precision}", dst.stat().st_size, secs))
    loop = work / f"{name}.tf2onnx.onnx"
    _, loop_s = _timed(export_onnx_tf2onnx, inference_twin(model, copy=True)[0], loop)
    feats = np.random.default_rng(0).normal(size=(1, frames, 161)).astype(np.float32)
    ops = {n.op_type for n in onnx.load(str(loop)).graph.node}
    native_ms = _latency_ms(native, feats, repeats)
    loop_ms = _latency_ms(loop, feats, repeats)
    opts = ort.SessionOptions()
    a = ort.InferenceSession(str(native), opts).run(None, {"the_input": feats})[0]
    b_sess = ort.InferenceSession(str(loop), opts)
    b = b_sess.run(None, {b_sess.get_inputs()[0].name: feats})[0]
    latency = {
        "native_ms": native_ms,
        "loop_ms": loop_ms,
        "ratio": loop_ms / native_ms,
        "loop_has_loop_op": "Loop" in ops,
        "max_diff": float(np.abs(a - b).max()),
        "tf2onnx_seconds": loop_s,
    }
    return model.count_params(), rows, latency


def trained_model_report(model_dir: str, manifest: str, count: int) -> None:
    """The real pipeline (child processes, gate) on a trained model: delta CER per variant."""
    from converters.cli import print_table
    from converters.convert import Options, convert_model_dir, load_utterances, read_model_dir

    src = read_model_dir(model_dir)
    check = load_utterances(manifest, src.features, count)
    calib = load_utterances(manifest, src.features, count, skip=count)
    with tempfile.TemporaryDirectory() as out:
        outcome = convert_model_dir(model_dir, out, check, calib, Options())
        print_table(outcome)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=ARCHS)
    parser.add_argument("--units", type=int, help="recurrent units (default: builder defaults)")
    parser.add_argument("--frames", type=int, default=1000, help="latency input length (1000)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model-dir", help="trained model directory: also report delta CER")
    parser.add_argument("--manifest", help="held-out manifest for --model-dir")
    parser.add_argument("--count", type=int, default=40, help="check utterances (--model-dir)")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    what = f"units={args.units}" if args.units else "builder defaults"
    print(
        f"random-initialized models ({what}), 161 spectrogram bins, onnxruntime 1 thread, "
        f"{args.frames} frames"
    )
    print(f"{'arch':24} {'params':>9} {'variant':26} {'bytes':>10} {'vs fp32':>8} {'conv s':>7}")
    latencies = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.archs:
            params, rows, latency = bench_architecture(
                name, args.units, args.frames, args.repeats, Path(tmp)
            )
            fp32 = {"tflite": None, "tflite-stream": None, "onnx": None}
            for variant, size, secs in rows:
                key = variant.split("-")[0] + ("-stream" if variant.endswith("-stream") else "")
                fp32[key] = fp32[key] or size
                ratio = size / fp32[key]
                print(
                    f"{name:24} {params:>9,} {variant:26} {size:>10,} {ratio:>7.2f}x {secs:>7.2f}"
                )
            latencies[name] = latency
    print()
    print(f"onnxruntime latency per {args.frames} frames: native RNN ops vs tf2onnx Loop (Keras 3)")
    print(f"{'arch':24} {'native ms':>10} {'Loop ms':>10} {'ratio':>7} {'diff':>9} {'Loop op':>8}")
    for name, lat in latencies.items():
        print(
            f"{name:24} {lat['native_ms']:>10.2f} {lat['loop_ms']:>10.2f} {lat['ratio']:>6.1f}x "
            f"{lat['max_diff']:>9.1e} {'yes' if lat['loop_has_loop_op'] else 'no':>8}"
        )
    if args.model_dir:
        if not args.manifest:
            parser.error("--model-dir needs --manifest")
        print()
        trained_model_report(args.model_dir, args.manifest, args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
