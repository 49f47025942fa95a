"""Fuzzing the two parsers a device feeds untrusted bytes to: the WAV reader and the bundle
loader. Every input gives a result or one of our errors (never another exception), within a
time bound (hypothesis' deadline) and a memory bound (tracemalloc peak). Bounded case counts so
CI runs them on every commit."""

from __future__ import annotations

import copy
import json
import shutil
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.audio import AudioError, read_audio
from runtime.bundle import Bundle, BundleError

MEMORY_LIMIT = 64 * 1024 * 1024  # bytes numpy/python may allocate for one tiny input
FUZZ = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def _bounded(fn) -> None:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"peak {peak / 1e6:.0f} MB"


def _wav(code: int, channels: int, rate: int, bits: int, data: bytes, extra: bytes = b"") -> bytes:
    fmt = (
        struct.pack(
            "<HHIIHH",
            code,
            channels,
            rate,
            rate * channels * bits // 8 & 0xFFFFFFFF,
            channels * bits // 8 & 0xFFFF,
            bits,
        )
        + extra
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


headers = st.builds(
    _wav,
    code=st.sampled_from([0, 1, 3, 2, 0xFFFE, 0x55]),
    channels=st.integers(0, 65535),
    rate=st.one_of(st.sampled_from([0, 1, 8000, 16000, 44100, 44101]), st.integers(0, 2**32 - 1)),
    bits=st.sampled_from([0, 1, 7, 8, 12, 16, 24, 32, 64, 65535]),
    data=st.binary(max_size=600),
    extra=st.binary(max_size=30),
)


def _read(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(blob)
    try:
        x = read_audio(path, 16000)
    except AudioError as exc:
        assert "\n" not in str(exc)
        return
    assert x.dtype == np.float32 and x.ndim == 1 and np.isfinite(x).all()


@FUZZ
@given(blob=headers)
def test_fuzz_wav_headers(tmp_path: Path, blob: bytes):
    _bounded(lambda: _read(tmp_path, blob))


@FUZZ
@given(
    blob=st.one_of(st.binary(max_size=200), headers.map(lambda b: b[: len(b) // 2])),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
)
def test_fuzz_wav_bytes(tmp_path: Path, blob: bytes, flips):
    data = bytearray(blob)
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    _bounded(lambda: _read(tmp_path, bytes(data)))


@pytest.mark.parametrize("rate", [1, 999, 768_001, 2**32 - 1])
def test_absurd_sample_rates_are_refused(tmp_path: Path, rate: int):
    (tmp_path / "x.wav").write_bytes(_wav(1, 1, rate, 16, bytes(3200)))
    with pytest.raises(AudioError, match="sample rate"):
        read_audio(tmp_path / "x.wav", 16000)


def test_coprime_rate_is_resampled_in_bounded_memory(tmp_path: Path):
    """44,101 Hz -> 16 kHz once built a 2.8 GB polyphase matrix (50 s); now the direct path."""
    tone = np.sin(2 * np.pi * 440 * np.arange(44101) / 44101)
    (tmp_path / "x.wav").write_bytes(_wav(1, 1, 44101, 16, (tone * 20000).astype("<i2").tobytes()))
    tracemalloc.start()
    x = read_audio(tmp_path / "x.wav", 16000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(x) == 16000 and peak < 50e6
    ref = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 20000 / 32768
    assert np.abs(x[300:-300] - ref[300:-300]).max() < 1e-3


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc, prefix=()):
    """Every (path to a node) of a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@pytest.fixture(scope="module")
def bundle_copy(tiny_bundle: Path, tmp_path_factory) -> tuple[Path, dict, list]:
    out = tmp_path_factory.mktemp("fuzz") / "b"
    shutil.copytree(tiny_bundle, out)
    doc = json.loads((out / "bundle.json").read_text())
    return out, doc, list(_paths(doc))[1:]


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_fuzz_bundle_json(bundle_copy, data):
    """Replace one node of a real bundle.json (or delete it) with arbitrary JSON: the loader
    returns a bundle whose selection works, or raises BundleError, nothing else."""
    folder, doc, paths = bundle_copy
    where = data.draw(st.sampled_from(paths))
    broken = copy.deepcopy(doc)
    node = broken
    for key in where[:-1]:
        node = node[key]
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[where[-1]]
    else:
        node[where[-1]] = data.draw(json_values)
    (folder / "bundle.json").write_text(json.dumps(broken))

    def load() -> None:
        try:
            bundle = Bundle.load(folder)
            for art in bundle.passing():
                bundle.output_length(100)
                _ = art.stream.window_frames if art.stream else None
        except BundleError as exc:
            assert "\n" not in str(exc)

    _bounded(load)
