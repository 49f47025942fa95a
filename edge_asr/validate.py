"""``edge-asr validate``: accuracy against size, latency and memory for every artifact.

Each artifact runs through the on-device runtime in a fresh process (``python -m
runtime.batch``: numpy + one interpreter, no TensorFlow), so latency and peak RSS are what a
device would see; the bundle's source Keras model is the reference. Outputs a terminal table,
report.json/.csv/.md and a CER-vs-size plot with the Pareto front.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="CER/WER vs size, latency and memory of every artifact, on held-out audio",
    )
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle directories")
    p.add_argument("--manifest", required=True, help="held-out JSON-lines manifest")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--limit", type=int, help="use the first N utterances")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    p.add_argument(
        "--max-delta-cer",
        type=float,
        default=None,
        help="fail when any artifact's CER exceeds the Keras CER by more (absolute, 0.005 = "
        "0.5 points)",
    )
    p.set_defaults(func=run)


def _utterances(manifest: str, limit: int | None) -> list[Any]:
    from edge_asr.data.manifest import read_manifest

    utts, problems = read_manifest(manifest)
    for problem in problems:
        print(f"edge-asr validate: {manifest}: skipped {problem}", file=sys.stderr)
    utts = [u for u in utts if Path(u.path).is_file() or _warn_missing(u)]
    if limit:
        utts = utts[:limit]
    if not utts:
        raise EdgeASRError(f"{manifest}: no usable utterances")
    return utts


def _warn_missing(utt: Any) -> bool:
    print(f"edge-asr validate: skipped missing audio {utt.path}", file=sys.stderr)
    return False


def _keras_reference(bundle: Any, utts: list[Any]) -> dict[str, Any]:
    """Greedy transcripts of the bundle's source Keras model (the reference)."""
    from edge_asr.inference import greedy_texts, keras_posteriors
    from edge_asr.models import load_model
    from runtime.audio import read_audio
    from runtime.features import extract

    source = bundle.meta.get("model", {}).get("source", {})
    src = bundle.path / source.get("file", "source/model.keras")
    if not src.is_file():
        raise EdgeASRError(f"{bundle.path}: source Keras model {src} is missing")
    model = load_model(src)
    rate = bundle.features.sample_rate
    feats = [extract(read_audio(u.path, rate), bundle.features) for u in utts]
    t0 = time.perf_counter()
    posts = keras_posteriors(model, feats)
    seconds = time.perf_counter() - t0
    return {"texts": greedy_texts(posts), "seconds": seconds}


def _row(
    bundle: Any, art: dict[str, Any], run: dict[str, Any], ref: dict[str, Any], utts: list[Any]
) -> dict[str, Any]:
    from edge_asr.metrics import cer, wer

    refs = [u.text for u in utts]
    by_file = {r["file"]: r for r in run.get("results", [])}
    hyps = [by_file.get(str(u.path), {}).get("text", "") for u in utts]
    errors = [r for r in run.get("results", []) if "error" in r]
    lat = np.array([r["latency_ms"] for r in run.get("results", []) if "latency_ms" in r])
    audio = sum(r["audio_s"] for r in run.get("results", []) if "audio_s" in r)
    art_cer, art_wer = cer(refs, hyps), wer(refs, hyps)
    agree = [h == k for h, k in zip(hyps, ref["texts"], strict=True)]
    return {
        "bundle": str(bundle.path),
        "name": art["name"],
        "format": art["format"],
        "precision": art["precision"],
        "streaming": bool(art["streaming"]),
        "size_bytes": int(art.get("size_bytes", 0)),
        "gate_passed": bool(art.get("parity", {}).get("passed")),
        "cer": art_cer,
        "wer": art_wer,
        "delta_cer": art_cer - ref["cer"],
        "delta_wer": art_wer - ref["wer"],
        "decode_agreement": float(np.mean(agree)),
        "latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "latency_p95_ms": float(np.percentile(lat, 95)) if lat.size else None,
        "rtf": float(lat.sum() / 1e3 / audio) if audio else None,
        "load_s": run.get("load_s"),
        "peak_rss_mb": run.get("peak_rss_mb"),
        "loadable_by": run.get("loadable_by", {}),
        "errors": [run["error"]] if "error" in run else [e["error"] for e in errors],
    }


