"""``edge-asr export-web BUNDLE --out SITE``: a static folder that runs a bundle in a browser.

The site is the page of ``clients/web`` (index.html, app.mjs, capture-worklet.mjs), the shared
decoding and stream-loop module ``clients/js/edge_asr.mjs``, one audio-in streaming ONNX
artifact (the smallest that passed the gate, or ``--artifact``) and the WASM runtime files of
``onnxruntime-web`` (installed by ``make node``, copied here: nothing is fetched from a CDN at
run time). ``python -m http.server -d SITE`` serves it.

Light command: stdlib and ``runtime`` only. It copies files and writes ``config.json``; the
site is built in a temporary sibling folder and renamed into place, so a failed export leaves
the previous site whole.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from runtime.errors import EdgeASRError
from runtime.fileio import replace_dir

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ROOT / "clients"
WEB_FILES = ("index.html", "app.mjs", "capture-worklet.mjs")
SHARED_JS = CLIENTS / "js" / "edge_asr.mjs"
ORT_PACKAGE = CLIENTS / "web" / "node_modules" / "onnxruntime-web"
# The WASM build of onnxruntime-web: the ES module, its Emscripten loader and the binary.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MARKER = ".edge-asr-web"  # a folder holding it is a site this command may replace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-web",
        help="a static web page that runs a bundle's audio-in streaming artifact in the browser",
        description="Write a static site (index.html, a small JS module, one audio-in streaming "
        "ONNX artifact and the onnxruntime-web WASM files) that transcribes the microphone and "
        "WAV files in the browser. Serve it with `python -m http.server -d SITE`.",
        epilog="example: edge-asr export-web demo/bundle --out demo/site && "
        "python -m http.server -d demo/site 8000",
    )
    p.add_argument("bundle", help="bundle directory (from `edge-asr convert`)")
    p.add_argument("--out", required=True, metavar="SITE", help="output folder (replaced)")
    p.add_argument(
        "--artifact",
        metavar="NAME",
        help="audio-in streaming ONNX artifact (default: the smallest that passed the gate)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    site, art = export_web(args.bundle, args.out, args.artifact)
    size = art["size_bytes"] / 1024
    print(f"wrote {site} ({art['name']}, {size:.1f} KiB); serve: python -m http.server -d {site}")
    return 0


def audio_stream_artifacts(bundle: Any) -> list[Any]:
    """Passing ONNX artifacts that take PCM audio and stream (``*-audio-stream``)."""
    return [
        a
        for a in bundle.passing(fmt="onnx", streaming=True)
        if a.audio is not None and a.stream is not None and a.stream.audio is not None
    ]


def choose(bundle: Any, name: str | None) -> Any:
    """The artifact ``name`` (checked) or the smallest audio-in streaming ONNX one."""
    usable = audio_stream_artifacts(bundle)
    if name is not None:
        art = bundle.select(name)  # unknown, failed or unavailable: its own one-line error
        if art not in usable:
            raise EdgeASRError(
                f"artifact {name!r} is not an audio-in streaming ONNX artifact (the page feeds "
                f"PCM chunks to onnxruntime-web); usable: {_names(usable)}"
            )
        return art
    if not usable:
        raise EdgeASRError(
            f"{bundle.path}: no audio-in streaming ONNX artifact passed the gate (convert with "
            "--targets onnx-fp32-audio-stream; a bidirectional model cannot stream)"
        )
    return min(usable, key=lambda a: (a.size_bytes or 0, a.name))


def _names(arts: list[Any]) -> str:
    return ", ".join(a.name for a in arts) or "none"


def _sources() -> list[tuple[Path, str]]:
    """(source file, path in the site) of every file the site needs, or a one-line error."""
    files = [(CLIENTS / "web" / f, f) for f in WEB_FILES] + [(SHARED_JS, SHARED_JS.name)]
    files += [(ORT_PACKAGE / "dist" / f, f"ort/{f}") for f in ORT_FILES]
    for src, _ in files:
        if not src.is_file():
            hint = " (run `make node`: npm ci in clients/web)" if ORT_PACKAGE in src.parents else ""
            raise EdgeASRError(f"{src}: missing{hint}")
    return files


def _ort_version() -> str:
    try:
        return json.loads((ORT_PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def export_web(
    bundle_path: str | os.PathLike, out: str | os.PathLike, artifact: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """Write the site for ``bundle_path`` into ``out``; return it and the artifact entry."""
    from runtime.bundle import Bundle

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EdgeASRError(f"{out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise EdgeASRError(f"{out}: exists and is not a site written by export-web; not replacing")
    bundle = Bundle.load(bundle_path)
    art = choose(bundle, artifact)
    model = bundle.verify(art)  # sha256 against bundle.json
    files = _sources()
    entry = art.to_dict()
    header = bundle.header.to_dict()
    config = {
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model_file": f"model/{model.name}",
        "onnxruntime_web": _ort_version(),
        "bundle": {
            "model": {k: v for k, v in header["model"].items() if k != "source"},
            "labels": header["labels"],
            "output_length": header["output_length"],
            "sample_rate": bundle.features.sample_rate,
            "features": {"kind": header["features"]["kind"], "dim": bundle.features.dim},
        },
        "artifact": entry,
    }

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        for src, rel in [*files, (model, config["model_file"])]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / rel)
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / MARKER).write_text(f"written by edge-asr export-web from {bundle.path}\n")
        os.chmod(tmp, 0o755)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out, entry
