"""``edge-asr validate``: accuracy against size, latency and memory for every artifact.

Each artifact runs through the on-device runtime in a fresh process (``python -m
edge_asr.measure``: numpy + one interpreter, no TensorFlow), so latency and peak RSS are what a
device would see; the bundle's source Keras model is the reference. Both read the audio the same
way (any format the Keras side reads) and are scored against the normalized transcripts, as
training was. Outputs a terminal table, report.json/.csv/.md and a CER-vs-size plot with the
Pareto front.
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

from edge_asr.cli_types import output_dir, positive_int
from runtime.errors import EdgeASRError

EXAMPLE = (
    "example: edge-asr validate demo/bundle --manifest demo/corpus/test.jsonl "
    "--out demo/report --max-delta-cer 0.005"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="CER/WER vs size, latency and memory of every artifact, on held-out audio",
        description="Run every artifact of each bundle through the device runtime (a fresh "
        "process each, for honest latency and peak RSS) and its source Keras model on "
        "held-out audio; report CER/WER, size, latency and memory.",
        epilog=EXAMPLE,
    )
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle directories")
    p.add_argument(
        "--manifest", required=True, help="held-out JSON-lines manifest (WAV, FLAC, OGG, ...)"
    )
    p.add_argument("--out", required=True, type=output_dir, metavar="DIR", help="report directory")
    p.add_argument(
        "--limit", type=positive_int, metavar="N", help="use the first N utterances (default all)"
    )
    p.add_argument(
        "--threads", type=positive_int, default=1, help="interpreter threads (default 1)"
    )
    p.add_argument(
        "--max-delta-cer",
        type=float,
        default=None,
        metavar="D",
        help="fail when any artifact's CER exceeds the Keras CER by more than D (absolute, "
        "0.005 = 0.5 points; default: no bound)",
    )
    p.add_argument(
        "--arch",
        choices=["aarch64"],
        default=None,
        help="also run every artifact inside an emulated aarch64 environment (qemu-user; "
        "prepared once under .cache/aarch64, needs root) and report per-CPU columns",
    )
    p.add_argument(
        "--cpu",
        type=_cpu_list,
        default=None,
        metavar="CPU[,CPU]",
        help="emulated CPU models for --arch (default cortex-a72,max: ARMv8.0 without, and "
        "ARMv8.2+ with FP16 arithmetic)",
    )
    p.add_argument(
        "--arch-limit",
        type=positive_int,
        default=8,
        metavar="N",
        help="utterances per artifact under emulation (40-100x slower; default 8)",
    )
    p.add_argument(
        "--arch-artifacts",
        type=lambda text: tuple(n.strip() for n in text.split(",") if n.strip()),
        default=None,
        metavar="NAME[,NAME]",
        help="with --arch: emulate only these artifacts (default: every artifact)",
    )
    p.add_argument(
        "--arch-if-possible",
        action="store_true",
        help="with --arch: when this host cannot emulate, record 'not checked' and why instead "
        "of exiting 2 (what `edge-asr demo` uses)",
    )
    p.set_defaults(func=run)


def _cpu_list(text: str) -> tuple[str, ...]:
    from edge_asr.targets.aarch64 import CPUS

    cpus = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in cpus if c not in CPUS]
    if not cpus or bad:
        raise argparse.ArgumentTypeError(
            f"unknown CPU {', '.join(bad) or repr(text)}; choose from {', '.join(CPUS)}"
        )
    return cpus


def _check_args(out: str | Path, limit: int | None, threads: int, max_delta: float | None) -> Path:
    if limit is not None and limit < 1:
        raise EdgeASRError(f"--limit must be >= 1, got {limit}")
    if threads < 1:
        raise EdgeASRError(f"--threads must be >= 1, got {threads}")
    if max_delta is not None and not max_delta >= 0:
        raise EdgeASRError(f"--max-delta-cer must be >= 0, got {max_delta}")
    return output_dir(out)


def _load_sets(bundles: list[Any], manifest: str, limit: int | None) -> list[Any]:
    """The held-out set with each bundle's features (bundles with the same feature config share
    one load); every bundle must keep the same utterances."""
    from edge_asr.data.loading import load_set

    cache: list[tuple[Any, Any]] = []
    sets: list[Any] = []
    for bundle in bundles:
        loaded = next((s for config, s in cache if config == bundle.features), None)
        if loaded is None:
            loaded = load_set(manifest, bundle.features, limit=limit)
            summary = loaded.skipped.summary(Path(manifest).name)
            if summary:
                print(f"edge-asr validate: {summary}", file=sys.stderr)
            cache.append((bundle.features, loaded))
        if sets and loaded.lines != sets[0].lines:
            raise EdgeASRError(
                f"{bundle.path}: its feature config keeps other utterances of {manifest} than "
                f"{bundles[0].path}; validate these bundles separately"
            )
        sets.append(loaded)
    return sets


def _keras_reference(bundle: Any, loaded: Any) -> dict[str, Any]:
    """Greedy transcripts of the bundle's source Keras model (the reference) and their scores."""
    from edge_asr.inference import greedy_texts, keras_posteriors
    from edge_asr.metrics import cer, wer
    from edge_asr.models import load_model

    model = load_model(bundle.source_file, bundle.header.model_meta)
    t0 = time.perf_counter()
    texts = greedy_texts(keras_posteriors(model, loaded.features), bundle.labels)
    seconds = time.perf_counter() - t0
    return {
        "bundle": str(bundle.path),
        "model": bundle.header.model.name,
        "cer": cer(loaded.texts, texts),
        "wer": wer(loaded.texts, texts),
        "keras_seconds": seconds,
        "texts": texts,
    }


