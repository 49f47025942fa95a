"""The CTC steps: one ``tf.function`` step with ``GradientTape`` under a ``tf.distribute``
strategy, the epoch's bucketed and augmented batches as a distributed dataset, and validation.

CTC runs on the pre-softmax tensor (every builder ends in an Activation layer named
"softmax") through TensorFlow's fused CTC kernel with sparse labels: numerically better than
log(softmax) and several times faster on CPU than the dense-label implementation. That, the
variable-length bucketed batches and the workers' agreement on stops are why this is a custom
loop and not ``model.fit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edge_asr.train.augment import NO_AUGMENT, augment
from edge_asr.train.data import Example, bucket_batches, ctc_min_frames, pad_batch, pad_labels
from runtime.errors import EdgeASRError
from runtime.text import BLANK

if TYPE_CHECKING:
    from edge_asr.train.loop import TrainConfig

_LOSS_GROUP = 64  # validation utterances per CTC-loss call (padding is masked: exact)
_VALID_CHUNK = 128  # validation utterances mapped and decoded together (a multiple of 16)


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


def validation_scores(
    model: Any, examples: list[Example], batch_size: int, chunk: int = _VALID_CHUNK
) -> tuple:
    """(mean CTC loss, CER, WER) of ``model`` on ``examples``.

    Posteriors come from ``keras_posteriors`` (the one Keras inference path, batched when the
    model is causal), transcripts from the runtime's greedy decoder, and the loss from the same
    log posteriors (log-softmax of log-probabilities is themselves), so validation scores what
    ``edge-asr evaluate`` and a device would. Utterances go through ``chunk`` at a time
    (shortest first), so neither their features nor their posteriors are all held at once.
    """
    import tensorflow as tf

    from edge_asr.batching import length_sorted_groups, pad_features
    from edge_asr.inference import keras_posteriors
    from edge_asr.metrics import cer, wer
    from runtime.decoding import greedy_decode, to_log_probs
    from runtime.text import int_to_text

    order = sorted(range(len(examples)), key=lambda i: examples[i].length)
    hyps: list[str] = [""] * len(examples)
    losses: list[float] = []
    for begin in range(0, len(order), chunk):
        part = [examples[i] for i in order[begin : begin + chunk]]
        posteriors = keras_posteriors(model, [e.features for e in part], batch_size)
        log_probs = [to_log_probs(p) for p in posteriors]
        for i, lp in zip(order[begin : begin + chunk], log_probs, strict=True):
            hyps[i] = int_to_text(greedy_decode(lp))
        for group in length_sorted_groups([len(lp) for lp in log_probs], _LOSS_GROUP):
            labels = [part[i].labels for i in group]
            loss = ctc_loss(
                tf,
                pad_labels(labels),
                np.array([len(y) for y in labels], np.int32),
                pad_features([log_probs[i] for i in group]),
                np.array([len(log_probs[i]) for i in group], np.int32),
            )
            losses.extend(loss.numpy().tolist())
    refs = [e.text for e in examples]
    return float(np.mean(losses)), cer(refs, hyps), wer(refs, hyps)


class Trainer:
    """One model's CTC steps under a strategy: the traced step, each epoch's batches and
    distributed dataset, and one epoch's run with its callbacks.

    ``examples`` are this worker's shard; ``gather`` (``distribute.make_gather``) lets the
    workers agree on the steps per epoch (the fewest any of them has), since every step is an
    all-reduce that all must join.
    """

    def __init__(
        self,
        config: TrainConfig,
        tf: Any,
        strategy: Any,
        model: Any,
        optimizer: Any,
        examples: list[Example],
        gather: Any = None,
        workers: int = 1,
    ) -> None:
        from edge_asr.models.twin import inference_twin

        self.config, self.tf, self.strategy = config, tf, strategy
        self.model, self.optimizer, self.examples = model, optimizer, examples
        with strategy.scope():
            self.logits_net, self.has_logits = inference_twin(model, logits=True)
        self.replicas = strategy.num_replicas_in_sync
        self.local_replicas = max(1, self.replicas // workers)
        self.lengths = [e.length for e in examples]
        self.min_outputs = [ctc_min_frames(e.labels) for e in examples]
        own = len(self.epoch_batches(1, cap=False)) // self.local_replicas
        steps = int(gather(np.array([own])).min()) if gather else own
        if steps == 0:
            raise EdgeASRError(
                f"a worker has fewer batches than its {self.local_replicas} replicas"
            )
        if config.steps_per_epoch:
            steps = min(steps, config.steps_per_epoch)
        self.steps = steps
        self.gather = gather if workers > 1 else None
        self._step = None  # traced once, on the first dataset's element spec (no retracing)

    def _replica_step(self, x: Any, y: Any, out_len: Any, lab_len: Any) -> tuple[Any, Any]:
        tf = self.tf
        trainable = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.logits_net(x, training=True)
            if not self.has_logits:
                logits = tf.math.log(logits + 1e-7)
            per_utt = ctc_loss(tf, y, lab_len, logits, out_len)
            loss = tf.reduce_mean(per_utt) / self.replicas
        grads = tape.gradient(loss, trainable)
        self.optimizer.apply_gradients(zip(grads, trainable, strict=True))
        return tf.reduce_sum(per_utt), tf.cast(tf.shape(per_utt)[0], tf.float32)

    def _distributed_step(self, batch: Any) -> tuple[Any, Any]:
        total, count = self.strategy.run(self._replica_step, args=batch)
        sum_ = self.tf.distribute.ReduceOp.SUM
        reduce = self.strategy.reduce
        return reduce(sum_, total, axis=None), reduce(sum_, count, axis=None)

    def epoch_batches(self, epoch: int, cap: bool = True) -> list[np.ndarray]:
        """This worker's index batches for ``epoch``: bucketed, short-to-long first under
        SortaGrad, ``steps`` per local replica (``cap=False``: all whole rounds)."""
        config = self.config
        rng = np.random.default_rng([config.seed, epoch])
        first = epoch == 1 and config.sortagrad
        batches = bucket_batches(self.lengths, config.batch_size, rng, shuffle=not first)
        if not cap:
            return batches[: len(batches) - len(batches) % self.local_replicas]
        return batches[: self.steps * self.local_replicas]

    def dataset(self, epoch: int, batches: list[np.ndarray]) -> Any:
        """The epoch's augmented, padded batches as a distributed dataset (one input pipeline
        per worker over its own shard, each with its own seeded augmentation)."""
        tf, config, ex = self.tf, self.config, self.examples
        aug = config.augment or NO_AUGMENT
        rule = self.model.output_length
        dim = ex[0].source.config.dim
        signature = (
            tf.TensorSpec((None, None, dim), tf.float32),
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        )

        def dataset_fn(ctx: Any) -> Any:
            mine = batches  # this worker's own shard already
            rng = np.random.default_rng([config.seed, epoch, ctx.input_pipeline_id, 1])

            def gen() -> Any:
                for idx in mine:
                    feats = [
                        augment(ex[i].features, rng, aug, self.min_outputs[i], rule) for i in idx
                    ]
                    b = pad_batch(feats, [ex[i].labels for i in idx], rule)
                    yield b.features, b.labels, b.output_lengths, b.label_lengths

            return tf.data.Dataset.from_generator(gen, output_signature=signature).prefetch(2)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def average_statistics(self) -> None:
        """Set every non-trainable weight (BatchNorm's moving mean and variance) to its mean
        over the workers: each worker's moving averages saw only its own shard's batches, and
        the workers must validate, checkpoint and end with the same model."""
        if self.gather is None:
            return
        variables = self.model.non_trainable_variables
        if not variables:
            return
        values = [np.asarray(v.numpy()) for v in variables]
        mean = self.gather(np.concatenate([v.ravel() for v in values])).mean(axis=0)
        begin = 0
        for var, value in zip(variables, values, strict=True):
            part = mean[begin : begin + value.size].reshape(value.shape)
            var.assign(part.astype(value.dtype))
            begin += value.size

    def run_epoch(self, epoch: int, callbacks: Any, agree: Any, budget: bool) -> tuple:
        """(mean training loss, stopped by the time budget) of one epoch."""
        result = self._run_epoch(epoch, callbacks, agree, budget)
        self.average_statistics()
        return result

    def _run_epoch(self, epoch: int, callbacks: Any, agree: Any, budget: bool) -> tuple:
        from edge_asr.progress import make_progress

        dataset = self.dataset(epoch, self.epoch_batches(epoch))
        if self._step is None:
            self._step = self.tf.function(
                self._distributed_step, input_signature=[dataset.element_spec], autograph=False
            )
        iterator = iter(dataset)
        total, count = 0.0, 0.0
        with make_progress(disable=not self.config.progress) as progress:
            task = progress.add_task(f"epoch {epoch}", total=self.steps, info="")
            for step in range(self.steps):
                callbacks.on_train_batch_begin(step)
                loss_sum, n = self._step(next(iterator))
                total += float(loss_sum)
                count += float(n)
                mean = total / max(count, 1.0)
                progress.update(task, advance=1, info=f"loss {mean:.2f}")
                callbacks.on_train_batch_end(step, {"loss": mean})
                if budget and agree(self.model.stop_training):
                    return mean, True
        return total / max(count, 1.0), False
