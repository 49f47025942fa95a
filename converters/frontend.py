"""The feature front end (``runtime.features.extract``) as a TensorFlow graph of builtin ops.

``FrontEnd(config, input_dtype).offline(audio)`` maps (1, N) samples to the (1, T, dim)
normalized features, ``.frames(buffer, n)`` does one static-shape streaming call. The graph uses
only ops that TFLite converts with ``OpsSet.TFLITE_BUILTINS`` (no Flex, no custom op) and that
tf2onnx (opset 17) maps to default-domain ONNX: framing is one GATHER of gcd(window, step)-sample
blocks, then the DFT (below), the power, and per kind: spectrogram ``log(p * bin_scale + 1e-14)``;
MFCC a banded mel filterbank (GATHER of each filter's support, padded to the widest: 26 x 46
taps instead of a 257 x 27 matrix), the energy, psf's zero -> float eps, LOG and one matrix for
DCT, lifter and the log-energy c0. Normalization is ``(x - mean) * (1 / (std + 1e-14))``.

Choosing the DFT, measured (34 s of tiny-corpus valid + test espeak speech, stats fitted on 20
train utterances; max abs error of the normalized float32 TFLite output against the float64
``extract``; ONNX Runtime gives the same errors; ms per second of audio: offline graph on 10 s,
best of 60, on a shared 2-core x86, +-30 %; sizes in bytes)::

  spectrogram (320-sample Hann, 161 bins)   constants   TFLite   error   tone*    ms/s
  conv: strided Conv1D, win*cos | win*sin     412,804  419,728  2.7e-4  1.9e-3   0.7
  matmul: framed audio @ the same matrix      412,804  418,588  2.7e-4  1.9e-3   0.4
  factorized: 2-stage 20 x 16, float32          9,840   18,360  1.1e-3  8.4e-3   0.45 (0.3)
  factorized-exact: 2-stage, split precision   18,384   33,864  1.3e-5  1.9e-5   2.0 (0.6)
  mfcc (400-sample frames, n_fft 512)
  conv                                        833,376  843,720  2.4e-6  1.0e-6   1.4
  matmul                                      833,376  842,176  2.4e-6  1.0e-6   1.0 (0.9)
  factorized: 2-stage 32 x 16, float32         21,684   33,084  5.7e-6  2.5e-6   1.0 (0.6)
  factorized-exact                             31,360   50,048  3.3e-6  7.2e-7   2.3 (1.0)

  * a full-scale 1234.5 Hz tone. (x.x): streaming calls of 8 frames (static shapes: XNNPack
    takes the whole graph). Sizes without normalization stats (they add 2 x dim floats).

Why float32 fails the spectrogram: any float32 DFT rounds at about eps (6e-8) times the
frame's strongest components, and ``log(p + 1e-14)`` turns that into a relative error in bins
80 dB and more below the frame's peak, which speech and tones have (the factorized DFT adds
four roundings, hence its larger error). So the default spectrogram DFT is
``factorized-exact``, the only option within 1e-4 (by 7x on speech, 5x on tones), at 3.2 % of a
1 MiB model: every signal is carried as hi + lo, hi integers on a coarse grid and each constant
c = c_hi + c_lo with c_hi on a coarse grid, sized (``_bits``) so that every partial sum of
hi * c_hi is an integer below 2**24: exact in float32 whatever the summation order (XNNPack,
oneDNN and ONNX Runtime block and fuse differently), so only lo * c + (hi + lo) * c_lo, below
2**-7 of the signal's range, is rounded; ROUND moves hi back onto the grid between stages and each
stage's constants carry the next stage's units (powers of two: exact). Guaranteed for |x| <= 1
(float input in [-1, 1), any int16); larger inputs degrade smoothly towards plain float32.
MFCC pools bins into mel bands, so no band sits near the float32 floor: the plain
``factorized`` DFT is 17x within the bar (10x on 8 kHz-band-limited speech) at a third less
size and half the time of the exact one, which stays available (``dft=``).

The two-stage DFT: N = P*Q (chosen for the fewest constants), stage 1 a FULLY_CONNECTED of the
P-point DFTs of every Q-th sample keeping only k1 <= P/2 (real input), twiddles, stage 2 a
FULLY_CONNECTED of the complex Q-point DFT; |X[k]| = |X[N-k]| gives every bin from that half.
A prime N has no split and falls back to ``matmul``. No float32 graph can match a reference that
is itself float64 rounding noise: a frame whose spectrum is exactly zero over a whole mel band (a
synthetic tone with a half-integer number of periods in a zero-padded rectangular frame) gives
psf energies of ~1e-30 there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.feature_config import EPS, FeatureConfig
from runtime.features import _mfcc_consts, _spectrogram_consts

__all__ = ["DEFAULT_DFT", "DFTS", "INPUT_DTYPES", "FrontEnd"]

INPUT_DTYPES = ("float32", "int16")
#: DFT implementations, measured in the module docstring.
DFTS = ("factorized-exact", "factorized", "matmul", "conv")
#: The DFT each kind uses by default: the smallest one within 1e-4 by a wide margin.
DEFAULT_DFT = {"spectrogram": "factorized-exact", "mfcc": "factorized"}
_TINY = float(np.finfo(np.float64).eps)  # what psf puts in place of a zero mel energy
_MANTISSA = 24  # float32 significand bits: integers up to 2**24 are exact


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _angle(n: np.ndarray, k: np.ndarray, size: int) -> np.ndarray:
    """2*pi*n*k/size with the product reduced mod size first (exact twiddle angles)."""
    return 2.0 * np.pi * (np.multiply.outer(n, k) % size) / size


def _bits(bound: float) -> tuple[int, int]:
    """(data bits, constant bits) of an exact stage whose partial sums are at most ``bound``:
    data on a 2**-a grid times constants (|c| <= 1) on a 2**-b grid makes every partial sum an
    integer number of 2**-(a+b), below 2**24 when a + b <= 24 - log2(bound): float32 adds them
    up exactly, in any order."""
    total = math.floor(_MANTISSA - math.log2(bound))
    return total - total // 2, total // 2


def _factors(size: int, window: int) -> tuple[int, int] | None:
    """``(P, Q)``, ``P * Q = size``, both > 1, with the fewest DFT constants; None if prime."""
    best: tuple[int, tuple[int, int]] | None = None
    for p in range(2, size // 2 + 1):
        if size % p:
            continue
        q = size // p
        k1 = p // 2 + 1
        cost = -(-window // q) * 2 * k1 + 2 * q * k1 + 4 * q * q  # stage 1, twiddles, stage 2
        if best is None or cost < best[0]:
            best = (cost, (p, q))
    return None if best is None else best[1]


def _each(fn: Any, hi: Any, lo: Any | None) -> tuple[Any, Any | None]:
    """``fn`` on both parts of a (hi, lo) signal (lo is None in float32 mode)."""
    return fn(hi), None if lo is None else fn(lo)


def _dense(x: Any, weights_t: Any) -> Any:
    """x (..., in) @ weights, stored transposed (out, in): one FULLY_CONNECTED that uses this
    very constant (no transpose folded per use, so a constant used twice is stored once)."""
    tf = _tf()
    if x.shape.rank == 2:
        return tf.matmul(x, weights_t, transpose_b=True)
    out = tf.matmul(tf.reshape(x, (-1, x.shape[-1])), weights_t, transpose_b=True)
    return tf.reshape(out, (-1, *x.shape[1:-1], weights_t.shape[0]))  # only dim 0 is dynamic


class FrontEnd:
    """``runtime.features.extract`` in TensorFlow: offline (dynamic length) and streaming
    (static chunk) graphs, float32 only, convertible to TFLite builtins and plain ONNX.

    ``input_dtype``: ``"float32"`` samples in [-1, 1) or ``"int16"`` PCM (scaled by 1/32768 in
    the graph: a power of two, so bit for bit the float input / 32768). ``dft``: None for the
    kind's default (``DEFAULT_DFT``, module docstring); the others reproduce the measurements.
    """

    def __init__(
        self, config: FeatureConfig, input_dtype: str = "float32", *, dft: str | None = None
    ) -> None:
        if input_dtype not in INPUT_DTYPES:
            raise EdgeASRError(
                f"front end input dtype must be one of {INPUT_DTYPES}, not {input_dtype!r}"
            )
        dft = DEFAULT_DFT[config.kind] if dft is None else dft
        if dft not in DFTS:
            raise EdgeASRError(f"front end DFT must be one of {DFTS}, not {dft!r}")
        self.config = config
        self.input_dtype = input_dtype
        window, step = config.window, config.step
        mfcc = config.kind == "mfcc"
        #: Frames a streaming call lags the frame grid by: a window spans a + 1 hops.
        self.lag_frames: int = -(-window // step) - 1
        #: 1 when a streaming buffer starts with the previous raw sample (pre-emphasis x[-1]).
        self.history: int = int(mfcc and config.preemphasis != 0)
        #: Samples a streaming call keeps from before its chunk.
        self.context_samples: int = self.lag_frames * step + self.history
        self._size = config.n_fft if mfcc else window  # DFT length (MFCC: zero-padded frames)
        factors = _factors(self._size, window) if dft.startswith("factorized") else None
        #: The DFT in use: a prime length has no two-stage split and falls back to "matmul".
        self.dft: str = dft if factors is not None or dft in ("matmul", "conv") else "matmul"
        self._exact = self.dft == "factorized-exact"
        self._consts: dict[str, np.ndarray] = {}
        self._input_bits = 0  # exact mode: samples enter in units of 2**-input_bits
        if mfcc:
            taper = np.ones(window)
        else:
            taper, bin_scale = _spectrogram_consts(window, config.sample_rate, config.dim)
            self._add("bin_scale", bin_scale)
        needed = self._size // 2 + 1 if mfcc else config.dim
        order = None  # where each rfft bin is in the power output (None: in bin order)
        if factors is None:
            # Direct DFT of the bins needed, the window folded in: (window, [re | im] bins).
            angle = _angle(np.arange(window), np.arange(needed), self._size)
            kernel = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1) * taper[:, None]
            self._add("kernel", kernel.T)
            self._grid, self._half = needed, needed
            if self.history:
                self._add("preemphasis", np.float64(config.preemphasis))
        else:
            order = self._init_two_stage(*factors, taper)
        if mfcc:
            self._init_mfcc(order)
        elif order is not None:
            self._add("select", order[: config.dim])
        if config.normalized:
            assert config.mean is not None and config.std is not None
            self._add("mean", np.asarray(config.mean))
            self._add("inv_std", 1.0 / (np.asarray(config.std, np.float64) + EPS))

    # ------------------------------------------------------------------ constants
    @property
    def constant_bytes(self) -> int:
        """Bytes of the constants the graph holds (each stored once: see ``_dense``)."""
        return sum(v.nbytes for v in self._consts.values())

    def _add(self, name: str, value: Any) -> None:
        value = np.asarray(value)
        kind = np.int32 if value.dtype.kind in "iu" else np.float32
        self._consts[name] = value.astype(kind)

    def _add_split(self, name: str, value: np.ndarray, bits: int, scale: int = 0) -> None:
        """Exact mode: ``name`` = the constant on a 2**-bits grid, ``name_lo`` = the rest, both
        times 2**scale (the next stage's data units, exactly). Float32 mode: the constant."""
        if not self._exact:
            self._add(name, value)
            return
        hi = np.round(value * 2.0**bits) / 2.0**bits
        self._add(name, hi * 2.0**scale)
        self._add(name + "_lo", (value - hi) * 2.0**scale)

    def _init_two_stage(self, p: int, q: int, taper: np.ndarray) -> np.ndarray:
        """Constants of the two-stage (Cooley-Tukey) DFT of length N = P*Q; returns each rfft
        bin's place in the (K1, Q) power grid.

        Sample n = Q*p + q, bin k = k1 + P*k2: X[k] = sum_q W_Q^{q k2} W_N^{q k1} sum_p W_P^{p k1}
        x[Q p + q]. Stage 1 (real input) needs only k1 <= P/2 (Hermitian), and so do the powers:
        |X[k]| = |X[N - k]|, and every k has k or N - k with k mod P <= P/2.

        Exact mode carries every signal as hi + lo: hi on a coarse grid, in integer units, so
        that hi times a constant's coarse part is exact (``_bits``); lo, a few bits below, takes
        the float32 rounding. Each stage's constants are scaled to hand the next stage its units.
        """
        cfg, size = self.config, self._size
        k1 = p // 2 + 1
        rows = -(-cfg.window // q)  # stage-1 rows that hold samples; the rest is zero padding
        self._pq, self._rows, self._grid, self._half = (p, q), rows, k1 * q, q
        # |y| <= bound for |x| <= 1 (pre-emphasis adds at most its coefficient).
        bound = 1.0 + (cfg.preemphasis if self.history else 0.0)
        d1, c1 = _bits(rows * bound)  # stage 1: rows terms
        d2, c2 = _bits(2 * rows * bound)  # twiddle: 2 terms of stage-1 outputs (<= rows*bound)
        d3, c3 = _bits(2 * q * rows * bound)  # stage 2: 2Q terms
        if self._exact:
            self._input_bits = d1  # samples enter in stage-1 units
        if self.history:
            # y = x - c * x[-1] exactly: |y| < 2**(d1 + 1) units on a 2**-c grid.
            self._add_split("preemphasis", np.float64(cfg.preemphasis), _MANTISSA - 1 - d1)
        if np.any(taper != 1.0):
            full = np.zeros(rows * q)
            full[: cfg.window] = taper
            self._add_split("taper", full.reshape(rows, q).T, _MANTISSA - d1)  # (Q, rows)
        angle = _angle(np.arange(rows), np.arange(k1), p)
        stage1 = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1)  # (rows, [re|im] K1)
        self._add_split("stage1", stage1.T, c1, d2 - d1)
        theta = _angle(np.arange(q), np.arange(k1), size)  # twiddle W_N^{q k1} = c + i s
        # (re, im) * c + (-im, re) * s is the complex product by c + i s.
        self._add_split("twiddle_c", np.cos(theta)[:, None, :], c2, d3 - d2)  # (Q, 1, K1)
        self._add_split("twiddle_s", -np.sin(theta)[:, None, :], c2, d3 - d2)
        self._add("rotate", np.array([-1.0, 1.0])[:, None])  # (-im, re) from (im, re)
        phi = _angle(np.arange(q), np.arange(q), q)
        cos, sin = np.cos(phi), np.sin(phi)
        # The complex Q-point DFT as one real matrix: [re q | im q] -> [re k2 | im k2].
        stage2 = np.block([[cos, -sin], [sin, cos]])
        self._add_split("stage2", stage2.T, c3, -d3)  # back to true units
        k = np.arange(size // 2 + 1)
        k = np.where(k % p <= p // 2, k, size - k)  # |X[k]| = |X[N-k]|
        return (k % p) * q + k // p

    def _init_mfcc(self, order: np.ndarray | None) -> None:
        """Banded mel filterbank (each filter's support, padded to the widest: a third of the
        dense matrix), energy, and one matrix to the cepstra."""
        cfg = self.config
        fb_energy, dct_t = _mfcc_consts(
            cfg.n_fft, cfg.sample_rate, cfg.n_filters, cfg.n_mfcc, cfg.ceplifter
        )
        fb = fb_energy[:, :-1].T  # (filters, bins), already / n_fft
        first = np.array([np.flatnonzero(r)[0] if r.any() else 0 for r in fb])
        last = np.array([np.flatnonzero(r)[-1] if r.any() else 0 for r in fb])
        taps = first[:, None] + np.arange(max(1, int(np.max(last - first)) + 1))
        index = np.minimum(taps, fb.shape[1] - 1)
        weights = np.where(taps < fb.shape[1], np.take_along_axis(fb, index, axis=1), 0.0)
        if order is not None:
            self._add("spectrum", order)
        self._add("band_index", index)
        self._add("band_weight", weights)
        self._energy_scale = float(fb_energy[0, -1])  # 1 / n_fft
        # [log mel | log energy] -> cepstra: the DCT with lifter; with append_energy c0 is the
        # (unliftered) log energy instead, as in psf.
        cepstra = np.zeros((cfg.n_filters + 1, cfg.n_mfcc))
        cepstra[:-1] = dct_t
        if cfg.append_energy:
            cepstra[:, 0] = 0.0
            cepstra[-1, 0] = 1.0
        self._add("cepstra", cepstra.T)

    # ------------------------------------------------------------------ graph pieces
    def _c(self, name: str) -> Any:
        return _tf().constant(self._consts[name])

    def _split(self, audio: Any) -> tuple[Any, Any | None]:
        """(1, N) input -> (hi, lo) samples: exact mode hi = round(x * 2**bits) (integers) and
        lo = the rest, in units of 2**-bits; float32 mode (x, None)."""
        tf = _tf()
        scale = 2.0**self._input_bits
        x = audio[0]
        if self.input_dtype == "int16":
            x = tf.cast(x, tf.float32) * (scale / 32768.0)
        elif self._exact:
            x = tf.cast(x, tf.float32) * scale
        if not self._exact:
            return tf.cast(x, tf.float32), None
        hi = tf.round(x)
        return hi, x - hi

    def _emphasize(
        self, x: tuple[Any, Any | None], previous: tuple[Any, Any | None]
    ) -> tuple[Any, Any | None]:
        """psf's pre-emphasis y = x - coeff * x[-1], on (hi, lo): hi exactly."""
        (hi, lo), (prev_hi, prev_lo) = x, previous
        coeff = self._c("preemphasis")
        if lo is None or prev_lo is None:
            return hi - prev_hi * coeff, None
        rest = prev_lo * coeff + (prev_hi + prev_lo) * self._c("preemphasis_lo")
        return hi - prev_hi * coeff, lo - rest

    def _regrid(self, hi: Any, lo: Any | None) -> tuple[Any, Any | None]:
        """Round hi to integer units, the difference (exact) to lo."""
        if lo is None:
            return hi, None
        new = _tf().round(hi)
        return new, lo + (hi - new)

    def _apply(self, fn: Any, hi: Any, lo: Any | None, name: str) -> tuple[Any, Any | None]:
        """A linear stage on hi + lo: hi times the constant's coarse part is exact, the rest is
        a few bits below and float32 (lo * c_lo included: it is above float32's eps)."""
        const = self._c(name)
        if lo is None:
            return fn(hi, const), None
        return fn(hi, const), fn(hi + lo, self._c(name + "_lo")) + fn(lo, const)

    def _frames(self, y: Any, n_frames: Any) -> Any:
        """(n_frames, window) frames of ``y`` every ``step`` samples: one gather of blocks of
        gcd(window, step) samples (a few indices per frame, not one per sample)."""
        tf = _tf()
        window, step = self.config.window, self.config.step
        block = math.gcd(window, step)
        per_frame, hop = window // block, step // block
        n_blocks = (n_frames - 1) * hop + per_frame
        blocks = tf.reshape(y[: n_blocks * block], (-1, block))
        if isinstance(n_frames, int):
            index = np.arange(n_frames)[:, None] * hop + np.arange(per_frame)
            index = tf.constant(index.astype(np.int32))
        else:
            starts = tf.reshape(tf.range(n_frames) * hop, (-1, 1))
            index = starts + tf.constant(np.arange(per_frame, dtype=np.int32))
        return tf.reshape(tf.gather(blocks, index), (-1, window))

    def _two_stage(self, hi: Any, lo: Any | None) -> Any:
        """(T, K1 * 2Q) spectra ([re k2 | im k2] per k1) of (T, window) frames hi + lo."""
        tf = _tf()
        (p, q), rows = self._pq, self._rows
        k1 = p // 2 + 1
        pad = rows * q - self.config.window

        def layout(f: Any) -> Any:  # (T, window) -> (T, Q, rows): sample Q*p + q at [q, p]
            if pad:
                f = tf.pad(f, [[0, 0], [0, pad]])
            return tf.transpose(tf.reshape(f, (-1, rows, q)), (0, 2, 1))

        hi, lo = _each(layout, hi, lo)
        if "taper" in self._consts:
            hi, lo = self._apply(tf.multiply, hi, lo, "taper")
        hi, lo = self._regrid(*_each(lambda t: tf.reshape(t, (-1, rows)), hi, lo))
        hi, lo = self._apply(_dense, hi, lo, "stage1")  # (T * Q, [re | im] K1)
        hi, lo = self._regrid(*_each(lambda t: tf.reshape(t, (-1, q, 2, k1)), hi, lo))
        swap, rotate = tf.constant([1, 0]), self._c("rotate")

        def twiddle(a: Any, c: Any, s: Any) -> Any:
            return a * c + tf.gather(a, swap, axis=2) * rotate * s

        cos, sin = self._c("twiddle_c"), self._c("twiddle_s")
        if lo is None:
            hi = twiddle(hi, cos, sin)
        else:
            rest = twiddle(hi + lo, self._c("twiddle_c_lo"), self._c("twiddle_s_lo"))
            hi, lo = twiddle(hi, cos, sin), rest + twiddle(lo, cos, sin)

        def regroup(b: Any) -> Any:  # (T, Q, 2, K1) -> (T * K1, [re q | im q])
            return tf.reshape(tf.transpose(b, (0, 3, 2, 1)), (-1, 2 * q))

        hi, lo = self._regrid(*_each(regroup, hi, lo))
        hi, lo = self._apply(_dense, hi, lo, "stage2")
        spec = hi if lo is None else hi + lo
        return tf.reshape(spec, (-1, k1 * 2 * q))

    def _power(self, signal: tuple[Any, Any | None], n_frames: Any) -> Any:
        """(n_frames, grid) power spectra; grid order: bins (direct DFTs) or (K1, Q)."""
        tf = _tf()
        hi, lo = signal
        if self.dft == "conv":
            kernel = tf.transpose(self._c("kernel"))[:, None, :]
            spec = tf.nn.conv1d(hi[None, :, None], kernel, self.config.step, "VALID")[0]
            spec = spec[:n_frames]
        elif self.dft == "matmul":
            spec = _dense(self._frames(hi, n_frames), self._c("kernel"))
        else:
            spec = self._two_stage(*_each(lambda y: self._frames(y, n_frames), hi, lo))
        power = tf.reduce_sum(tf.reshape(tf.square(spec), (-1, 2, self._half)), axis=1)
        return tf.reshape(power, (-1, self._grid))

    def _features(self, signal: tuple[Any, Any | None], n_frames: Any) -> Any:
        """(1, n_frames, dim) normalized features of the frames of ``signal``."""
        tf = _tf()
        power = self._power(signal, n_frames)
        if self.config.kind == "spectrogram":
            if "select" in self._consts:
                power = tf.gather(power, self._c("select"), axis=1)
            feats = tf.math.log(power * self._c("bin_scale") + EPS)
        else:
            if "spectrum" in self._consts:
                power = tf.gather(power, self._c("spectrum"), axis=1)  # (T, bins) in bin order
            bands = tf.gather(power, self._c("band_index"), axis=1)  # (T, filters, width)
            mel = tf.reduce_sum(bands * self._c("band_weight"), axis=-1)
            energy = tf.reduce_sum(power, axis=-1, keepdims=True) * self._energy_scale
            mel = tf.concat([mel, energy], axis=-1)
            mel = tf.where(tf.equal(mel, 0.0), tf.constant(_TINY, tf.float32), mel)
            feats = _dense(tf.math.log(mel), self._c("cepstra"))
        if self.config.normalized:
            feats = (feats - self._c("mean")) * self._c("inv_std")
        return tf.expand_dims(feats, 0)

    # ------------------------------------------------------------------ API
    def offline(self, audio: Any) -> Any:
        """audio (1, N) of ``input_dtype`` -> (1, T, dim) float32 features equal to
        ``runtime.features.extract``; T = ``config.num_frames(N)``. N must be at least one
        window (spectrogram) or one sample (MFCC: the last partial frame is zero padded)."""
        tf = _tf()
        cfg = self.config
        hi, lo = self._split(audio)
        n = tf.shape(hi)[0]
        if cfg.kind == "spectrogram":
            return self._features((hi, lo), (n - cfg.window) // cfg.step + 1)
        n_frames = 1 + tf.maximum(0, (n - cfg.window + cfg.step - 1) // cfg.step)
        if self.history:  # a zero before the first sample: y[0] = x[0]
            hi, lo = self._emphasize((hi, lo), _each(lambda t: tf.pad(t[:-1], [[1, 0]]), hi, lo))
        # psf zero-pads the last partial frame: at most one window past the end is read.
        return self._features(_each(lambda t: tf.pad(t, [[0, cfg.window]]), hi, lo), n_frames)

    def frames(self, buffer: Any, n_frames: int) -> Any:
        """Streaming: ``buffer`` (1, context_samples + n_frames*step) of ``input_dtype``, the
        saved context then the new chunk -> (1, n_frames, dim) features of the frames starting at
        ``history + j*step``. The history sample (MFCC with pre-emphasis) only serves as x[-1];
        a zero one on the first call gives psf's y[0] = x[0]. Static shapes."""
        expected = self.context_samples + n_frames * self.config.step
        if n_frames < 1 or tuple(buffer.shape) != (1, expected):
            raise EdgeASRError(
                f"front end buffer must be (1, {expected}) for {n_frames} frames, "
                f"got {tuple(buffer.shape)}"
            )
        hi, lo = self._split(buffer)
        if self.history:
            current = _each(lambda t: t[1:], hi, lo)
            hi, lo = self._emphasize(current, _each(lambda t: t[:-1], hi, lo))
        return self._features((hi, lo), n_frames)