def _reason(error: str) -> str:
    """The gist of an error for the table: without the file path it starts with (the row names
    the artifact) and the details after it (report.json keeps the whole error)."""
    head, sep, tail = error.partition(": ")
    gist = tail if sep and ("/" in head or "\\" in head) else error
    return gist.split(": ")[0]


def _row(art: Any, bundle: Any, run: dict[str, Any], ref: dict[str, Any], loaded: Any) -> dict:
    """One report row. An artifact that did not run (tampered, unloadable) has no scores and
    says why instead of scoring its empty transcripts."""
    from edge_asr.metrics import cer, wer

    results = run.get("results", [])
    errors = [run["error"]] if "error" in run else [r["error"] for r in results if "error" in r]
    row: dict[str, Any] = {
        "bundle": str(bundle.path),
        "name": art.name,
        "format": art.format,
        "precision": art.precision,
        "streaming": art.streaming,
        "size_bytes": art.size_bytes,
        "gate_passed": art.parity.passed,
        "status": f"error: {_reason(errors[0])}" if errors else "ok",
    }
    scores = dict.fromkeys(("cer", "wer", "delta_cer", "delta_wer", "decode_agreement"))
    lat = np.array([r["latency_ms"] for r in results if "latency_ms" in r])
    audio = sum(r["audio_s"] for r in results if "audio_s" in r)
    if "error" not in run:
        by_file = {r["file"]: r for r in results}
        hyps = [by_file.get(str(u.path), {}).get("text", "") for u in loaded.utterances]
        refs = loaded.texts
        art_cer, art_wer = cer(refs, hyps), wer(refs, hyps)
        scores = {
            "cer": art_cer,
            "wer": art_wer,
            "delta_cer": art_cer - ref["cer"],
            "delta_wer": art_wer - ref["wer"],
            "decode_agreement": float(
                np.mean([h == k for h, k in zip(hyps, ref["texts"], strict=True)])
            ),
        }
    return {
        **row,
        **scores,
        "latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "latency_p95_ms": float(np.percentile(lat, 95)) if lat.size else None,
        "rtf": float(lat.sum() / 1e3 / audio) if audio else None,
        "load_s": run.get("load_s"),
        "peak_rss_mb": run.get("peak_rss_mb"),
        "loadable_by": run.get("loadable_by", {}),
        # TFLM verdict recorded at conversion (bundle.json; TFLite feature-input entries)
        "micro": art.micro.to_dict() if art.micro is not None else None,
        "errors": errors,
    }


