"""Device targets, measured: every artifact natively and on emulated aarch64, plus TFLM.

Per artifact of a bundle and per interpreter that can open its format (LiteRT and
tflite-runtime 2.14 for TFLite, onnxruntime for ONNX): does it load and run on this x86-64 host
and inside the emulated aarch64 root (``edge_asr.targets.aarch64``) on each CPU model, and how
close the emulated run is to the native one (greedy-decode agreement, max |posterior diff|,
same WAVs, same runner). From bundle.json's ``micro`` entries: TFLM arena and flash bytes
against the LiteRT artifact's size. Emulation is 40-100x slower than a real core, so nothing
here is a timing claim.

    python bench/targets.py [--bundle demo/bundle] [--manifest demo/corpus/test.jsonl] [-n 2]
        [--cpu cortex-a72,max] [--json OUT.json]

Prints the compatibility matrix and the TFLM table as Markdown (what the README shows); a
variant the bundle has no passing file for (rejected by the gate, or unsupported by design,
e.g. offline 16x8) gets a row saying why, so the matrix covers every requested variant. Exits
0 with "skipped: why" where the host cannot emulate or the bundle is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOST = "x86-64"
# Interpreters per format, in matrix column order (runner names: "auto" picks LiteRT/onnxruntime).
INTERPRETERS = {"tflite": (("LiteRT", "auto"), ("tflite-runtime 2.14", "tflite-runtime"))}
INTERPRETERS["onnx"] = (("onnxruntime", "auto"),)
_OP_VERSION = re.compile(r"builtin opcode '([A-Z0-9_]+)' version '(\d+)'")


def _gist(error: str) -> str:
    """The reason in a few words: the missing op and version when that is what failed."""
    found = _OP_VERSION.findall(error)
    if found:
        return "no kernel for " + ", ".join(dict.fromkeys(f"{op} v{v}" for op, v in found))
    return error if len(error) <= 90 else error[:89] + "…"


def measure(
    bundle_dir: Path, manifest: Path, n: int, cpus: tuple[str, ...], only: str | None = None
) -> dict[str, Any]:
    """Run every (artifact, interpreter) on the host and each CPU; return the results.
    ``only``: a comma list of artifact names (default: every passing artifact)."""
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from edge_asr.targets import compare as cmp
    from edge_asr.targets.aarch64 import CPUS, prepare
    from runtime.bundle import Bundle

    bundle = Bundle.load(bundle_dir)
    rate = bundle.features.sample_rate
    samples = [load_audio(u.path, rate) for u in load_manifest(manifest)[:n]]
    env = prepare(log=lambda m: print(f"aarch64: {m}", file=sys.stderr))
    env.sync_sources()
    rows: list[dict[str, Any]] = []
    with cmp.stage(env, bundle.path, samples, rate) as staged:
        wanted = set(only.split(",")) if only else None
        for art in bundle.passing():
            if wanted is not None and art.name not in wanted:
                continue
            row: dict[str, Any] = {"artifact": art.name, "format": art.format, "cells": {}}
            for label, interp in INTERPRETERS[art.format]:
                host = cmp.run_host(staged, art.name, interp)
                cells = {HOST: {"error": host.error} if host.error else {"ok": True}}
                for cpu in cpus:
                    dev = cmp.run_device(env, staged, art.name, cpu, interp)
                    if dev.error:
                        cells[CPUS[cpu]] = {"error": dev.error}
                    elif host.error:  # no native run of this interpreter to compare with
                        cells[CPUS[cpu]] = {"ok": True}
                    else:
                        cells[CPUS[cpu]] = {"ok": True, **cmp.compare(dev, host)}
                    print(f"{art.name} {label} {cpu}: {cells[CPUS[cpu]]}", file=sys.stderr)
                row["cells"][label] = cells
            micro = art.micro
            row["size_bytes"] = art.size_bytes
            row["micro"] = micro.to_dict() if micro is not None else None
            rows.append(row)
    missing = not_built(bundle, wanted)
    return {
        "missing": missing,
        "bundle": str(bundle_dir),
        "model": bundle.header.model.name,
        "params": bundle.header.model.params,
        "utterances": len(samples),
        "targets": [HOST, *(CPUS[c] for c in cpus)],
        "rows": rows,
    }


def not_built(bundle: Any, wanted: set[str] | None) -> list[dict[str, str]]:
    """Requested variants with no passing file: gate rejections and ``unavailable`` entries."""
    out = []
    for art in bundle.artifacts:
        if not art.passed and (wanted is None or art.name in wanted):
            why = "; ".join(art.parity.failures) or "failed the output-match gate"
            out.append({"artifact": art.name, "why": f"rejected by the gate: {why}"})
    for item in bundle.doc.unavailable:
        if wanted is None or item.name in wanted:
            see = f" (see {item.see})" if item.see else ""
            out.append({"artifact": item.name, "why": f"not built: {item.reason}{see}"})
    return out


def _cell(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    if "error" in cell:
        return f"fails: {_gist(cell['error'])}"
    if "agreement_vs_host" not in cell:
        return "yes"
    agree, diff = cell["agreement_vs_host"], cell["max_abs_diff_vs_host"]
    if agree == 1.0 and diff <= 1e-4:
        return f"yes ({diff:.0e})" if diff else "yes (0)"
    return f"**yes, agree {agree:.2f}, diff {diff:.1e}**"


def matrix_markdown(result: dict[str, Any]) -> list[str]:
    """Artifact x target x interpreter; an aarch64 cell shows the diff to the native run."""
    targets = result["targets"]
    labels = [label for pairs in INTERPRETERS.values() for label, _ in pairs]
    head = [f"{t} {label}" for t in targets for label in labels]
    lines = ["| artifact | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for row in result["rows"]:
        cells = [
            _cell(row["cells"].get(label, {}).get(t)) if label in row["cells"] else "-"
            for t in targets
            for label in labels
        ]
        lines.append(f"| {row['artifact']} | " + " | ".join(cells) + " |")
    for item in result.get("missing", []):
        why = _gist(item["why"]).replace("|", "/")
        lines.append(f"| {item['artifact']} | {why} |" + " - |" * (len(head) - 1))
    return lines


def micro_markdown(result: dict[str, Any]) -> list[str]:
    """TFLM arena and flash bytes next to the LiteRT artifact's size."""
    lines = [
        "| artifact | TFLM | arena bytes | flash bytes | LiteRT file bytes | TFLM vs LiteRT "
        "agree |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        micro = row["micro"]
        if micro is None:
            continue
        ok = "yes" if micro["compatible"] else f"no: {micro.get('reason') or 'incompatible'}"
        arena = f"{micro['arena_bytes']:,}" if micro["compatible"] else "-"
        agree = f"{micro['decode_agreement']:.2f}" if micro["compatible"] else "-"
        flash = f"{micro['flash_bytes']:,}" if micro.get("flash_bytes") else "-"
        size = f"{row['size_bytes']:,}"
        lines.append(f"| {row['artifact']} | {ok} | {arena} | {flash} | {size} | {agree} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "demo" / "bundle")
    parser.add_argument("--manifest", type=Path, default=REPO / "demo" / "corpus" / "test.jsonl")
    parser.add_argument("-n", type=int, default=2, help="test utterances (default 2)")
    parser.add_argument("--cpu", default="cortex-a72,max", help="emulated CPU models")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--artifacts", help="comma list of artifact names (default: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from edge_asr.targets.aarch64 import cannot_emulate

    why = cannot_emulate()
    if why or not (args.bundle / "bundle.json").is_file():
        print(f"bench/targets.py: skipped: {why or f'no bundle at {args.bundle}'}")
        return 0
    cpus = tuple(c for c in args.cpu.split(",") if c)
    result = measure(args.bundle, args.manifest, args.n, cpus, args.artifacts)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    params = result["params"]
    print(f"{result['model']} {params}, {result['utterances']} utterances\n")
    print("\n".join(matrix_markdown(result)))
    print()
    print("\n".join(micro_markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
