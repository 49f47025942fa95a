"""The training run, step by step: plan it (``plan_run``), set up the strategy, featurize
both splits once into the disk cache or reuse it (``load_data``; each worker reads its own
shard of the training rows), build the model (``build_model``), restore a checkpoint
(``restore``), then ``run_epochs`` drives a ``Trainer`` (``edge_asr.train.trainer``) epoch
after epoch while Keras callbacks (``edge_asr.train.callbacks``) log, checkpoint and decide
when to stop, and every worker takes each stop decision together
(``edge_asr.train.distribute.agreement``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.train.augment import AugmentConfig
from edge_asr.train.data import Example, make_examples
from runtime.errors import EdgeASRError

CHECKPOINT = "checkpoint.npz"
OPTIMIZER_DEFAULTS = {"sgd": 0.02, "adam": 1e-3}


@dataclass
class TrainConfig:
    """Everything one training run needs (the CLI maps its flags onto this)."""

    train_manifest: Path
    valid_manifest: Path
    out: Path
    model: str | None = None  # None: final_model_streaming (or the one being resumed)
    params: dict[str, Any] = field(default_factory=dict)
    features: str = "spectrogram"
    batch_size: int = 16
    epochs: int | None = None  # None: 20, or unlimited when ``minutes`` is set
    minutes: float | None = None
    patience: int | None = 10  # 0 or None: never stop early
    optimizer: str = "sgd"
    lr: float | None = None
    lr_schedule: str = "constant"  # or "cosine" (to the end of the budget / epochs)
    weight_decay: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    sortagrad: bool = True  # first epoch short-to-long (easier CTC start)
    seed: int = 0
    strategy: str | None = None  # None | "mirrored" | "multiworker"
    threads: tuple[int, int] = (2, 1)  # TF intra-op, inter-op
    jobs: int = 2  # feature extraction processes
    cache_dtype: str = "float16"  # training features on disk (validation: float32)
    cache: Path | None = None  # feature cache folder; None: beside the training manifest
    resume: bool = False
    overwrite: bool = False
    steps_per_epoch: int | None = None  # cap (tests and quick demos)
    progress: bool = True
    strict: bool = False  # a bad manifest row or unreadable audio is an error, not a skip


@dataclass
class TrainResult:
    out: Path
    best_cer: float
    best_epoch: int
    epochs: int
    log: list[dict[str, Any]]
    skipped: dict[str, int]
    feature_seconds: float
    train_seconds: float
    train_lines: list[int] = field(default_factory=list)  # manifest lines this worker read
    cache: Path | None = None  # the training features' cache entry
    cache_built: bool = False  # featurized in this run (False: reused)
    model: Any = None  # the trained Keras model in memory (last weights, not the best)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- model and optimizer ---------------------------------------------------------------------


def base_lr(config: TrainConfig) -> float:
    """The configured learning rate, or the optimizer's default."""
    name = config.optimizer.lower()
    if name not in OPTIMIZER_DEFAULTS:
        raise EdgeASRError(f"unknown optimizer {config.optimizer!r}; choose sgd or adam")
    return config.lr if config.lr is not None else OPTIMIZER_DEFAULTS[name]


def make_optimizer(keras: Any, config: TrainConfig) -> Any:
    """The seed's SGD (lr 0.02, Nesterov momentum 0.9, clipnorm 5) or Adam/AdamW (clipnorm 5)."""
    lr = base_lr(config)
    if config.optimizer.lower() == "sgd":
        return keras.optimizers.SGD(
            learning_rate=lr,
            momentum=0.9,
            nesterov=True,
            clipnorm=5.0,
            weight_decay=config.weight_decay or None,
        )
    if config.weight_decay:
        return keras.optimizers.AdamW(
            learning_rate=lr, weight_decay=config.weight_decay, clipnorm=5.0
        )
    return keras.optimizers.Adam(learning_rate=lr, clipnorm=5.0)


# --- preparing the run -----------------------------------------------------------------------


