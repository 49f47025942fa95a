"""The feature front end (``runtime.features``) as a TensorFlow graph of TFLite builtin ops.

DOCSTRING-TBD
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.features import EPS, FeatureConfig, _mfcc_consts, _spectrogram_consts

__all__ = ["DFTS", "INPUT_DTYPES", "FrontEnd"]

INPUT_DTYPES = ("float32", "int16")
#: DFT implementations (module docstring): the default and the two measured alternatives.
DFTS = ("factorized", "matmul", "conv")
_TINY = float(np.finfo(np.float64).eps)  # what psf puts in place of a zero mel energy


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _angle(n: np.ndarray, k: np.ndarray, size: int) -> np.ndarray:
    """2*pi*n*k/size with the product reduced mod size first (exact twiddle angles)."""
    return 2.0 * np.pi * (np.multiply.outer(n, k) % size) / size


def _split(size: int, window: int, rows_after: int) -> tuple[int, int] | None:
    """``(P, Q)`` with ``P * Q = size`` and both > 1 that needs the fewest constants, or None
    (a prime size: no two-stage split)."""
    best: tuple[int, tuple[int, int]] | None = None
    for p in range(2, size // 2 + 1):
        if size % p:
            continue
        q = size // p
        k1 = p // 2 + 1
        used = -(-window // q)  # rows of stage 1 that can see a nonzero (not padded) sample
        cost = used * 4 * k1 + 4 * q * k1 + 4 * q * q + k1 * q * rows_after
        if best is None or cost < best[0]:
            best = (cost, (p, q))
    return None if best is None else best[1]


class FrontEnd:
    """``runtime.features.extract`` in TensorFlow: offline (dynamic length) and streaming
    (static chunk) graphs, float32 inside, for TFLite (builtins only) and tf2onnx.

    ``input_dtype``: ``"float32"`` samples in [-1, 1) or ``"int16"`` PCM (scaled by 1/32768 in
    the graph, exactly: a power of two). ``dft`` picks the DFT (module docstring); the default
    is the one chosen by measurement.
    """

    def __init__(
        self, config: FeatureConfig, input_dtype: str = "float32", *, dft: str = "factorized"
    ) -> None:
        if input_dtype not in INPUT_DTYPES:
            raise EdgeASRError(
                f"front end input dtype must be one of {INPUT_DTYPES}, not {input_dtype!r}"
            )
        if dft not in DFTS:
            raise EdgeASRError(f"front end DFT must be one of {DFTS}, not {dft!r}")
        self.config = config
        self.input_dtype = input_dtype
        window, step = config.window, config.step
        #: Frames a streaming call lags the frame grid by: a window spans a+1 hops.
        self.lag_frames: int = -(-window // step) - 1
        #: 1 when a streaming buffer starts with the previous raw sample (pre-emphasis x[-1]).
        self.history: int = int(config.kind == "mfcc" and config.preemphasis != 0)
        #: Samples a streaming call keeps from before its chunk.
        self.context_samples: int = self.lag_frames * step + self.history
        mfcc = config.kind == "mfcc"
        self._size = config.n_fft if mfcc else window  # DFT length (MFCC: zero padded)
        bins = self._size // 2 + 1
        if mfcc:
            fb_energy, dct_t = _mfcc_consts(
                config.n_fft, config.sample_rate, config.n_filters, config.n_mfcc, config.ceplifter
            )
            taper = np.ones(window)
            # One matrix from log mel energies (+ log energy column) to the cepstra: the DCT
            # with lifter, and c0 replaced by the (unliftered) log energy like psf.
            cepstra = np.zeros((config.n_filters + 1, config.n_mfcc))
            cepstra[:-1] = dct_t
            if config.append_energy:
                cepstra[:, 0] = 0.0
                cepstra[-1, 0] = 1.0
            self._cepstra = cepstra.astype(np.float32)
            needed, after = bins, config.n_filters + 1
        else:
            taper, bin_scale = _spectrogram_consts(window, config.sample_rate, config.dim)
            self._bin_scale = bin_scale.astype(np.float32)
            needed, after = config.dim, 0
        split = _split(self._size, window, after) if dft == "factorized" else None
        self.dft = dft if dft != "factorized" or split is not None else "matmul"
        if split is None:
            # Direct DFT of the first ``needed`` bins, the window folded in: (window, 2*needed).
            angle = _angle(np.arange(window), np.arange(needed), self._size)
            kernel = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1) * taper[:, None]
            self._kernel = kernel.astype(np.float32)
            order = np.arange(needed)  # power comes out in bin order
            self._grid = needed
        else:
            self._init_factorized(*split, taper)
            order = self._bin_index(bins)
        if mfcc:
            fb = np.zeros((self._grid, config.n_filters + 1))
            fb[order[:bins]] = fb_energy
            self._filterbank = fb.astype(np.float32)
        else:
            self._select = None if split is None else order[: config.dim].astype(np.int32)
        if config.normalized:
            assert config.mean is not None and config.std is not None
            self._mean = np.asarray(config.mean, np.float32)
            self._inv_std = (1.0 / (np.asarray(config.std, np.float64) + EPS)).astype(np.float32)

    # ------------------------------------------------------------------ constants
    def _init_factorized(self, p: int, q: int, taper: np.ndarray) -> None:
        """Constants of the two-stage (Cooley-Tukey) DFT of length N = P*Q.

        Sample n = Q*p + q, bin k = k1 + P*k2: X[k] = sum_q W_Q^{q k2} W_N^{q k1} sum_p W_P^{p k1}
        x[Q p + q]. Stage 1 (real input) needs only k1 <= P/2 (Hermitian), and so do the powers:
        |X[k]| = |X[N - k]|, and every k has k or N - k with k mod P <= P/2.
        """
        window, size = self.config.window, self._size
        k1 = p // 2 + 1
        rows = -(-window // q)  # stage-1 rows that can hold samples; the rest are padding zeros
        self._pq, self._rows = (p, q), rows
        taper_full = np.zeros(rows * q)
        taper_full[:window] = taper
        self._taper = taper_full.reshape(rows, q).T.astype(np.float32)  # (Q, rows)
        self._taper_needed = bool(np.any(taper != 1.0))
        angle = _angle(np.arange(rows), np.arange(k1), p)
        re, im = np.cos(angle), -np.sin(angle)
        # Outputs [re, im, im, re]: the twiddle product below is then one multiply and a sum.
        self._stage1 = np.concatenate([re, im, im, re], axis=1).astype(np.float32)  # (rows, 4K1)
        theta = _angle(np.arange(q), np.arange(k1), size)  # twiddle W_N^{q k1} = c + i s
        c, s = np.cos(theta), -np.sin(theta)
        twiddle = np.stack([np.stack([c, c], 1), np.stack([-s, s], 1)], 1)  # (Q, 2, 2, K1)
        self._twiddle = twiddle.astype(np.float32)
        phi = _angle(np.arange(q), np.arange(q), q)
        cos, sin = np.cos(phi), np.sin(phi)
        # Complex (Q x Q) DFT as one real matrix: [re q, im q] -> [re k2, im k2].
        self._stage2 = np.block([[cos, -sin], [sin, cos]]).astype(np.float32)
        self._grid = k1 * q

    def _bin_index(self, bins: int) -> np.ndarray:
        """For each rfft bin 0..bins-1, its place in the (K1, Q) power grid (k1*Q + k2)."""
        p, q = self._pq
        k = np.arange(bins)
        k = np.where(k % p <= p // 2, k, self._size - k)  # |X[k]| = |X[N-k]|
        return (k % p) * q + k // p

    def constants_bytes(self) -> int:
        """Bytes of the constant tensors the graph stores (as the converters write them)."""
        names = ("_kernel", "_taper", "_stage1", "_twiddle", "_stage2", "_filterbank")
        names += ("_cepstra", "_bin_scale", "_select", "_mean", "_inv_std")
        arrays = [getattr(self, n, None) for n in names]
        if self.dft == "factorized" and not self._taper_needed:
            arrays[1] = None
        return sum(a.nbytes for a in arrays if a is not None)

    # ------------------------------------------------------------------ graph
    def _samples(self, audio: Any) -> Any:
        """(1, N) input -> (N,) float32 in [-1, 1)."""
        tf = _tf()
        x = audio[0]
        if self.input_dtype == "int16":
            x = tf.cast(x, tf.float32) * (1.0 / 32768.0)
        return tf.cast(x, tf.float32)

    def _preemphasize(self, x: Any, previous: Any) -> Any:
        c = self.config.preemphasis
        return x - c * previous

    def _frames(self, y: Any, n_frames: Any) -> Any:
        """(n_frames, window) frames of ``y`` every ``step`` samples, by one gather of blocks of
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
            index = tf.range(n_frames)[:, None] * hop + tf.range(per_frame)[None, :]
        return tf.reshape(tf.gather(blocks, index), (-1, window))

    def _power(self, y: Any, n_frames: Any) -> Any:
        """(n_frames, grid) power spectra of the frames of ``y``; grid order per ``dft``."""
        tf = _tf()
        if self.dft == "conv":
            kernel = tf.constant(self._kernel[:, None, :])
            spec = tf.nn.conv1d(y[None, :, None], kernel, self.config.step, "VALID")[0]
            spec = spec[:n_frames]
            half = self._grid
        else:
            frames = self._frames(y, n_frames)
            if self.dft == "matmul":
                spec = tf.matmul(frames, tf.constant(self._kernel))
                half = self._grid
            else:
                spec, half = self._factorized(frames)
        squared = tf.square(spec)
        power = tf.reduce_sum(tf.reshape(squared, (-1, 2, half)), axis=1)
        return tf.reshape(power, (-1, self._grid))

    def _factorized(self, frames: Any) -> tuple[Any, int]:
        """(T, K1, 2Q) [re k2 | im k2] spectra of (T, window) frames, and Q."""
        tf = _tf()
        (p, q), rows = self._pq, self._rows
        k1 = p // 2 + 1
        window = self.config.window
        if rows * q > window:
            frames = tf.pad(frames, [[0, 0], [0, rows * q - window]])
        x = tf.transpose(tf.reshape(frames, (-1, rows, q)), (0, 2, 1))  # (T, Q, rows)
        if self._taper_needed:
            x = x * tf.constant(self._taper)
        a = tf.matmul(tf.reshape(x, (-1, rows)), tf.constant(self._stage1))
        a = tf.reshape(a, (-1, q, 2, 2, k1)) * tf.constant(self._twiddle)
        b = tf.reduce_sum(a, axis=2)  # (T, Q, 2, K1): twiddled [re, im]
        b = tf.reshape(tf.transpose(b, (0, 3, 2, 1)), (-1, 2 * q))  # (T*K1, [re q, im q])
        spec = tf.matmul(b, tf.constant(self._stage2))
        return tf.reshape(spec, (-1, k1 * 2 * q)), q

    def _features(self, y: Any, n_frames: Any) -> Any:
        """(1, n_frames, dim) normalized features of the frames of (pre-emphasized) ``y``."""
        tf = _tf()
        power = self._power(y, n_frames)
        if self.config.kind == "spectrogram":
            if self._select is not None:
                power = tf.gather(power, tf.constant(self._select), axis=1)
            feats = tf.math.log(power * tf.constant(self._bin_scale) + EPS)
        else:
            energy = tf.matmul(power, tf.constant(self._filterbank))
            energy = tf.where(tf.equal(energy, 0.0), tf.constant(_TINY, tf.float32), energy)
            feats = tf.matmul(tf.math.log(energy), tf.constant(self._cepstra))
        if self.config.normalized:
            feats = (feats - tf.constant(self._mean)) * tf.constant(self._inv_std)
        return feats[None]

    def offline(self, audio: Any) -> Any:
        """audio (1, N) of ``input_dtype`` -> (1, T, dim) float32 features equal to
        ``runtime.features.extract``; T = ``config.num_frames(N)``. N must be at least one
        window (spectrogram) or one sample (MFCC: the last partial frame is zero padded)."""
        tf = _tf()
        cfg = self.config
        x = self._samples(audio)
        n = tf.shape(x)[0]
        if cfg.kind == "spectrogram":
            return self._features(x, (n - cfg.window) // cfg.step + 1)
        n_frames = 1 + tf.maximum(0, (n - cfg.window + cfg.step - 1) // cfg.step)
        if cfg.preemphasis:
            x = self._preemphasize(x, tf.pad(x[:-1], [[1, 0]]))  # y[0] = x[0]
        # At most one window of padding is read: psf's zero-padded last frame.
        return self._features(tf.pad(x, [[0, cfg.window]]), n_frames)

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
        x = self._samples(buffer)
        if self.history:
            x = self._preemphasize(x[1:], x[:-1])
        return self._features(x, n_frames)
