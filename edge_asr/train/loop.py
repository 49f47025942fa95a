"""The CTC training loop: one ``tf.function`` step with ``GradientTape`` under a
``tf.distribute`` strategy (the default one unless asked), validation by greedy CER each epoch,
best-on-validation checkpointing, early stopping, a time budget, and resume.

CTC runs on the pre-softmax tensor (every builder ends in an Activation layer named
"softmax"), through TensorFlow's fused CTC kernel with sparse labels: numerically better than
log(softmax) and several times faster on CPU than the dense-label implementation.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.train.augment import NO_AUGMENT, AugmentConfig, augment
from edge_asr.train.data import (
    bucket_batches,
    ctc_min_frames,
    fit_and_normalize,
    load_split,
    make_examples,
    normalize,
    pad_batch,
)
from runtime.errors import EdgeASRError
from runtime.fileio import atomic_path, write_json, write_text
from runtime.text import BLANK, SYMBOLS, int_to_text

LOG_COLUMNS = ["epoch", "seconds", "loss", "val_loss", "val_cer", "val_wer", "lr", "skipped"]
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
    patience: int | None = 10
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
    cache_dtype: str = "float16"
    resume: bool = False
    overwrite: bool = False
    steps_per_epoch: int | None = None  # cap (tests and quick demos)
    progress: bool = True


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


class _Silent:
    """Stands in for a rich Progress when bars are off (--quiet)."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None

    def advance(self, *args: Any, **kwargs: Any) -> None:
        return None


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _configure_threads(tf: Any, threads: tuple[int, int]) -> None:
    """Set TF's thread pools; too late (runtime already up, e.g. under pytest) is harmless."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads[0]))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads[1]))
    except RuntimeError:
        pass


def make_strategy(tf: Any, name: str | None) -> Any:
    """The distribution strategy: default (no-op), mirrored (local devices) or multi-worker."""
    if name in (None, "", "none", "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise EdgeASRError("--strategy multiworker needs TF_CONFIG (cluster and task) set")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise EdgeASRError(f"unknown strategy {name!r}; choose mirrored or multiworker")


def _is_chief(strategy: Any) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _num_workers(strategy: Any) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(kind, [])) for kind in ("chief", "worker")) or 1


def _agreement(tf: Any, strategy: Any) -> Any:
    """``agree(flag) -> bool``: True on every worker if it is True on any.

    Workers must stop at the same step or the next gradient all-reduce waits forever; their
    clocks and (BatchNorm-dependent) validation numbers differ slightly, so stop decisions
    (time budget, patience) go through one tiny collective. A no-op on one machine.
    """
    if _num_workers(strategy) <= 1:
        return bool

    @tf.function(autograph=False)
    def any_worker(flag: Any) -> Any:
        per_replica = strategy.run(tf.identity, args=(flag,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return lambda flag: bool(any_worker(tf.constant(1.0 if flag else 0.0)).numpy() > 0)


def make_optimizer(keras: Any, config: TrainConfig) -> Any:
    """The seed's SGD (lr 0.02, Nesterov momentum 0.9, clipnorm 5) or Adam/AdamW (clipnorm 5)."""
    name = config.optimizer.lower()
    if name not in OPTIMIZER_DEFAULTS:
        raise EdgeASRError(f"unknown optimizer {config.optimizer!r}; choose sgd or adam")
    lr = config.lr if config.lr is not None else OPTIMIZER_DEFAULTS[name]
    if name == "sgd":
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