def _size_ratios(rows: list[dict[str, Any]]) -> None:
    """Each artifact's size relative to the fp32 artifact of the same bundle, format and kind."""
    for row in rows:
        base = next(
            (
                r
                for r in rows
                if r["bundle"] == row["bundle"]
                and r["format"] == row["format"]
                and r["streaming"] == row["streaming"]
                and r["precision"] == "fp32"
            ),
            None,
        )
        row["size_ratio"] = row["size_bytes"] / base["size_bytes"] if base else None


def validate(
    bundles: list[str],
    manifest: str,
    out: str,
    limit: int | None = None,
    threads: int = 1,
    max_delta_cer: float | None = None,
) -> dict[str, Any]:
    """Build the report (also written to ``out``); raise when the gate fails."""
    from edge_asr.metrics import cer, wer
    from edge_asr.progress import make_progress
    from runtime.batch import make_request, run_isolated
    from runtime.bundle import Bundle

    utts = _utterances(manifest, limit)
    files = [str(u.path) for u in utts]
    refs = [u.text for u in utts]
    rows: list[dict[str, Any]] = []
    references = []
    loaded = [Bundle.load(b) for b in bundles]
    with make_progress() as progress:
        for bundle in loaded:
            task = progress.add_task(f"keras {bundle.path.name}", total=None, info="reference")
            ref = _keras_reference(bundle, utts)
            ref.update(cer=cer(refs, ref["texts"]), wer=wer(refs, ref["texts"]))
            progress.update(task, total=1, completed=1, info=f"CER {ref['cer']:.3f}")
            references.append(
                {
                    "bundle": str(bundle.path),
                    "model": bundle.meta.get("model", {}).get("name"),
                    "cer": ref["cer"],
                    "wer": ref["wer"],
                    "keras_seconds": ref["seconds"],
                }
            )
            for art in bundle.artifacts:
                task = progress.add_task(art["name"], total=len(files), info="")
                request = make_request(bundle, art, files, threads)
                run = run_isolated(request, lambda _r, t=task: progress.advance(t))
                row = _row(bundle, art, run, ref, utts)
                progress.update(task, info=f"CER {row['cer']:.3f}")
                rows.append(row)
    _size_ratios(rows)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "manifest": str(manifest),
        "utterances": len(utts),
        "audio_seconds": float(sum(u.duration for u in utts)),
        "reference": references[0],
        "references": references,
        "artifacts": rows,
        "max_delta_cer": max_delta_cer,
    }
    failed = [
        r["name"]
        for r in rows
        if r["errors"] or (max_delta_cer is not None and r["delta_cer"] > max_delta_cer)
    ]
    report["failed"] = failed
    write_report(report, Path(out))
    return report


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


TABLE_COLUMNS = [
    ("artifact", lambda r: r["name"]),
    ("size KB", lambda r: _fmt(r["size_bytes"] / 1024, ",.0f")),
    ("x fp32", lambda r: _fmt(r["size_ratio"], ".2f")),
    ("CER", lambda r: _fmt(r["cer"], ".3f")),
    ("WER", lambda r: _fmt(r["wer"], ".3f")),
    ("dCER", lambda r: _fmt(r["delta_cer"], "+.4f")),
    ("agree", lambda r: _fmt(r["decode_agreement"], ".2f")),
    ("p50 ms", lambda r: _fmt(r["latency_p50_ms"], ".1f")),
    ("p95 ms", lambda r: _fmt(r["latency_p95_ms"], ".1f")),
    ("RTF", lambda r: _fmt(r["rtf"], ".4f")),
    ("load s", lambda r: _fmt(r["load_s"], ".2f")),
    ("RSS MB", lambda r: _fmt(r["peak_rss_mb"], ".0f")),
    ("runs on", lambda r: ", ".join(k for k, v in r["loadable_by"].items() if v == "yes")),
]