@dataclass
class Plan:
    """What to build: from the model directory when resuming, else from the flags."""

    name: str
    params: dict[str, Any]
    features: Any  # FeatureConfig (with stats when resuming)
    resuming: bool


def plan_run(config: TrainConfig) -> Plan:
    """The model and features to train, after checking ``config.out`` fits the request."""
    from runtime.features import FeatureConfig
    from runtime.formats import MODEL_FILE, FormatError, ModelDir

    base_lr(config)  # an unknown optimizer or schedule fails before any work
    if config.lr_schedule not in ("constant", "cosine"):
        raise EdgeASRError(f"unknown lr schedule {config.lr_schedule!r}; choose constant or cosine")
    out = Path(config.out)
    if config.resume:
        try:
            folder = ModelDir.read(out, need_model=False)
        except FormatError as exc:
            raise EdgeASRError(f"nothing to resume: {exc}") from None
        if not (out / CHECKPOINT).exists():
            raise EdgeASRError(f"{out}: nothing to resume ({CHECKPOINT} missing)")
        name = folder.meta.name
        if (config.model and config.model != name) or config.params:
            _say(f"resume: continuing {name} from {out} (ignoring --model/--param)")
        params = {k: v for k, v in folder.meta.params.items() if k != "input_dim"}
        return Plan(name, params, folder.features, True)
    if not config.overwrite and ((out / CHECKPOINT).exists() or (out / MODEL_FILE).exists()):
        raise EdgeASRError(
            f"{out} already holds a model; pass --resume to continue it, --overwrite to "
            "replace it, or choose another --out"
        )
    if config.features not in ("spectrogram", "mfcc"):
        raise EdgeASRError(f"unknown features {config.features!r}; choose spectrogram or mfcc")
    params = {k: v for k, v in config.params.items() if k != "input_dim"}
    features = getattr(FeatureConfig, config.features)()
    return Plan(config.model or "final_model_streaming", params, features, False)


def load_data(
    config: TrainConfig,
    plan: Plan,
    shard: tuple[int, int] = (0, 1),
    gather: Any = None,
) -> tuple[Any, Any, Any]:
    """(FeatureConfig with stats, train FeatureSet, valid FeatureSet) from the disk cache.

    Train: this worker's ``shard`` of rows, normalized with stats fitted on the whole training
    set (streamed; every worker's moments through ``gather``) or, resuming, the model's own,
    stored as ``cache_dtype``. Valid: all of it, with those stats, as float32 (what
    ``edge-asr evaluate`` computes).
    """
    from edge_asr.train.feature_cache import cached_set, default_cache_dir

    cache = Path(config.cache) if config.cache else default_cache_dir(config.train_manifest)
    common = dict(jobs=config.jobs, strict=config.strict)
    bar = (lambda split: f"features {split}") if config.progress else (lambda split: None)
    train_set = cached_set(
        config.train_manifest,
        plan.features,
        cache,
        fit=not plan.resuming,
        dtype=config.cache_dtype,
        shard=shard,
        gather=gather,
        progress=bar("train"),
        **common,
    )
    features = train_set.config
    valid_set = cached_set(
        config.valid_manifest, features, cache, dtype=np.float32, progress=bar("valid"), **common
    )
    for split, got in (("train", train_set), ("valid", valid_set)):
        how = f"built in {got.build_seconds:.1f} s" if got.built else "reused"
        _say(f"features {split}: {len(got)} utterances, {got.nbytes / 1e6:.1f} MB cache {how}")
    return features, train_set, valid_set


def examples_of(loaded: Any, model: Any, manifest: Path, split: str) -> list[Example]:
    """A split's examples (dropping what CTC cannot align), or an error when none is left."""
    examples = make_examples(loaded, model.output_length, Path(manifest).name)
    if not examples:
        why = loaded.skipped.why()
        raise EdgeASRError(f"no usable {split} utterances in {manifest}: {why}")
    summary = loaded.skipped.summary(split)
    if summary:
        _say(summary)
    return examples


# --- the epochs ------------------------------------------------------------------------------


