"""The training run's Keras callbacks, driven by the custom loop through a ``CallbackList``.

Stock Keras where it fits: ``CSVLogger`` writes train_log.csv, ``EarlyStopping`` counts
patience and tracks the best epoch, ``CosineDecay`` shapes the learning rate. Custom where
Keras has no equivalent: a wall-clock budget that stops mid-epoch, a schedule indexed by the
run's progress rather than by optimizer steps, and the one-file atomic checkpoint. Stop
requests go through ``model.stop_training``; the loop makes every worker agree on them.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from runtime.errors import EdgeASRError
from runtime.fileio import atomic_path, write_text

LOG_COLUMNS = ["epoch", "seconds", "loss", "val_loss", "val_cer", "val_wer", "lr", "skipped"]


class TimeBudget(keras.callbacks.Callback):
    """Asks to stop once ``seconds`` of training have passed, checked after every step so a
    budget ends mid-epoch (Keras has no wall-clock stop)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.start = time.monotonic()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.start >= self.seconds:
            self.model.stop_training = True


class CosineLearningRate(keras.callbacks.Callback):
    """Keras' ``CosineDecay`` (down to 5%) over the run's progress, set before every step.

    Progress is elapsed time over the budget under ``budget_seconds``, else steps done over
    ``params["epochs"] * params["steps"]``. Not the optimizer's own LearningRateSchedule: that
    is indexed by optimizer steps, and a time budget does not know its step count in advance.
    ``base`` is the configured rate (the optimizer's variable holds the last decayed one, and a
    checkpoint restores that).
    """

    def __init__(self, optimizer: Any, base: float, budget_seconds: float | None) -> None:
        super().__init__()
        self.optimizer = optimizer
        self.budget = budget_seconds
        self.decay = keras.optimizers.schedules.CosineDecay(base, decay_steps=1.0, alpha=0.05)
        self.start = time.monotonic()
        self.epoch = 1

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.budget:
            progress = (time.monotonic() - self.start) / self.budget
        else:
            steps = self.params["steps"]
            progress = ((self.epoch - 1) * steps + batch) / (self.params["epochs"] * steps)
        self.optimizer.learning_rate.assign(self.decay(min(max(progress, 0.0), 1.0)))


class ValidationPatience(keras.callbacks.EarlyStopping):
    """Keras' early stopping on ``logs["val_score"] = (val_cer, val_loss)``, compared in that
    order: the first CTC epochs decode to blanks only (CER 1.0 each time) and then only the
    loss shows progress, so a CER tie with a lower loss is an improvement. ``best_epoch`` is
    the epoch the checkpoint keeps. ``patience`` 0 or None never stops."""

    def __init__(self, patience: int | None) -> None:
        super().__init__(monitor="val_score", mode="min", patience=patience or 2**62)

    def _is_improvement(self, value: Any, reference: Any) -> bool:
        return reference is None or tuple(value) < tuple(reference)

    def resume(self, state: dict[str, Any]) -> None:
        """Continue the counts of a checkpointed run (call after ``on_train_begin``)."""
        if state["best_cer"] is not None:
            self.best = (state["best_cer"], state["best_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["bad_epochs"])

    def state(self) -> dict[str, Any]:
        best_cer, best_loss = self.best if self.best is not None else (None, None)
        return {
            "best_cer": best_cer,
            "best_loss": best_loss,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.wait,
        }


class TrainLog(keras.callbacks.CSVLogger):
    """Keras' CSV log with train_log.csv's fixed columns (CSVLogger would sort them by name).

    On resume (``kept`` = the rows up to the checkpoint) the file is rewritten with those rows
    first, dropping any row of an epoch whose checkpoint was never written, then appended to.
    """

    def __init__(self, path: Path, kept: list[dict[str, Any]] | None = None) -> None:
        super().__init__(str(path), append=kept is not None)
        self.path = Path(path)
        self.kept = kept

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.kept is not None:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows({k: row.get(k, "") for k in LOG_COLUMNS} for row in self.kept)
            write_text(self.path, buf.getvalue())
        super().on_train_begin(logs)
        self.keys = LOG_COLUMNS[1:]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        logs["skipped"] = int(logs["skipped"])  # CallbackList turned it into a float
        super().on_epoch_end(epoch, logs)


def read_log(path: Path, rows: int) -> list[dict[str, Any]]:
    """The first ``rows`` rows of a train_log.csv, typed (a resumed run's history)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        kept = list(csv.DictReader(fh))[:rows]
    for row in kept:
        for key in ("epoch", "skipped"):
            row[key] = int(row[key])
        for key in ("seconds", "loss", "val_loss", "val_cer", "val_wer"):
            row[key] = float(row[key])
    return kept


class Checkpoint(keras.callbacks.Callback):
    """After each epoch: the best model (``patience.best_epoch``) to ``model_path``, then
    weights, optimizer slots and loop state to ONE atomic npz.

    Custom because resume must restore all three together: Keras' ``ModelCheckpoint`` and
    ``BackupAndRestore`` write them as separate files (a crash between them leaves a weight
    file that disagrees with the optimizer or the loop) and know nothing of this loop's state.
    """

    def __init__(
        self, path: Path, model_path: Path, optimizer: Any, patience: ValidationPatience
    ) -> None:
        super().__init__()
        self.path = path
        self.model_path = model_path
        self.optimizer = optimizer
        self.patience = patience

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from edge_asr.models import save_model

        if self.patience.best_epoch == epoch:
            save_model(self.model, self.model_path)
        state = {"epoch": epoch, **self.patience.state(), "seconds": (logs or {})["seconds"]}
        save_checkpoint(self.path, self.model, self.optimizer, state)


def save_checkpoint(path: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    """Weights, optimizer slots and loop state in ONE atomic file, so they always agree."""
    arrays = {f"w{i:04d}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    for i, v in enumerate(optimizer.variables):
        arrays[f"o{i:04d}"] = np.asarray(v.numpy())
    arrays["state"] = np.array(json.dumps(state))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def load_checkpoint(path: Path, model: Any, optimizer: Any) -> dict[str, Any]:
    """Restore weights and optimizer slots from ``save_checkpoint``'s file; returns the state."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EdgeASRError(f"{path}: cannot read checkpoint ({exc})") from None
    weights = [data[k] for k in sorted(data.files) if k.startswith("w")]
    slots = [data[k] for k in sorted(data.files) if k.startswith("o")]
    try:
        model.set_weights(weights)
        if len(slots) != len(optimizer.variables):
            raise ValueError(f"{len(slots)} optimizer slots saved, {len(optimizer.variables)} now")
        for var, value in zip(optimizer.variables, slots, strict=True):
            var.assign(value)
    except ValueError as exc:
        raise EdgeASRError(f"{path}: does not match this model/optimizer ({exc})") from None
    return json.loads(str(data["state"]))