def _emulation(arch: str | None, if_possible: bool) -> Any:
    """The prepared environment for ``arch``, the reason it cannot be made (``if_possible``),
    or None without ``arch``; an impossible ``arch`` otherwise fails before any work."""
    if arch is None:
        return None
    from edge_asr.targets.aarch64 import EmulationUnavailable, prepare

    try:
        return prepare(log=lambda m: print(f"edge-asr validate: aarch64: {m}", file=sys.stderr))
    except EmulationUnavailable as exc:
        if if_possible:
            return f"not checked: {exc}"
        raise EmulationUnavailable(f"--arch {arch}: {exc}") from None


def _device_targets(
    bundle: Any,
    loaded: Any,
    ref: dict[str, Any],
    rows: list[dict[str, Any]],
    env: Any,
    cpus: tuple[str, ...],
    limit: int,
    progress: Any,
) -> None:
    """Fill ``row["targets"]``: per emulated CPU, the artifact's CER, delta CER vs Keras (on
    the same utterances), decode agreement and max |posterior diff| vs this host's run."""
    from edge_asr.data.audio import load_audio
    from edge_asr.metrics import cer
    from edge_asr.targets import compare as cmp
    from edge_asr.targets.aarch64 import CPUS

    if isinstance(env, str):
        for row in rows:
            row["targets"] = {CPUS[c]: {"skipped": env} for c in cpus}
        return
    n = min(limit, len(loaded.utterances))
    refs = loaded.texts[:n]
    keras_cer = cer(refs, ref["texts"][:n])
    rate = bundle.features.sample_rate
    samples = [load_audio(u.path, rate) for u in loaded.utterances[:n]]
    env.sync_sources()
    with cmp.stage(env, bundle.path, samples, rate) as staged:
        for row in rows:
            task = progress.add_task(f"{row['name']} aarch64", total=len(cpus), info="host")
            targets: dict[str, dict[str, Any]] = {}
            host = cmp.run_host(staged, row["name"])
            for cpu in cpus:
                progress.update(task, info=cpu)
                if host.error:
                    targets[CPUS[cpu]] = {"skipped": f"host run failed: {host.error}"}
                    continue
                dev = cmp.run_device(env, staged, row["name"], cpu)
                if dev.error:
                    targets[CPUS[cpu]] = {"skipped": f"failed on device: {dev.error}", "error": 1}
                else:
                    art_cer = cer(refs, dev.texts)
                    targets[CPUS[cpu]] = {
                        "cer": art_cer,
                        "delta_cer": art_cer - keras_cer,
                        **cmp.compare(dev, host),
                        "utterances": n,
                    }
                progress.advance(task)
            row["targets"] = targets


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
        sizes = (row["size_bytes"], base["size_bytes"] if base else None)
        row["size_ratio"] = sizes[0] / sizes[1] if sizes[0] and sizes[1] else None


