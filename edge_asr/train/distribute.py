"""tf.distribute for the training loop: the strategy, which worker is the chief, and the one
collective that makes every worker take the same stop decision."""

from __future__ import annotations

import os
from typing import Any

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


def _num_workers(strategy: Any) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(kind, [])) for kind in ("chief", "worker")) or 1


def agreement(tf: Any, strategy: Any) -> Any:
    """``agree(flag) -> bool``: True on every worker if it is True on any.

    Workers must stop at the same step or the next gradient all-reduce waits forever; their
    clocks and (BatchNorm-dependent) validation numbers differ slightly, so stop decisions
    (time budget, patience) go through one tiny collective. A no-op on one machine. Custom:
    Keras callbacks decide per process.
    """
    if _num_workers(strategy) <= 1:
        return bool

    @tf.function(autograph=False)
    def any_worker(flag: Any) -> Any:
        per_replica = strategy.run(tf.identity, args=(flag,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return lambda flag: bool(any_worker(tf.constant(1.0 if flag else 0.0)).numpy() > 0)
