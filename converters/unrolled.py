"""Unrolled GRU / LSTM / SimpleRNN for the fixed-shape streaming graph, biases hoisted.

Why not ``GRU(unroll=True)``: Keras adds every bias inside the step, so the TFLite converter
fuses one bias into each per-step FULLY_CONNECTED. In a full-integer model each of those
becomes its own int32 tensor (its scale is the step's input scale times the weight scales) with
per-channel scales and int64 zero points: 12 KB per bias for a 256-unit GRU, two per step and
layer, a third of the int8 artifact (measured: 24 copies, 0.29 MB of 1.13 MB).

Here the input projection of the whole chunk is one matmul with one bias, every recurrent bias
that is simply added is folded into it, and the per-step recurrent matmul has no bias. The one
bias that cannot be folded (GRU ``reset_after``: ``r * (h U_n + b_n)``) is added to the slice
after the matmul, where the converter cannot fuse it. Same weights, same math as the Keras cells
(float rounding aside: ~1e-7).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from runtime.errors import EdgeASRError


class UnrolledRecurrent(keras.layers.Layer):
    """A copy of a unidirectional ``GRU``/``LSTM``/``SimpleRNN`` (``return_sequences``), unrolled
    over a static time length. Call on ``[x, *initial_states]``; returns
    ``[sequence, *final_states]`` (LSTM: ``h`` then ``c``)."""

    def __init__(self, source: keras.layers.Layer, **kwargs: Any) -> None:
        super().__init__(name=source.name, **kwargs)
        self.kind = type(source).__name__
        if self.kind not in ("GRU", "LSTM", "SimpleRNN"):
            raise EdgeASRError(f"layer {source.name!r}: cannot unroll a {self.kind}")
        cell = source.cell
        self.units = int(cell.units)
        self.activation = cell.activation
        self.recurrent_activation = getattr(cell, "recurrent_activation", None)
        self.reset_after = bool(getattr(cell, "reset_after", False))
        kernel = np.asarray(cell.kernel)
        recurrent = np.asarray(cell.recurrent_kernel)
        gates = kernel.shape[1]
        bias = np.asarray(cell.bias) if cell.use_bias else np.zeros(gates, np.float32)
        late_bias = None  # added after the recurrent matmul (GRU reset_after, candidate gate)
        if self.kind == "GRU" and self.reset_after:
            if bias.ndim == 2:  # (input bias, recurrent bias)
                bias, recurrent_bias = bias[0], bias[1]
            else:
                recurrent_bias = np.zeros(gates, np.float32)
            bias = bias + np.concatenate([recurrent_bias[: 2 * self.units], np.zeros(self.units)])
            late_bias = recurrent_bias[2 * self.units :]
        self.kernel = self._constant("kernel", kernel)
        self.bias = self._constant("bias", bias)
        self.recurrent_kernel = self._constant("recurrent_kernel", recurrent)
        self.late_bias = None if late_bias is None else self._constant("late_bias", late_bias)

    def _constant(self, name: str, value: np.ndarray) -> Any:
        weight = self.add_weight(name=name, shape=value.shape, initializer="zeros", trainable=False)
        weight.assign(value.astype(np.float32))
        return weight

    def call(self, inputs: list[Any]) -> list[Any]:
        x, *states = inputs
        steps = x.shape[1]
        if steps is None:
            raise EdgeASRError(f"layer {self.name!r}: unrolling needs a static time length")
        projected = ops.matmul(x, self.kernel) + self.bias  # the whole chunk at once
        step = getattr(self, f"_{self.kind.lower()}_step")
        outputs = []
        for t in range(steps):
            states = step(projected[:, t, :], states)
            outputs.append(states[0])
        return [ops.stack(outputs, axis=1), *states]

    def _simplernn_step(self, p: Any, states: list[Any]) -> list[Any]:
        return [self.activation(p + ops.matmul(states[0], self.recurrent_kernel))]

    def _lstm_step(self, p: Any, states: list[Any]) -> list[Any]:
        h, c = states
        i, f, g, o = ops.split(p + ops.matmul(h, self.recurrent_kernel), 4, axis=-1)
        c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
        return [self.recurrent_activation(o) * self.activation(c), c]

    def _gru_step(self, p: Any, states: list[Any]) -> list[Any]:
        (h,) = states
        x_z, x_r, x_h = ops.split(p, 3, axis=-1)
        u = self.units
        if self.reset_after:
            m_z, m_r, m_h = ops.split(ops.matmul(h, self.recurrent_kernel), 3, axis=-1)
            z = self.recurrent_activation(x_z + m_z)
            r = self.recurrent_activation(x_r + m_r)
            candidate = self.activation(x_h + r * (m_h + self.late_bias))
        else:
            m_z, m_r = ops.split(ops.matmul(h, self.recurrent_kernel[:, : 2 * u]), 2, axis=-1)
            z = self.recurrent_activation(x_z + m_z)
            r = self.recurrent_activation(x_r + m_r)
            candidate = self.activation(x_h + ops.matmul(r * h, self.recurrent_kernel[:, 2 * u :]))
        return [z * h + (1 - z) * candidate]