def validate(
    bundles: list[str],
    manifest: str,
    out: str | Path,
    limit: int | None = None,
    threads: int = 1,
    max_delta_cer: float | None = None,
    arch: str | None = None,
    cpus: tuple[str, ...] | None = None,
    arch_limit: int = 8,
    arch_if_possible: bool = False,
    arch_artifacts: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Build the report (also written to ``out``); ``report["failed"]`` names the artifacts
    that did not run or exceeded ``max_delta_cer`` (here or on an ``arch`` target). Bad
    arguments fail before any work."""
    from edge_asr.measure import make_request, run_isolated
    from edge_asr.progress import make_progress
    from edge_asr.targets.aarch64 import DEFAULT_CPUS
    from runtime.bundle import Bundle

    out = _check_args(out, limit, threads, max_delta_cer)
    cpus = cpus or DEFAULT_CPUS
    emulation = _emulation(arch, arch_if_possible)
    loaded_bundles = [Bundle.load(b) for b in bundles]
    sets = _load_sets(loaded_bundles, manifest, limit)
    files = [str(u.path) for u in sets[0].utterances]
    rows: list[dict[str, Any]] = []
    references = []
    with make_progress() as progress:
        for bundle, loaded in zip(loaded_bundles, sets, strict=True):
            task = progress.add_task(f"keras {bundle.path.name}", total=None, info="reference")
            ref = _keras_reference(bundle, loaded)
            progress.update(task, total=1, completed=1, info=f"CER {ref['cer']:.3f}")
            references.append({k: v for k, v in ref.items() if k != "texts"})
            for art in bundle.artifacts:
                task = progress.add_task(art.name, total=len(files), info="")
                request = make_request(bundle, art, files, threads)
                run = run_isolated(request, lambda _r, t=task: progress.advance(t))
                row = _row(art, bundle, run, ref, loaded)
                info = row["status"] if row["cer"] is None else f"CER {row['cer']:.3f}"
                progress.update(task, info=info)
                rows.append(row)
            if emulation is not None:
                mine = [r for r in rows if r["bundle"] == str(bundle.path)]
                if arch_artifacts is not None:
                    from edge_asr.targets.aarch64 import CPUS

                    for r in mine:
                        if r["name"] not in arch_artifacts:
                            skip = {"skipped": "not selected (--arch-artifacts)"}
                            r["targets"] = {CPUS[c]: skip for c in cpus}
                    mine = [r for r in mine if r["name"] in arch_artifacts]
                _device_targets(bundle, loaded, ref, mine, emulation, cpus, arch_limit, progress)
    _size_ratios(rows)
    failed = [r["name"] for r in rows if r["errors"] or _over(r, max_delta_cer)]
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "manifest": str(manifest),
        "utterances": len(files),
        "audio_seconds": float(sum(u.duration for u in sets[0].utterances)),
        "reference": references[0],
        "references": references,
        "artifacts": rows,
        "max_delta_cer": max_delta_cer,
        "failed": failed,
    }
    write_report(report, out)
    return report


def _over(row: dict[str, Any], max_delta: float | None) -> bool:
    """An artifact fails when it crashed on a target, or its delta CER here or on any target
    exceeds ``max_delta``."""
    targets = row.get("targets", {}).values()
    if any(t.get("error") for t in targets):
        return True
    if max_delta is None:
        return False
    deltas = [row["delta_cer"], *(t["delta_cer"] for t in targets if "delta_cer" in t)]
    return any(d is not None and d > max_delta for d in deltas)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


TABLE_COLUMNS = [
    ("artifact", lambda r: r["name"]),
    ("size KB", lambda r: _fmt(r["size_bytes"] and r["size_bytes"] / 1024, ",.0f")),
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
    ("status", lambda r: r["status"] if len(r["status"]) <= 60 else r["status"][:59] + "…"),
]
_LEFT = ("artifact", "runs on", "status")


def write_report(report: dict[str, Any], out: Path) -> None:
    """report.json, report.csv, report.md and cer_vs_size.png under ``out`` (atomic writes)."""
    from runtime.fileio import write_json, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    buf = io.StringIO()
    keys = list(report["artifacts"][0]) if report["artifacts"] else []
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for row in report["artifacts"]:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
        )
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
    lines += [f"\n{note}" for note in _interpreter_note(report)]
    lines += targets_markdown(report["artifacts"])
    lines += micro_markdown(report["artifacts"])
    if report["failed"]:
        lines += ["", f"Failed: {', '.join(report['failed'])}"]
    return "\n".join(lines) + "\n"


def _interpreter_note(report: dict[str, Any]) -> list[str]:
    """'runs on' lists the interpreters that loaded and ran each artifact; name the ones not
    installed here (so not tried), e.g. tflite-runtime next to LiteRT."""
    from edge_asr.measure import not_installed

    missing = not_installed([r.get("loadable_by", {}) for r in report["artifacts"]])
    return [f"Not installed here, not tried: {', '.join(missing)}."] if missing else []


def _target_cell(t: dict[str, Any] | None) -> str:
    if t is None:
        return "-"
    if "skipped" in t:
        return t["skipped"] if len(t["skipped"]) <= 70 else t["skipped"][:69] + "…"
    return (
        f"{t['cer']:.3f} / {t['delta_cer']:+.4f} / {t['agreement_vs_host']:.2f} / "
        f"{t['max_abs_diff_vs_host']:.1e}"
    )


def targets_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The device-target table (one column per emulated CPU), if any artifact has targets;
    a reason that is the same for every cell (e.g. no emulation here) is said once."""
    names = list(dict.fromkeys(n for r in rows for n in r.get("targets", {})))
    if not names:
        return []
    cells = [r["targets"].get(n, {}).get("skipped") for r in rows for n in names]
    if all(cells) and len(set(cells)) == 1:
        return ["", f"Device targets ({', '.join(names)}): {cells[0]}"]
    n = next((t["utterances"] for r in rows for t in r["targets"].values() if "cer" in t), 0)
    lines = [
        "",
        f"## Device targets (emulated, {n} utterances; CER / dCER vs Keras / decode agreement "
        "vs host / max abs diff vs host)",
        "",
        "| artifact | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    lines += [
        f"| {r['name']} | " + " | ".join(_target_cell(r["targets"].get(n)) for n in names) + " |"
        for r in rows
        if r.get("targets")
    ]
    return lines


def micro_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The TensorFlow Lite Micro table (from each TFLite entry's ``micro`` in bundle.json):
    what runs on a microcontroller, with which arena and flash, and how close to LiteRT."""
    checked = [r for r in rows if r.get("micro")]
    if not checked:
        return []
    lines = [
        "",
        "## TensorFlow Lite Micro (checked at conversion; decode agreement vs LiteRT on the "
        "check utterances)",
        "",
        "| artifact | TFLM | arena bytes | flash bytes | agree | static shapes |",
        "|---|---|---|---|---|---|",
    ]
    for r in checked:
        m = r["micro"]
        verdict = "yes" if m["compatible"] else f"no: {m.get('reason') or 'incompatible'}"
        arena = f"{m['arena_bytes']:,}" if m["compatible"] else "-"
        agree = f"{m['decode_agreement']:.2f}" if m["compatible"] else "-"
        static = "yes" if m.get("static_shapes") else "no"
        lines.append(
            f"| {r['name']} | {verdict} | {arena} | {m.get('flash_bytes', 0):,} | {agree} | "
            f"{static} |"
        )
    return lines


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

    rows = [r for r in report["artifacts"] if r["cer"] is not None and r["size_bytes"]]
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
        table.add_column(name, justify="left" if name in _LEFT else "right")
    for r in report["artifacts"]:
        style = "red" if r["name"] in report["failed"] else None
        table.add_row(*(f(r) for _, f in TABLE_COLUMNS), style=style)
    Console(width=max(Console().width, 160)).print(table)
    for note in _interpreter_note(report):
        print(note)


def run(args: argparse.Namespace) -> int:
    if args.cpu and not args.arch:
        raise EdgeASRError("--cpu needs --arch aarch64")
    report = validate(
        args.bundles,
        args.manifest,
        args.out,
        args.limit,
        args.threads,
        args.max_delta_cer,
        arch=args.arch,
        cpus=args.cpu,
        arch_limit=args.arch_limit,
        arch_if_possible=args.arch_if_possible,
        arch_artifacts=args.arch_artifacts,
    )
    print_table(report)
    for line in targets_markdown(report["artifacts"]):
        print(line)
    out = Path(args.out)
    print(f"report: {out / 'report.json'}  {out / 'report.md'}  plot: {out / 'cer_vs_size.png'}")
    if report["failed"]:
        print(f"edge-asr validate: failed: {', '.join(report['failed'])}", file=sys.stderr)
        return 1
    return 0
