"""``--strategy multiworker`` for real: two worker processes on 127.0.0.1 train one tiny model
through ``tf.distribute.MultiWorkerMirroredStrategy``. They must end with identical weights,
only the chief may write a model directory, and each must have read its own disjoint shard of
the training rows (together: all of them)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from pathlib import Path
    from edge_asr.train import NO_AUGMENT, TrainConfig, train

    corpus, out, cache, result = map(Path, sys.argv[1:5])
    config = TrainConfig(
        corpus / "train.jsonl", corpus / "valid.jsonl", out,
        model="final_model_streaming", params={"filters": 8, "units": 8},
        features="mfcc", optimizer="adam", lr=3e-3, batch_size=4, epochs=2,
        steps_per_epoch=3, augment=NO_AUGMENT,
        strategy="multiworker", threads=(1, 1), jobs=1, cache=cache, progress=False,
    )
    r = train(config)
    np.savez(result.with_suffix(".npz"), *r.model.get_weights())
    result.write_text(json.dumps({"lines": r.train_lines, "epochs": r.epochs}))
    """
)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _manifest_lines(path: Path) -> list[int]:
    text = path.read_text().splitlines()
    return [n for n, line in enumerate(text, start=1) if line.strip()]


def test_two_workers_agree_and_read_their_own_shards(tiny_corpus: Path, tmp_path: Path) -> None:
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        # Separate caches, as on two machines: each builds only its own shard.
        args = [str(tiny_corpus), str(tmp_path / f"out{index}"), str(tmp_path / f"cache{index}")]
        log = open(tmp_path / f"worker{index}.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, *args, str(tmp_path / f"result{index}.json")],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        for proc in procs:
            proc.wait(timeout=300)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    logs = [(tmp_path / f"worker{i}.log").read_text()[-3000:] for i in range(2)]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(logs)

    results = [json.loads((tmp_path / f"result{i}.json").read_text()) for i in range(2)]
    assert [r["epochs"] for r in results] == [2, 2]
    # identical weights on both workers
    a, b = (np.load(tmp_path / f"result{i}.npz") for i in range(2))
    assert a.files == b.files and len(a.files) > 4
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # only the chief (worker 0) wrote a model directory
    assert (tmp_path / "out0" / "model.keras").stat().st_size > 0
    assert (tmp_path / "out0" / "checkpoint.npz").exists()
    assert not (tmp_path / "out1").exists()
    # each read its own shard: every other manifest row, disjoint, together all of them
    lines = [set(r["lines"]) for r in results]
    everything = _manifest_lines(tiny_corpus / "train.jsonl")
    assert not lines[0] & lines[1]
    assert lines[0] | lines[1] == set(everything)
    assert lines[0] == set(everything[0::2]) and lines[1] == set(everything[1::2])
    # ... featurized only that shard (plus the whole validation set), normalized alike
    metas = []
    for index in range(2):
        (train_entry,) = (tmp_path / f"cache{index}").glob("train-*")
        metas.append(json.loads((train_entry / "meta.json").read_text()))
        assert metas[-1]["shard"] == [index, 2]
        assert metas[-1]["utterances"] == len(lines[index])
    assert metas[0]["features"] == metas[1]["features"]
    stored = json.loads((tmp_path / "out0" / "features.json").read_text())
    assert stored["mean"] == metas[0]["features"]["mean"]