def make_callbacks(
    keras: Any, config: TrainConfig, model: Any, optimizer: Any, chief: bool, log: list | None
) -> tuple[Any, Any]:
    """(CallbackList, its ValidationPatience). Only the chief writes files."""
    from edge_asr.train.callbacks import (
        Checkpoint,
        CosineLearningRate,
        TimeBudget,
        TrainLog,
        ValidationPatience,
    )
    from runtime.formats import MODEL_FILE, TRAIN_LOG_FILE

    out = Path(config.out)
    budget = config.minutes * 60.0 if config.minutes else None
    patience = ValidationPatience(config.patience)
    callbacks: list[Any] = [patience]
    if budget:
        callbacks.append(TimeBudget(budget))
    if config.lr_schedule == "cosine":
        callbacks.append(CosineLearningRate(optimizer, base_lr(config), budget))
    if chief:  # the log row before the checkpoint that counts it (resume keeps rows up to it)
        callbacks.append(TrainLog(out / TRAIN_LOG_FILE, log))
        callbacks.append(Checkpoint(out / CHECKPOINT, out / MODEL_FILE, optimizer, patience))
    return keras.callbacks.CallbackList(callbacks, model=model), patience


@dataclass
class Fitted:
    """How the epochs went: the log rows, the last epoch, why it stopped, the best epoch."""

    log: list[dict[str, Any]]
    epoch: int
    reason: str
    best: dict[str, Any]  # ValidationPatience.state()
    seconds: float  # this session's training time


def run_epochs(
    trainer: Any,  # edge_asr.train.trainer.Trainer
    valid: list[Example],
    state: dict[str, Any],
    log: list[dict[str, Any]] | None,
    chief: bool,
    n_skipped: int,
) -> Fitted:
    """Train epoch after epoch, validate, let the callbacks log/checkpoint, stop together."""
    import keras

    from edge_asr.train.distribute import agreement
    from edge_asr.train.trainer import validation_scores

    config, model, optimizer = trainer.config, trainer.model, trainer.optimizer
    callbacks, patience = make_callbacks(keras, config, model, optimizer, chief, log)
    max_epochs = config.epochs or (10**9 if config.minutes else 20)
    callbacks.set_params({"epochs": max_epochs, "steps": trainer.steps})
    agree = agreement(trainer.tf, trainer.strategy)
    history, epoch, reason = list(log or []), int(state["epoch"]), "epochs"
    start = time.monotonic()
    model.stop_training = False  # what callbacks set to ask for a stop (fit() would set it)
    callbacks.on_train_begin()
    if config.resume:
        patience.resume(state)
    try:
        while epoch < max_epochs:
            epoch += 1
            callbacks.on_epoch_begin(epoch)
            loss, out_of_time = trainer.run_epoch(epoch, callbacks, agree, bool(config.minutes))
            if not math.isfinite(loss):
                raise EdgeASRError(f"training diverged at epoch {epoch} (loss {loss})")
            val_loss, val_cer, val_wer = validation_scores(model, valid, config.batch_size)
            row = {
                "epoch": epoch,
                "seconds": round(float(state["seconds"]) + time.monotonic() - start, 1),
                "loss": round(loss, 4),
                "val_loss": round(val_loss, 4),
                "val_cer": round(val_cer, 4),
                "val_wer": round(val_wer, 4),
                "lr": f"{float(optimizer.learning_rate.numpy()):.3g}",
                "skipped": n_skipped,
            }
            callbacks.on_epoch_end(epoch, {**row, "val_score": (val_cer, val_loss)})
            history.append(row)
            mark = " *" if patience.best_epoch == epoch else ""
            _say(
                f"epoch {epoch}: loss {loss:.2f}  val_loss {val_loss:.2f}  val_cer "
                f"{val_cer:.3f}  val_wer {val_wer:.3f}  ({row['seconds']:.0f} s){mark}"
            )
            if out_of_time:
                reason = "time budget"
                break
            if agree(model.stop_training):
                reason = f"no improvement in {config.patience} epochs"
                break
    finally:
        callbacks.on_train_end()
    if patience.best is None:
        raise EdgeASRError(f"no epoch was run (already at epoch {epoch} of {max_epochs})")
    return Fitted(history, epoch, reason, patience.state(), time.monotonic() - start)