def write_report(report: dict[str, Any], out: Path) -> None:
    """report.json, report.csv, report.md and cer_vs_size.png under ``out`` (atomic writes)."""
    from runtime.fileio import write_json, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    buf = io.StringIO()
    keys = [k for k in report["artifacts"][0] if k != "loadable_by"] if report["artifacts"] else []
    writer = csv.DictWriter(buf, fieldnames=[*keys, "loadable_by"])
    writer.writeheader()
    for row in report["artifacts"]:
        writer.writerow({**row, "loadable_by": json.dumps(row["loadable_by"])})
    write_text(out / "report.csv", buf.getvalue())
    write_text(out / "report.md", markdown(report))
    plot(report, out / "cer_vs_size.png")


def markdown(report: dict[str, Any]) -> str:
    ref = report["reference"]
    lines = [
        "# Validation report",
        "",
        f"{report['utterances']} utterances ({report['audio_seconds'] / 60:.1f} min) from "
        f"`{report['manifest']}`. Keras reference ({ref['model']}): CER {ref['cer']:.3f}, "
        f"WER {ref['wer']:.3f}.",
        "",
        "| " + " | ".join(name for name, _ in TABLE_COLUMNS) + " |",
        "|" + "---|" * len(TABLE_COLUMNS),
    ]
    lines += ["| " + " | ".join(f(r) for _, f in TABLE_COLUMNS) + " |" for r in report["artifacts"]]
    if report["failed"]:
        lines += ["", f"Failed: {', '.join(report['failed'])}"]
    return "\n".join(lines) + "\n"


def pareto(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Artifacts no other artifact beats on both size and CER."""
    front, best = [], float("inf")
    for row in sorted(rows, key=lambda r: (r["size_bytes"], r["cer"])):
        if row["cer"] < best:
            front.append(row)
            best = row["cer"]
    return front


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from runtime.fileio import atomic_path

    rows = [r for r in report["artifacts"] if not r["errors"]]
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for fmt, marker in (("tflite", "o"), ("onnx", "s")):
        pts = [r for r in rows if r["format"] == fmt]
        ax.scatter(
            [r["size_bytes"] / 1024 for r in pts],
            [r["cer"] for r in pts],
            marker=marker,
            s=45,
            label=fmt.upper(),
            zorder=3,
        )
    # neighbours in size often share a CER: stagger their labels so they stay readable
    for i, r in enumerate(sorted(rows, key=lambda r: r["size_bytes"])):
        ax.annotate(
            r["name"],
            (r["size_bytes"] / 1024, r["cer"]),
            textcoords="offset points",
            xytext=(5, (6, -12, 16, -22)[i % 4]),
            fontsize=7,
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.6"},
        )
    front = pareto(rows)
    if front:
        ax.step(
            [r["size_bytes"] / 1024 for r in front],
            [r["cer"] for r in front],
            where="post",
            color="tab:red",
            lw=1.2,
            label="Pareto front",
            zorder=2,
        )
    for ref in report["references"]:
        ax.axhline(ref["cer"], color="gray", ls="--", lw=1, label=f"Keras {ref['model']}")
    ax.set_xscale("log")
    ax.set_xlabel("artifact size (KB, log scale)")
    ax.set_ylabel("CER")
    ax.set_title(f"CER vs size ({report['utterances']} held-out utterances)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    ref = report["reference"]
    table = Table(
        title=f"Keras reference: CER {ref['cer']:.3f}  WER {ref['wer']:.3f}  "
        f"({report['utterances']} utterances)"
    )
    for name, _ in TABLE_COLUMNS:
        table.add_column(name, justify="left" if name in ("artifact", "runs on") else "right")
    for r in report["artifacts"]:
        style = "red" if r["name"] in report["failed"] else None
        table.add_row(*(f(r) for _, f in TABLE_COLUMNS), style=style)
    Console(width=max(Console().width, 160)).print(table)


def run(args: argparse.Namespace) -> int:
    report = validate(
        args.bundles, args.manifest, args.out, args.limit, args.threads, args.max_delta_cer
    )
    print_table(report)
    out = Path(args.out)
    print(f"report: {out / 'report.json'}  {out / 'report.md'}  plot: {out / 'cer_vs_size.png'}")
    if report["failed"]:
        raise EdgeASRError(f"artifacts failed validation: {', '.join(report['failed'])}")
    return 0
