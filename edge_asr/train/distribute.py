"""tf.distribute for the training loop: the strategy, which worker is the chief and which
shard of the data each worker reads, and the collectives that make every worker agree (stop
decisions, steps per epoch, normalization statistics)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError


def configure_threads(tf: Any, threads: tuple[int, int]) -> None:
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


def is_chief(strategy: Any) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def num_workers(strategy: Any) -> int:
    """Worker processes in the cluster (1 without one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(kind, [])) for kind in ("chief", "worker")) or 1


def worker_index(strategy: Any) -> int:
    """This worker's place among ``num_workers``: the chief first, then the workers in order.

    Training worker k reads manifest rows k, k + n, k + 2n, ... (its shard).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return 0
    if resolver.task_type == "chief":
        return 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return int(resolver.task_id) + (1 if has_chief else 0)


def make_gather(tf: Any, strategy: Any) -> Any:
    """``gather(x) -> (workers, *x.shape)`` float64: every worker's ``x`` in worker order.

    One SUM all-reduce of a zero array holding ``x`` in this worker's row. Every worker must
    call it the same number of times with the same shape (it is a collective).
    """
    n = num_workers(strategy)
    if n <= 1:
        return lambda x: np.asarray(x, np.float64)[None]
    me = worker_index(strategy)
    local = max(1, strategy.num_replicas_in_sync // n)  # each local replica adds a copy

    @tf.function(autograph=False)
    def summed(value: Any) -> Any:
        per_replica = strategy.run(tf.identity, args=(value,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def gather(x: Any) -> np.ndarray:
        x = np.asarray(x, np.float64)
        rows = np.zeros((n, *x.shape))
        rows[me] = x
        return summed(tf.constant(rows)).numpy() / local

    return gather


def agreement(tf: Any, strategy: Any) -> Any:
    """``agree(flag) -> bool``: True on every worker if it is True on any.

    Workers must stop at the same step or the next gradient all-reduce waits forever; their
    clocks and (BatchNorm-dependent) validation numbers differ slightly, so stop decisions
    (time budget, patience) go through one tiny collective. A no-op on one machine. Custom:
    Keras callbacks decide per process.
    """
    if num_workers(strategy) <= 1:
        return bool

    @tf.function(autograph=False)
    def any_worker(flag: Any) -> Any:
        per_replica = strategy.run(tf.identity, args=(flag,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return lambda flag: bool(any_worker(tf.constant(1.0 if flag else 0.0)).numpy() > 0)
