"""Writing a bundle (docs/formats.md) from the typed contract of ``runtime.formats``.

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

from runtime.features import FeatureConfig
from runtime.fileio import atomic_path, sha256_file
from runtime.formats import (
    ONNX_METADATA_KEY,
    ArtifactEntry,
    BundleHeader,
    Labels,
    ModelInfo,
    ModelMeta,
    replace,
)

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
    meta: ModelMeta,
    features: FeatureConfig,
    labels: Labels,
    source_sha256: str,
    streamable: bool,
    not_streamable_reason: str | None,
) -> BundleHeader:
    """Everything in bundle.json except the artifact lists."""
    model = ModelInfo(
        name=meta.name,
        params=dict(meta.params),
        streamable=streamable,
        source_sha256=source_sha256,
        not_streamable_reason=not_streamable_reason or None,
    )
    return BundleHeader(
        features=features,
        labels=labels,
        output_length=meta.output_length,
        model=model,
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool_versions=tool_versions(),
    )


def embed_onnx_metadata(
    path: str | os.PathLike, header: BundleHeader, entry: ArtifactEntry
) -> None:
    """Store the header and this artifact's entry (without its own hash and size, which the
    embedding changes) in the ONNX file's ``metadata_props``, atomically."""
    import onnx

    model = onnx.load(str(path))
    value = json.dumps(
        {"bundle": header.to_dict(), "artifact": entry.to_dict(embedded=True)},
        separators=(",", ":"),
    )
    kept = [p for p in model.metadata_props if p.key != ONNX_METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=ONNX_METADATA_KEY, value=value)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))


def finalize(
    bundle_dir: str | os.PathLike, header: BundleHeader, entry: ArtifactEntry
) -> ArtifactEntry:
    """Embed metadata (ONNX), then return the entry with the final file's sha256 and size."""
    path = Path(bundle_dir) / entry.file
    if entry.format == "onnx":
        embed_onnx_metadata(path, header, entry)
    return replace(entry, sha256=sha256_file(path), size_bytes=path.stat().st_size)
