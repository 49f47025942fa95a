"""Reading and checking a bundle (the contract written by ``edge-asr convert``; see
docs/formats.md). Everything a device needs to trust an artifact before running it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig
from runtime.fileio import sha256_file
from runtime.lengths import output_length, total_stride

SCHEMA_VERSION = 1
REQUIRED_ARTIFACT_KEYS = ("name", "file", "format", "precision", "streaming", "sha256")


class BundleError(EdgeASRError):
    """A bundle that is missing, malformed, newer than this runtime, or tampered with."""


@dataclass
class Bundle:
    path: Path
    meta: dict[str, Any]
    features: FeatureConfig
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Bundle:
        """Load ``path`` (a bundle directory or its bundle.json) and validate the header."""
        path = Path(path)
        manifest = path / "bundle.json" if path.is_dir() else path
        if not manifest.is_file():
            raise BundleError(f"{path}: no bundle.json (make one with `edge-asr convert`)")
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{manifest}: not valid JSON ({exc})") from None
        version = meta.get("schema_version")
        if not isinstance(version, int):
            raise BundleError(f"{manifest}: no schema_version")
        if version > SCHEMA_VERSION:
            raise BundleError(
                f"{manifest}: schema_version {version} is newer than this runtime supports "
                f"({SCHEMA_VERSION}); upgrade edge-asr"
            )
        for key in ("features", "labels", "output_length", "artifacts"):
            if key not in meta:
                raise BundleError(f"{manifest}: missing {key!r}")
        try:
            features = FeatureConfig.from_dict(meta["features"])
        except (TypeError, ValueError, KeyError) as exc:
            raise BundleError(f"{manifest}: bad features config ({exc})") from None
        for i, art in enumerate(meta["artifacts"]):
            missing = [k for k in REQUIRED_ARTIFACT_KEYS if k not in art]
            if missing:
                raise BundleError(f"{manifest}: artifact {i} lacks {', '.join(missing)}")
        return cls(manifest.parent, meta, features, list(meta["artifacts"]))

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"]["symbols"])

    @property
    def blank(self) -> int:
        return int(self.meta["labels"].get("blank", len(self.labels)))

    @property
    def rule(self) -> dict[str, Any]:
        return self.meta["output_length"]

    def output_length(self, n_frames: int) -> int:
        return output_length(self.rule, n_frames)

    @property
    def frame_seconds(self) -> float:
        """Seconds between two posterior frames (for word timestamps)."""
        return self.features.step_ms / 1000.0 * total_stride(self.rule)

    def passing(self, fmt: str | None = None, streaming: bool | None = None) -> list[dict]:
        """Artifacts that passed the gate, optionally of one format / streaming kind."""
        return [
            a
            for a in self.artifacts
            if a.get("parity", {}).get("passed")
            and (fmt is None or a["format"] == fmt)
            and (streaming is None or bool(a["streaming"]) == streaming)
        ]

    def select(
        self, name: str | None = None, fmt: str | None = None, streaming: bool | None = None
    ) -> dict[str, Any]:
        """The artifact called ``name``, else the smallest one that passed the gate."""
        if name is not None:
            for art in self.artifacts:
                if art["name"] == name:
                    if not art.get("parity", {}).get("passed"):
                        raise BundleError(f"artifact {name!r} did not pass the output-match gate")
                    return art
            names = ", ".join(a["name"] for a in self.artifacts)
            raise BundleError(f"no artifact {name!r} in {self.path} (has: {names})")
        candidates = self.passing(fmt, streaming)
        if not candidates:
            kind = " streaming" if streaming else ""
            where = f" {fmt}" if fmt else ""
            raise BundleError(f"{self.path}: no{where}{kind} artifact passed the gate")
        return min(candidates, key=lambda a: (a.get("size_bytes", 0), a["name"]))

    def verify(self, artifact: dict[str, Any]) -> Path:
        """Path of ``artifact`` after checking its sha256 against bundle.json."""
        file = self.path / artifact["file"]
        if not file.is_file():
            raise BundleError(f"{file}: artifact file is missing")
        digest = sha256_file(file)
        if digest != artifact["sha256"]:
            raise BundleError(
                f"{file}: sha256 mismatch (tampered or corrupt): bundle says "
                f"{artifact['sha256'][:12]}..., file is {digest[:12]}..."
            )
        return file


def check_io(artifact: dict[str, Any], inputs: list[dict], outputs: list[dict]) -> None:
    """Fail when the loaded model's tensors disagree with what bundle.json promises."""
    for kind, declared, actual in (
        ("input", artifact.get("inputs", []), inputs),
        ("output", artifact.get("outputs", []), outputs),
    ):
        if not declared:
            continue
        by_name = {t["name"]: t for t in actual}
        for want in declared:
            got = by_name.get(want["name"])
            if got is None:
                raise BundleError(
                    f"{artifact['file']}: has no {kind} {want['name']!r} "
                    f"(bundle.json and the model disagree)"
                )
            if not _shapes_match(want["shape"], got["shape"]) or want["dtype"] != got["dtype"]:
                raise BundleError(
                    f"{artifact['file']}: {kind} {want['name']!r} is {got['dtype']}{got['shape']}"
                    f", bundle.json says {want['dtype']}{want['shape']}"
                )


def _shapes_match(want: list, got: list) -> bool:
    if len(want) != len(got):
        return False
    return all(w in (-1, None) or g in (-1, None) or w == g for w, g in zip(want, got, strict=True))
