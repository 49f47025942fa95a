"""One Recognizer shared by many threads gives every thread the single-threaded text, for
every artifact of the bundle (offline and streaming), and raises nothing but BackendError."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from runtime.bundle import Bundle
from runtime.recognizer import Recognizer
from tests.test_streams import test_files

THREADS = 8
ROUNDS = 5


def test_shared_recognizer_is_thread_safe(tiny_bundle: Path, tiny_corpus: Path):
    files = test_files(tiny_corpus, 7)
    for art in Bundle.load(tiny_bundle).passing():
        rec = Recognizer.from_bundle(tiny_bundle, art.name)
        expected = {f: rec.transcribe(f).to_dict() for f in files}
        jobs = [files[(i * 3 + k) % len(files)] for i in range(THREADS * ROUNDS) for k in (0, 1)]
        with ThreadPoolExecutor(THREADS) as pool:
            got = list(zip(jobs, pool.map(rec.transcribe, map(Path, jobs)), strict=True))
        wrong = [
            f for f, r in got if (r.text, r.words) != (expected[f]["text"], expected[f]["words"])
        ]
        assert not wrong, (art.name, len(wrong), len(jobs))
