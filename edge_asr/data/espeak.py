"""eSpeak NG through ctypes, from the ``espeakng-loader`` wheel (no system package, no apt).

The library keeps global state (one voice, one callback), so there is one synthesizer per
process: parallel synthesis uses processes. Its output also depends on what it synthesized
before: the pitch-flutter phase is a static that is never reset and the breath/Klatt noise comes
from a process-wide random generator. A corpus must be bitwise identical for any ``--jobs``, so
``synthesize(..., isolated=True)`` (the default where ``os.fork`` exists) speaks each utterance
in a forked child of a synthesizer that has never spoken, after reseeding the noise generator:
the samples depend only on the arguments. Forking costs ~3 ms an utterance.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from runtime.errors import EdgeASRError

INSTALL_HINT = "pip install espeakng-loader==0.2.4"

# espeak_AUDIO_OUTPUT / espeak_PARAMETER values from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_PARAM_RATE, _PARAM_PITCH = 1, 3
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes phonememode: IPA, no separators
# A clause's terminator as Piper's phonemizer writes it back (espeak drops it); after '.', '?'
# and '!' a new sentence starts, joined here with a space.
_CLAUSE_ENDS = {".": ". ", "?": "? ", "!": "! ", ",": ", ", ":": ": ", ";": "; "}
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(EdgeASRError):
    """eSpeak NG is missing, broken, or refused a voice."""


def data_dir() -> Path:
    """The espeak-ng-data folder shipped by espeakng-loader (voices, dictionaries)."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise EspeakError(f"espeak-ng is not available ({exc}); run: {INSTALL_HINT}") from None
    return Path(espeakng_loader.get_data_path())


def list_variants() -> list[str]:
    """Names of the voice variants (``voices/!v``) this espeak-ng data ships, sorted."""
    folder = data_dir() / "voices" / "!v"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def check_available() -> None:
    """Raise EspeakError (with the install hint) unless the library and its data are there.

    Loads the library without initializing it, so a parent process can check before it starts
    synthesis workers (whose own failures would only show as a broken pool).
    """
    try:
        import espeakng_loader
    except ImportError as exc:
        raise EspeakError(f"espeak-ng is not available ({exc}); run: {INSTALL_HINT}") from None
    data = Path(espeakng_loader.get_data_path())
    if not (data / "phontab").is_file():
        raise EspeakError(f"espeak-ng data missing in {data}; run: {INSTALL_HINT}")
    try:
        ctypes.CDLL(str(espeakng_loader.get_library_path()))
    except OSError as exc:
        raise EspeakError(f"cannot load libespeak-ng ({exc}); run: {INSTALL_HINT}") from None


