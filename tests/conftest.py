"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~0.03 h espeak corpus (DIR with train/valid/test.jsonl and wav/), made once a session.

    Seed 0, default noise settings; about 45 utterances (train ~75 s, valid and test ~16 s each).
    """
    from edge_asr.data.corpus import CorpusConfig, build_corpus

    out = tmp_path_factory.mktemp("tiny_corpus")
    build_corpus(out, CorpusConfig(hours=0.03, seed=0), jobs=1, show_progress=False)
    return out