def lr_factor(schedule: str, progress: float) -> float:
    """Multiplier on the base learning rate at ``progress`` in [0, 1] of the run."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        p = min(max(progress, 0.0), 1.0)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * p))
    raise EdgeASRError(f"unknown lr schedule {schedule!r}; choose constant or cosine")


def logits_model(model: Any) -> tuple[Any, bool]:
    """(twin of ``model`` giving the pre-softmax tensor, True), or (a twin giving
    probabilities, False) when the model does not end in a layer named "softmax". Shares the
    weights; see ``edge_asr.inference.graph_model`` for why it is a rebuilt twin.
    """
    from edge_asr.inference import graph_model

    return graph_model(model, logits=True)


def ctc_loss(tf: Any, labels: Any, label_len: Any, logits: Any, logit_len: Any) -> Any:
    """Per-utterance CTC negative log-likelihood (blank = 28, batch-major logits)."""
    mask = tf.sequence_mask(label_len, tf.shape(labels)[1])
    where = tf.where(mask)
    sparse = tf.SparseTensor(
        where, tf.gather_nd(labels, where), tf.cast(tf.shape(labels), tf.int64)
    )
    return tf.nn.ctc_loss(
        sparse, logits, None, logit_len, logits_time_major=False, blank_index=BLANK
    )


# --- the model directory ---------------------------------------------------------------------


def labels_json() -> dict[str, Any]:
    return {"symbols": list(SYMBOLS), "blank": BLANK}


def write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in LOG_COLUMNS})
    write_text(path, buf.getvalue())


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("epoch", "skipped"):
            row[key] = int(row[key])
        for key in ("seconds", "loss", "val_loss", "val_cer", "val_wer"):
            row[key] = float(row[key])
    return rows


def save_checkpoint(path: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    """Weights, optimizer slots and loop state in ONE atomic file, so they always agree."""
    arrays = {f"w{i:04d}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    for i, v in enumerate(optimizer.variables):
        arrays[f"o{i:04d}"] = np.asarray(v.numpy())
    arrays["state"] = np.array(json.dumps(state))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def load_checkpoint(path: Path, model: Any, optimizer: Any) -> dict[str, Any]:
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


# --- the run ---------------------------------------------------------------------------------


def _load_data(config: TrainConfig, feature_config: Any, stats_given: bool) -> tuple:
    """Raw features of both splits, then normalization (fitted on train unless resuming)."""
    from edge_asr.data.manifest import load_manifest
    from edge_asr.progress import make_progress

    train_utts = load_manifest(config.train_manifest)
    valid_utts = load_manifest(config.valid_manifest)
    if not train_utts:
        raise EdgeASRError(f"{config.train_manifest}: no training utterances")
    with make_progress(transient=True) if config.progress else _Silent() as progress:
        out = []
        for split, utts in (("train", train_utts), ("valid", valid_utts)):
            task = progress.add_task(f"features {split}", total=len(utts), info="")
            out.append(
                load_split(
                    utts,
                    feature_config,
                    split,
                    config.jobs,
                    lambda n, task=task: progress.advance(task, n),
                )
            )
    (train_raw, train_kept, train_skip), (valid_raw, valid_kept, valid_skip) = out
    if not train_raw:
        raise EdgeASRError(
            f"{config.train_manifest}: no usable training utterances "
            f"({train_skip.summary('train')})"
        )
    dtype = np.dtype(config.cache_dtype)
    if stats_given:
        for i, x in enumerate(train_raw):
            train_raw[i] = normalize(x, feature_config, dtype)
    else:
        feature_config = fit_and_normalize(train_raw, feature_config, dtype)
    valid_feats = [normalize(x, feature_config, np.float32) for x in valid_raw]
    return (
        feature_config,
        (train_raw, train_kept, train_skip),
        (valid_feats, valid_kept, valid_skip),
    )


def _model_and_features(config: TrainConfig) -> tuple[str, dict[str, Any], Any, bool]:
    """(model name, params, FeatureConfig, stats known): from DIR when resuming, else flags."""
    from runtime.features import FeatureConfig

    out = Path(config.out)
    if config.resume:
        try:
            meta = json.loads((out / "model.json").read_text())
            feats = FeatureConfig.from_json((out / "features.json").read_text())
        except FileNotFoundError as exc:
            raise EdgeASRError(f"{out}: nothing to resume ({exc.filename} missing)") from None
        if not (out / CHECKPOINT).exists():
            raise EdgeASRError(f"{out}: nothing to resume ({CHECKPOINT} missing)")
        if (config.model and config.model != meta["name"]) or config.params:
            _say(f"resume: continuing {meta['name']} from {out} (ignoring --model/--param)")
        params = {k: v for k, v in meta["params"].items() if k != "input_dim"}
        return meta["name"], params, feats, True
    if not config.overwrite and ((out / CHECKPOINT).exists() or (out / "model.keras").exists()):
        raise EdgeASRError(
            f"{out} already holds a model; pass --resume to continue it, --overwrite to "
            "replace it, or choose another --out"
        )
    if config.features not in ("spectrogram", "mfcc"):
        raise EdgeASRError(f"unknown features {config.features!r}; choose spectrogram or mfcc")
    feats = getattr(FeatureConfig, config.features)()
    params = {k: v for k, v in config.params.items() if k != "input_dim"}
    return config.model or "final_model_streaming", params, feats, False


def train(config: TrainConfig) -> TrainResult:
    """Train a model into ``config.out`` (a model directory, see docs/formats.md)."""
    out = Path(config.out)
    t0 = time.monotonic()
    name, params, feature_config, stats_given = _model_and_features(config)
    feature_config, train_split, valid_split = _load_data(config, feature_config, stats_given)
    train_raw, train_kept, train_skip = train_split
    valid_feats, valid_kept, valid_skip = valid_split
    feature_seconds = time.monotonic() - t0

    import keras
    import tensorflow as tf

    from edge_asr.models import build, save_model

    _configure_threads(tf, config.threads)
    strategy = make_strategy(tf, config.strategy)
    chief = _is_chief(strategy)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        try:
            model = build(name, input_dim=feature_config.dim, **params)
        except (TypeError, ValueError) as exc:
            raise EdgeASRError(f"cannot build {name}: {exc}") from None
        optimizer = make_optimizer(keras, config)
        # Slots made now, not lazily inside the traced step (a distributed step cannot).
        optimizer.build(model.trainable_variables)
        logits_net, has_logits = logits_model(model)
    rule_fn = model.output_length
    train_ex = make_examples(train_raw, train_kept, rule_fn, train_skip, "train")
    valid_ex = make_examples(valid_feats, valid_kept, rule_fn, valid_skip, "valid")
    del train_raw, valid_feats
    if not train_ex:
        raise EdgeASRError(
            f"{config.train_manifest}: no usable training utterances "
            f"({train_skip.summary('train')})"
        )
    if not valid_ex:
        raise EdgeASRError(
            f"{config.valid_manifest}: no usable validation utterances "
            f"({valid_skip.summary('valid')})"
        )
    for split, skip in (("train", train_skip), ("valid", valid_skip)):
        _say(skip.summary(split))
    n_skipped = train_skip.n + valid_skip.n

    meta = model.edge_asr
    if chief:
        write_json(out / "model.json", meta)
        write_text(out / "features.json", feature_config.to_json())
        write_json(out / "labels.json", labels_json())

    state: dict[str, Any] = {
        "epoch": 0,
        "best_cer": None,
        "best_loss": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "seconds": 0.0,
    }
    log: list[dict[str, Any]] = []
    if config.resume:
        with strategy.scope():
            state = load_checkpoint(out / CHECKPOINT, model, optimizer)
        log = read_log(out / "train_log.csv")[: state["epoch"]]
        _say(f"resume: from epoch {state['epoch']} (best CER {state['best_cer']})")

    replicas = strategy.num_replicas_in_sync
    agree = _agreement(tf, strategy)
    base_lr = float(optimizer.learning_rate.numpy())
    trainable = model.trainable_variables

    def replica_step(x: Any, y: Any, out_len: Any, lab_len: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            logits = logits_net(x, training=True)
            if not has_logits:
                logits = tf.math.log(logits + 1e-7)
            per_utt = ctc_loss(tf, y, lab_len, logits, out_len)
            loss = tf.reduce_mean(per_utt) / replicas
        grads = tape.gradient(loss, trainable)
        optimizer.apply_gradients(zip(grads, trainable, strict=True))
        return tf.reduce_sum(per_utt), tf.cast(tf.shape(per_utt)[0], tf.float32)

    def step_fn(batch: Any) -> tuple[Any, Any]:
        total, count = strategy.run(replica_step, args=batch)
        sum_ = tf.distribute.ReduceOp.SUM
        return strategy.reduce(sum_, total, axis=None), strategy.reduce(sum_, count, axis=None)

    train_step = None  # traced once, on the first dataset's element spec (no retracing)

    dim = feature_config.dim
    signature = (
        tf.TensorSpec((None, None, dim), tf.float32),
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None,), tf.int32),
    )

    @tf.function(input_signature=list(signature), autograph=False)
    def val_step(x: Any, y: Any, out_len: Any, lab_len: Any) -> tuple[Any, Any]:
        logits = logits_net(x, training=False)
        if not has_logits:
            logits = tf.math.log(logits + 1e-7)
        return ctc_loss(tf, y, lab_len, logits, out_len), tf.argmax(logits, axis=-1)

    causal = bool(meta.get("streamable"))
    val_batch = config.batch_size if causal else 1

    def validate() -> tuple[float, float, float]:
        from edge_asr.metrics import cer, wer

        order = sorted(range(len(valid_ex)), key=lambda i: len(valid_ex[i].features))
        losses, refs, hyps = [], [], []
        for start in range(0, len(order), val_batch):
            exs = [valid_ex[i] for i in order[start : start + val_batch]]
            b = pad_batch([e.features for e in exs], [e.labels for e in exs], rule_fn)
            loss, best = val_step(b.features, b.labels, b.output_lengths, b.label_lengths)
            best = best.numpy()
            losses.extend(loss.numpy().tolist())
            for row, e in enumerate(exs):
                path = best[row, : b.output_lengths[row]]
                keep = np.concatenate([[True], path[1:] != path[:-1]]) if len(path) else path
                refs.append(int_to_text(e.labels))
                hyps.append(int_to_text(path[keep.astype(bool)]))
        return float(np.mean(losses)), cer(refs, hyps), wer(refs, hyps)

    aug = config.augment or NO_AUGMENT
    lengths = [len(e.features) for e in train_ex]
    min_outputs = [ctc_min_frames(e.labels) for e in train_ex]

    def epoch_batches(epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([config.seed, epoch])
        first = epoch == 1 and config.sortagrad
        batches = bucket_batches(lengths, config.batch_size, rng, shuffle=not first)
        usable = len(batches) - len(batches) % replicas
        if usable == 0:
            raise EdgeASRError(f"fewer batches ({len(batches)}) than replicas ({replicas})")
        batches = batches[:usable]
        if config.steps_per_epoch:
            batches = batches[: config.steps_per_epoch * replicas]
        return batches

    def dataset_for(epoch: int, batches: list[np.ndarray]) -> Any:
        def dataset_fn(ctx: Any) -> Any:
            mine = batches[ctx.input_pipeline_id :: ctx.num_input_pipelines]
            rng = np.random.default_rng([config.seed, epoch, ctx.input_pipeline_id, 1])

            def gen() -> Any:
                for idx in mine:
                    feats = [
                        augment(train_ex[i].features, rng, aug, min_outputs[i], rule_fn)
                        for i in idx
                    ]
                    b = pad_batch(feats, [train_ex[i].labels for i in idx], rule_fn)
                    yield b.features, b.labels, b.output_lengths, b.label_lengths

            ds = tf.data.Dataset.from_generator(gen, output_signature=signature)
            return ds.prefetch(2)

        return strategy.distribute_datasets_from_function(dataset_fn)

    max_epochs = config.epochs or (10**9 if config.minutes else 20)
    budget = config.minutes * 60.0 if config.minutes else None
    run_start = time.monotonic()
    seconds_before = float(state["seconds"])
    epoch = int(state["epoch"])
    stop_reason = "epochs"
    from edge_asr.progress import make_progress

    while epoch < max_epochs:
        epoch += 1
        batches = epoch_batches(epoch)
        steps = len(batches) // replicas
        dataset = dataset_for(epoch, batches)
        if train_step is None:
            train_step = tf.function(
                step_fn, input_signature=[dataset.element_spec], autograph=False
            )
        iterator = iter(dataset)
        total, count, out_of_time = 0.0, 0.0, False
        with make_progress() if config.progress else _Silent() as progress:
            task = progress.add_task(f"epoch {epoch}", total=steps, info="")
            for step in range(steps):
                elapsed = time.monotonic() - run_start
                if budget:
                    frac = elapsed / budget
                else:
                    frac = ((epoch - 1) * steps + step) / (max_epochs * steps)
                optimizer.learning_rate.assign(base_lr * lr_factor(config.lr_schedule, frac))
                loss_sum, n = train_step(next(iterator))
                total += float(loss_sum)
                count += float(n)
                progress.update(task, advance=1, info=f"loss {total / max(count, 1):.2f}")
                if budget and agree(time.monotonic() - run_start >= budget):
                    out_of_time = True
                    break
        train_loss = total / max(count, 1.0)
        if not math.isfinite(train_loss):
            raise EdgeASRError(f"training diverged at epoch {epoch} (loss {train_loss})")
        val_loss, val_cer, val_wer = validate()
        seconds = seconds_before + time.monotonic() - run_start
        row = {
            "epoch": epoch,
            "seconds": round(seconds, 1),
            "loss": round(train_loss, 4),
            "val_loss": round(val_loss, 4),
            "val_cer": round(val_cer, 4),
            "val_wer": round(val_wer, 4),
            "lr": f"{float(optimizer.learning_rate.numpy()):.3g}",
            "skipped": n_skipped,
        }
        log.append(row)
        best = state["best_cer"]
        improved = (
            best is None
            or val_cer < best
            or (val_cer == best and val_loss < (state["best_loss"] or math.inf))
        )
        if improved:
            state.update(best_cer=val_cer, best_loss=val_loss, best_epoch=epoch, bad_epochs=0)
            if chief:
                save_model(model, out / "model.keras")
        else:
            state["bad_epochs"] += 1
        state.update(epoch=epoch, seconds=seconds)
        if chief:
            write_log(out / "train_log.csv", log)
            save_checkpoint(out / CHECKPOINT, model, optimizer, state)
        mark = " *" if improved else ""
        _say(
            f"epoch {epoch}: loss {train_loss:.2f}  val_loss {val_loss:.2f}  "
            f"val_cer {val_cer:.3f}  val_wer {val_wer:.3f}  ({seconds:.0f} s){mark}"
        )
        if out_of_time:
            stop_reason = "time budget"
            break
        if agree(bool(config.patience) and state["bad_epochs"] >= config.patience):
            stop_reason = f"no improvement in {config.patience} epochs"
            break
    if state["best_cer"] is None:
        raise EdgeASRError(f"no epoch was run (already at epoch {epoch} of {max_epochs})")
    _say(
        f"stopped ({stop_reason}): best val_cer {state['best_cer']:.3f} at epoch "
        f"{state['best_epoch']}; {n_skipped} utterances skipped; model in {out}"
    )
    skipped = dict(train_skip.counts + valid_skip.counts)
    return TrainResult(
        out=out,
        best_cer=float(state["best_cer"]),
        best_epoch=int(state["best_epoch"]),
        epochs=epoch,
        log=log,
        skipped=skipped,
        feature_seconds=feature_seconds,
        train_seconds=time.monotonic() - run_start,
    )