class Synthesizer:
    """The process's eSpeak NG instance: ``synthesize(text, voice, rate, pitch)``."""

    def __init__(self, library: str | os.PathLike | None = None) -> None:
        if library is None:
            try:
                import espeakng_loader
            except ImportError as exc:
                raise EspeakError(
                    f"espeak-ng is not available ({exc}); run: {INSTALL_HINT}"
                ) from None
            library, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        else:
            data = str(data_dir())
        try:
            lib = ctypes.cdll.LoadLibrary(str(library))
        except OSError as exc:
            raise EspeakError(f"cannot load libespeak-ng ({exc}); run: {INSTALL_HINT}") from None
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), 0)
        if self.sample_rate <= 0:
            raise EspeakError(
                f"espeak-ng failed to initialize with data {data}; run: {INSTALL_HINT}"
            )
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # keep a reference: C holds a pointer
        lib.espeak_SetSynthCallback(self._callback)
        libc_name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(libc_name) if libc_name else None
        self._lock = threading.Lock()

    def _collect(self, wav, n, _events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def _speak(self, text: str, voice: str, rate: int, pitch: int, seed: int) -> np.ndarray:
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            hint = " (British English is 'en')" if voice.split("+")[0] == "en-gb" else ""
            raise EspeakError(f"espeak-ng has no voice {voice!r}{hint}")
        self._lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        self._lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        if hasattr(self._lib, "espeak_ng_SetRandSeed"):
            self._lib.espeak_ng_SetRandSeed(seed & 0x7FFFFFFF)
        if self._libc is not None:
            self._libc.srand(ctypes.c_uint(seed & 0xFFFFFFFF))
        data = text.encode("utf-8")
        self._chunks = []
        err = self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()
        chunks, self._chunks = self._chunks, []
        if err != 0:
            raise EspeakError(f"espeak-ng failed (code {err}) on {text[:40]!r}")
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)

    def _forked(self, work: Callable[[], bytes], text: str) -> bytes:
        """Run ``work`` in a forked child and return its bytes, so this process's espeak state
        stays as it is (synthesis and phonemization both leave state behind: measured, a
        sentence spoken after ``espeak_TextToPhonemes`` calls in the same process crashed the
        synthesizer on 1 in ~250 utterances)."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: send b"\0"+result or b"\1"+message, exit without cleanup
            code = 0
            try:
                os.close(read_fd)
                try:
                    payload = b"\0" + work()
                except BaseException as exc:
                    payload = b"\1" + str(exc).encode("utf-8", "replace")
                view = memoryview(payload)
                while view:
                    view = view[os.write(write_fd, view) :]
                os.close(write_fd)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if not payload or (payload[:1] == b"\0" and status != 0):
            raise EspeakError(f"espeak-ng crashed (status {status}) on {text[:40]!r}")
        if payload[:1] == b"\1":
            raise EspeakError(payload[1:].decode("utf-8", "replace"))
        return payload[1:]

    def _speak_forked(self, text: str, voice: str, rate: int, pitch: int, seed: int) -> np.ndarray:
        """Speak in a forked child so this process's espeak state stays as it is."""
        pcm = self._forked(lambda: self._speak(text, voice, rate, pitch, seed).tobytes(), text)
        return np.frombuffer(pcm, dtype=np.int16)

    def synthesize(
        self,
        text: str,
        voice: str = "en-us",
        rate: int = 175,
        pitch: int = 50,
        *,
        seed: int = 0,
        isolated: bool | None = None,
    ) -> tuple[np.ndarray, int]:
        """Speak ``text``; returns (float32 samples in [-1, 1], sample rate = 22050).

        ``voice`` is "ACCENT" or "ACCENT+VARIANT" (e.g. "en-us+m3"; British English is "en",
        not "en-gb"). ``rate`` in words per minute (80-450), ``pitch`` 0-99. ``seed`` seeds the
        breath/Klatt noise. ``isolated`` (default: where ``os.fork`` exists) speaks in a forked
        child so the result depends only on the arguments; ``False`` speaks in this process
        (no fork, but the result then depends on what was spoken before).
        """
        if isolated is None:
            isolated = hasattr(os, "fork")
        with self._lock:
            speak = self._speak_forked if isolated else self._speak
            pcm = speak(text, voice, int(rate), int(pitch), int(seed))
        return pcm.astype(np.float32) / 32768.0, self.sample_rate

    def phonemes(self, text: str, voice: str = "en-us", *, isolated: bool | None = None) -> str:
        """IPA phonemes of ``text`` with its clause punctuation, as Piper voices were trained on.

        ``espeak_TextToPhonemes`` phonemizes one clause per call and drops the clause's
        punctuation, which Piper voices read as prosody (pauses, question intonation). Like
        piper-phonemize, the terminator is read back from the text just before where espeak
        stopped and re-added (". " "? " "! " ", " ": " "; "; other clause breaks get a space).
        ``isolated`` (default: where ``os.fork`` exists) runs it in a forked child like
        ``synthesize``: in this process it leaves state that later crashed forked synthesis.
        """
        if isolated is None:
            isolated = hasattr(os, "fork")
        with self._lock:
            if not isolated:
                return self._phonemes(text, voice)
            return self._forked(lambda: self._phonemes(text, voice).encode(), text).decode()

    def _phonemes(self, text: str, voice: str) -> str:
        text = text.replace("\0", " ")  # a NUL would end the C string early
        data = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(data)
        start = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(start)
        parts: list[str] = []
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {voice!r}")
        while pointer.value is not None:
            raw = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA)
            clause = (raw or b"").decode("utf-8", "replace").strip()
            # espeak stops one (UTF-8) character into the next clause, or at the end: NULL.
            if pointer.value is None:
                before = text
            else:
                before = data[: pointer.value - start].decode("utf-8", "ignore")[:-1]
            terminator = before.rstrip()[-1:]
            parts.append(clause + _CLAUSE_ENDS.get(terminator, " "))
        return " ".join("".join(parts).split()) if parts else ""


_SYNTH: Synthesizer | None = None


def get_synthesizer() -> Synthesizer:
    """The process-wide synthesizer, created on first use."""
    global _SYNTH
    if _SYNTH is None:
        _SYNTH = Synthesizer()
    return _SYNTH


def synthesize(
    text: str,
    voice: str = "en-us",
    rate: int = 175,
    pitch: int = 50,
    *,
    seed: int = 0,
    isolated: bool | None = None,
) -> tuple[np.ndarray, int]:
    """Speak ``text`` with the process's synthesizer (see ``Synthesizer.synthesize``)."""
    return get_synthesizer().synthesize(text, voice, rate, pitch, seed=seed, isolated=isolated)


def phonemes(text: str, voice: str = "en-us", *, isolated: bool | None = None) -> str:
    """IPA phonemes of ``text`` from the process's synthesizer (see ``Synthesizer.phonemes``)."""
    return get_synthesizer().phonemes(text, voice, isolated=isolated)


def trim_silence(samples: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Drop leading/trailing near-silence (espeak pads with exact digital zeros)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def pad_with_floor(
    samples: np.ndarray,
    rate: int,
    rng: np.random.Generator,
    pad_ms: tuple[float, float] = (50.0, 150.0),
    floor_db: tuple[float, float] = (35.0, 50.0),
) -> np.ndarray:
    """Pad both ends with ``pad_ms`` of silence and add a noise floor ``floor_db`` below the RMS.

    Exact zeros give log-spectrogram values of log(1e-14) that wreck feature normalization, so
    every utterance, pauses and padding included, gets a low Gaussian floor.
    """
    head = int(rate * rng.uniform(*pad_ms) / 1000)
    tail = int(rate * rng.uniform(*pad_ms) / 1000)
    out = np.concatenate(
        [np.zeros(head, np.float32), samples.astype(np.float32), np.zeros(tail, np.float32)]
    )
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    level = max(rms, 1e-4) * 10 ** (-rng.uniform(*floor_db) / 20)
    out += rng.standard_normal(out.size).astype(np.float32) * np.float32(level)
    return out
