"""LibriSpeech-style folders -> a manifest.

Layout: ``SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt`` with lines ``ID TEXT`` beside ``ID.flac``.
Texts are kept as they are (upper case): labels are normalized by ``runtime.text`` at training
time, so the manifest stays a faithful copy of the source.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from edge_asr.data.audio import AudioError, audio_info
from edge_asr.data.manifest import Utterance, write_manifest
from edge_asr.progress import track
from runtime.errors import EdgeASRError

_AUDIO_SUFFIXES = (".flac", ".wav", ".ogg")


@dataclass
class ImportReport:
    """What an import wrote and what it skipped (and why)."""

    manifest: Path
    utterances: int = 0
    seconds: float = 0.0
    missing: list[str] = field(default_factory=list)  # transcript ids without audio
    unreadable: list[str] = field(default_factory=list)  # audio libsndfile cannot read
    bad_lines: list[str] = field(default_factory=list)  # "file:line" without an id and text

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0


def _transcript_entries(trans: Path) -> list[tuple[str, str, int]]:
    entries = []
    for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        entries.append((parts[0], parts[1] if len(parts) == 2 else "", number))
    return entries


def _find_audio(folder: Path, utt_id: str) -> Path | None:
    for suffix in _AUDIO_SUFFIXES:
        candidate = folder / f"{utt_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def import_librispeech(root: str | os.PathLike, out_manifest: str | os.PathLike) -> ImportReport:
    """Write ``out_manifest`` for every transcript line under ``root`` whose audio exists.

    Lines without audio (or with unreadable audio) are skipped, counted in the report and
    announced with one warning; nothing usable at all is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise EdgeASRError(f"{root}: no such LibriSpeech folder")
    transcripts = sorted(root.rglob("*.trans.txt"))
    if not transcripts:
        raise EdgeASRError(f"{root}: no *.trans.txt transcripts found (not a LibriSpeech folder)")
    report = ImportReport(manifest=Path(out_manifest))
    jobs = []
    for trans in transcripts:
        for utt_id, text, number in _transcript_entries(trans):
            if not text:
                report.bad_lines.append(f"{trans.name}:{number}")
                continue
            jobs.append((trans.parent, utt_id, text))
    utterances = []
    for folder, utt_id, text in track(jobs, "librispeech"):
        audio = _find_audio(folder, utt_id)
        if audio is None:
            report.missing.append(utt_id)
            continue
        try:
            duration, _ = audio_info(audio)
        except AudioError:
            report.unreadable.append(utt_id)
            continue
        speaker, chapter = [*utt_id.split("-"), "", ""][:2]
        extra = {"id": utt_id, "speaker": speaker, "chapter": chapter}
        utterances.append(Utterance(audio.resolve(), round(duration, 6), text, extra))
        report.seconds += duration
    report.utterances = len(utterances)
    for kind, ids in (
        ("transcript lines without audio", report.missing),
        ("unreadable audio files", report.unreadable),
        ("transcript lines without text", report.bad_lines),
    ):
        if ids:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            warnings.warn(f"{root}: skipped {len(ids)} {kind}: {shown}", stacklevel=2)
    if not utterances:
        raise EdgeASRError(f"{root}: no transcript line has readable audio")
    write_manifest(out_manifest, utterances)
    return report
