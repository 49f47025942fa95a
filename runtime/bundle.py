"""Reading and checking a bundle (the contract written by ``edge-asr convert``; see
docs/formats.md). Everything a device needs to trust an artifact before running it: the typed
contract of ``runtime.formats`` (every field validated on load), sha256 per file, tensor shapes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.feature_config import FeatureConfig
from runtime.fileio import sha256_file
from runtime.formats import (
    BUNDLE_FILE,
    SCHEMA_VERSION,
    ArtifactEntry,
    BundleDoc,
    BundleHeader,
    FormatError,
    Labels,
    TensorInfo,
)

__all__ = ["SCHEMA_VERSION", "Bundle", "BundleError", "check_io"]


class BundleError(FormatError):
    """A bundle that is missing, malformed, newer than this runtime, or tampered with."""


@dataclass(frozen=True)
class Bundle:
    """A loaded, validated bundle directory."""

    path: Path
    doc: BundleDoc

    @classmethod
    def load(cls, path: str | os.PathLike) -> Bundle:
        """Load ``path`` (a bundle directory or its bundle.json) and validate every field."""
        path = Path(path)
        manifest = path / BUNDLE_FILE if path.is_dir() else path
        if not manifest.is_file():
            raise BundleError(f"{path}: no {BUNDLE_FILE} (make one with `edge-asr convert`)")
        try:
            doc = BundleDoc.read(manifest)
        except BundleError:
            raise
        except FormatError as exc:
            raise BundleError(str(exc)) from None
        bundle = cls(manifest.parent, doc)
        bundle._check_labels()
        return bundle

    def _check_labels(self) -> None:
        classes = self.labels.num_classes
        for art in self.artifacts:
            width = art.outputs[0].shape[-1] if art.outputs and art.outputs[0].shape else -1
            if width not in (-1, classes):
                raise BundleError(
                    f"{self.path}: artifact {art.name} outputs {width} "
                    f"classes, the bundle's labels have {classes}"
                )

    @property
    def header(self) -> BundleHeader:
        return self.doc.header

    @property
    def artifacts(self) -> tuple[ArtifactEntry, ...]:
        return self.doc.artifacts

    @property
    def features(self) -> FeatureConfig:
        return self.doc.header.features

    @property
    def labels(self) -> Labels:
        return self.doc.header.labels

    @property
    def blank(self) -> int:
        return self.labels.blank

    @property
    def streamable(self) -> bool:
        return self.header.model.streamable

    @property
    def source_file(self) -> Path:
        """The source Keras model the artifacts were converted from."""
        return self.path / self.header.model.source_file

    def output_length(self, n_frames: int) -> int:
        return self.header.output_length(n_frames)

    @property
    def frame_seconds(self) -> float:
        """Seconds between two posterior frames (for word timestamps)."""
        return self.features.step_ms / 1000.0 * self.header.output_length.total_stride

    def passing(self, fmt: str | None = None, streaming: bool | None = None) -> list[ArtifactEntry]:
        """Artifacts that passed the gate, optionally of one format / streaming kind."""
        return [
            a
            for a in self.artifacts
            if a.passed
            and (fmt is None or a.format == fmt)
            and (streaming is None or a.streaming == streaming)
        ]

    def select(
        self, name: str | None = None, fmt: str | None = None, streaming: bool | None = None
    ) -> ArtifactEntry:
        """The artifact called ``name``, else the smallest one that passed the gate."""
        if name is not None:
            for art in self.artifacts:
                if art.name == name:
                    if not art.passed:
                        why = "; ".join(art.parity.failures) or "see bundle.json"
                        raise BundleError(
                            f"artifact {name!r} did not pass the output-match gate ({why})"
                        )
                    if fmt is not None and art.format != fmt:
                        raise BundleError(
                            f"artifact {name!r} is {art.format}, not {fmt} (drop --backend or "
                            f"pick a {fmt} artifact)"
                        )
                    return art
            for missing in self.doc.unavailable:
                if missing.name == name:
                    see = f"; use {missing.see}" if missing.see else ""
                    raise BundleError(f"artifact {name!r} is unavailable: {missing.reason}{see}")
            names = ", ".join(a.name for a in self.artifacts)
            raise BundleError(f"no artifact {name!r} in {self.path} (has: {names})")
        candidates = self.passing(fmt, streaming)
        if not candidates:
            kind = " streaming" if streaming else ""
            where = f" {fmt}" if fmt else ""
            raise BundleError(f"{self.path}: no{where}{kind} artifact passed the gate")
        return min(candidates, key=lambda a: (a.size_bytes or 0, a.name))

    def verify(self, artifact: ArtifactEntry) -> Path:
        """Path of ``artifact`` after checking its sha256 against bundle.json."""
        file = self.path / artifact.file
        if not file.is_file():
            raise BundleError(f"{file}: artifact file is missing")
        digest = sha256_file(file)
        if digest != artifact.sha256:
            raise BundleError(
                f"{file}: sha256 mismatch (tampered or corrupt): bundle says "
                f"{(artifact.sha256 or '')[:12]}..., file is {digest[:12]}..."
            )
        return file


def check_io(
    artifact: ArtifactEntry,
    inputs: list[dict[str, Any]] | tuple[TensorInfo, ...],
    outputs: list[dict[str, Any]] | tuple[TensorInfo, ...],
) -> None:
    """Fail when the loaded model's tensors disagree with what bundle.json promises."""
    for kind, declared, actual in (
        ("input", artifact.inputs, inputs),
        ("output", artifact.outputs, outputs),
    ):
        by_name = {t["name"]: t for t in map(_as_dict, actual)}
        for want in declared:
            got = by_name.get(want.name)
            if got is None:
                raise BundleError(
                    f"{artifact.file}: has no {kind} {want.name!r} "
                    f"(bundle.json and the model disagree)"
                )
            if not _shapes_match(list(want.shape), got["shape"]) or want.dtype != got["dtype"]:
                raise BundleError(
                    f"{artifact.file}: {kind} {want.name!r} is {got['dtype']}{list(got['shape'])}"
                    f", bundle.json says {want.dtype}{list(want.shape)}"
                )


def _as_dict(t: dict[str, Any] | TensorInfo) -> dict[str, Any]:
    return t.to_dict() if isinstance(t, TensorInfo) else t


def _shapes_match(want: list, got: list) -> bool:
    if len(want) != len(got):
        return False
    return all(w in (-1, None) or g in (-1, None) or w == g for w, g in zip(want, got, strict=True))