# --- the run ---------------------------------------------------------------------------------


def build_model(config: TrainConfig, plan: Plan, dim: int, strategy: Any) -> tuple[Any, Any]:
    """(model, optimizer with its slots), made under the strategy's scope."""
    import keras

    from edge_asr.models import build

    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        try:
            model = build(plan.name, input_dim=dim, **plan.params)
        except (TypeError, ValueError) as exc:
            raise EdgeASRError(f"cannot build {plan.name}: {exc}") from None
        optimizer = make_optimizer(keras, config)
        # Slots made now, not lazily inside the traced step (a distributed step cannot).
        optimizer.build(model.trainable_variables)
    return model, optimizer


def restore(
    config: TrainConfig, strategy: Any, model: Any, optimizer: Any
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """(loop state, log rows so far): from the checkpoint when resuming (None rows: fresh)."""
    from edge_asr.train.callbacks import load_checkpoint, read_log
    from runtime.formats import TRAIN_LOG_FILE

    if not config.resume:
        return {"epoch": 0, "seconds": 0.0}, None
    out = Path(config.out)
    with strategy.scope():
        state = load_checkpoint(out / CHECKPOINT, model, optimizer)
    _say(f"resume: from epoch {state['epoch']} (best CER {state['best_cer']})")
    return state, read_log(out / TRAIN_LOG_FILE, state["epoch"])


def train(config: TrainConfig) -> TrainResult:
    """Train a model into ``config.out`` (a model directory, see docs/formats.md)."""
    t0 = time.monotonic()
    plan = plan_run(config)

    import tensorflow as tf

    from edge_asr.train.distribute import (
        configure_threads,
        is_chief,
        make_gather,
        make_strategy,
        num_workers,
        worker_index,
    )
    from edge_asr.train.trainer import Trainer
    from runtime.formats import Labels, ModelDir

    # The strategy first: workers featurize their own shards and pool the stats' moments.
    configure_threads(tf, config.threads)
    strategy = make_strategy(tf, config.strategy)
    chief = is_chief(strategy)
    workers = num_workers(strategy)
    gather = make_gather(tf, strategy)
    shard = (worker_index(strategy), workers)
    features, train_set, valid_set = load_data(config, plan, shard, gather)
    feature_seconds = time.monotonic() - t0
    model, optimizer = build_model(config, plan, features.dim, strategy)
    train_ex = examples_of(train_set, model, config.train_manifest, "train")
    valid_ex = examples_of(valid_set, model, config.valid_manifest, "valid")
    n_skipped = train_set.skipped.n + valid_set.skipped.n
    out = Path(config.out)
    if chief:
        ModelDir(out, model.meta, features, Labels.default()).write()
    state, log = restore(config, strategy, model, optimizer)
    trainer = Trainer(config, tf, strategy, model, optimizer, train_ex, gather, workers)
    fitted = run_epochs(trainer, valid_ex, state, log, chief, n_skipped)
    best = fitted.best
    where = f"model in {out}" if chief else f"worker {shard[0]} of {workers}: the chief writes"
    _say(
        f"stopped ({fitted.reason}): best val_cer {best['best_cer']:.3f} at epoch "
        f"{best['best_epoch']}; {n_skipped} utterances skipped; {where}"
    )
    return TrainResult(
        out=out,
        best_cer=float(best["best_cer"]),
        best_epoch=int(best["best_epoch"]),
        epochs=fitted.epoch,
        log=fitted.log,
        skipped=dict(train_set.skipped.counts + valid_set.skipped.counts),
        feature_seconds=feature_seconds,
        train_seconds=fitted.seconds,
        train_lines=[e.line for e in train_ex],
        cache=train_set.folder,
        cache_built=train_set.built,
        model=model,
    )
