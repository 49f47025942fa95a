"""Writing a bundle (docs/formats.md): the header, artifact entries, ONNX metadata, bundle.json.

Order matters for trust: artifacts are written and gated first; an ONNX file gets its header and
entry embedded in ``metadata_props`` (key ``edge_asr_bundle``) *before* it is hashed, because the
metadata changes the bytes; bundle.json, which vouches for every hash, is written last and
atomically, so a bundle directory either has a complete, consistent bundle.json or none.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from runtime.errors import EdgeASRError
from runtime.fileio import atomic_path, sha256_file, write_json

SCHEMA_VERSION = 1
BUNDLE_FILE = "bundle.json"
SOURCE_FILE = "source/model.keras"
REJECTED_DIR = "rejected"
ONNX_METADATA_KEY = "edge_asr_bundle"
_TOOLS = (
    "edge-asr",
    "tensorflow",
    "keras",
    "ai-edge-litert",
    "onnx",
    "onnxruntime",
    "onnxconverter-common",
    "tf2onnx",
    "numpy",
)


def tool_versions() -> dict[str, str | None]:
    """Installed versions of everything that shaped the artifacts (None if absent)."""
    versions: dict[str, str | None] = {}
    for name in _TOOLS:
        versions[name] = None
        for dist in (name, f"{name}-cpu"):  # tensorflow ships as tensorflow-cpu here
            try:
                versions[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def bundle_header(
    model_meta: dict[str, Any],
    features: dict[str, Any],
    labels: dict[str, Any],
    source_sha256: str,
    stream: dict[str, Any] | None,
    not_streamable_reason: str | None,
) -> dict[str, Any]:
    """Everything in bundle.json except the artifact lists."""
    model = {
        "name": model_meta["name"],
        "params": model_meta.get("params", {}),
        "streamable": stream is not None,
        "source": {"file": SOURCE_FILE, "sha256": source_sha256},
    }
    if not_streamable_reason:
        model["not_streamable_reason"] = not_streamable_reason
    return {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": features,
        "labels": labels,
        "output_length": model_meta["output_length"],
        "model": model,
        "tool_versions": tool_versions(),
    }


def artifact_entry(
    name: str,
    file: str,
    fmt: str,
    precision: str,
    streaming: bool,
    io: dict[str, Any],
    stream: dict[str, Any] | None,
    quantized_weights: str,
    parity: dict[str, Any],
    conversion_seconds: float,
    note: str | None = None,
) -> dict[str, Any]:
    """One ``ARTIFACT`` of docs/formats.md (sha256/size_bytes filled in by ``finalize``)."""
    entry: dict[str, Any] = {
        "name": name,
        "file": file,
        "format": fmt,
        "precision": precision,
        "streaming": streaming,
        "inputs": io.get("inputs", []),
        "outputs": io.get("outputs", []),
        "stream": stream if streaming else None,
        "quantized_weights": quantized_weights,
        "sha256": None,
        "size_bytes": None,
        "parity": parity,
        "conversion_seconds": round(conversion_seconds, 2),
    }
    if note:
        entry["note"] = note
    return entry


def embed_onnx_metadata(
    path: str | os.PathLike, header: dict[str, Any], entry: dict[str, Any]
) -> None:
    """Store the header and this artifact's entry (without its own hash and size, which the
    embedding changes) in the ONNX file's ``metadata_props``, atomically."""
    import onnx

    model = onnx.load(str(path))
    own = {k: v for k, v in entry.items() if k not in ("sha256", "size_bytes")}
    value = json.dumps({"bundle": header, "artifact": own}, separators=(",", ":"))
    kept = [p for p in model.metadata_props if p.key != ONNX_METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=ONNX_METADATA_KEY, value=value)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))


def finalize(bundle_dir: str | os.PathLike, header: dict[str, Any], entry: dict[str, Any]) -> None:
    """Embed metadata (ONNX) then record the final file's sha256 and size in ``entry``."""
    path = Path(bundle_dir) / entry["file"]
    if entry["format"] == "onnx":
        embed_onnx_metadata(path, header, entry)
    entry["sha256"] = sha256_file(path)
    entry["size_bytes"] = path.stat().st_size


def write_bundle(
    bundle_dir: str | os.PathLike,
    header: dict[str, Any],
    artifacts: list[dict[str, Any]],
    unavailable: list[dict[str, Any]],
    check: dict[str, Any],
) -> Path:
    """Write bundle.json (last, atomically) and return its path."""
    for entry in artifacts:
        if not entry.get("sha256"):
            raise EdgeASRError(f"artifact {entry['name']} was not finalized (no sha256)")
    doc = {**header, "artifacts": artifacts, "unavailable": unavailable, "parity_check": check}
    path = Path(bundle_dir) / BUNDLE_FILE
    write_json(path, doc)
    return path
