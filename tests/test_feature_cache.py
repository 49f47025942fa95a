"""The disk feature cache on real espeak audio: built once and reused without featurizing,
rebuilt when the audio, the feature config, the normalization or the dtype changes, atomic
when a bad file stops a strict build, memory-mapped, and the batches training reads from it
equal the ones computed directly from the audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_asr.data.loading import BAD_AUDIO, load_set
from edge_asr.data.manifest import ManifestError
from edge_asr.train import NO_AUGMENT, TrainConfig
from edge_asr.train.feature_cache import (
    CACHE_DIRNAME,
    FEATURIZED,
    Moments,
    cached_set,
    default_cache_dir,
)
from runtime.features import FeatureConfig, fit_stats, normalize

MFCC = FeatureConfig.mfcc()


@pytest.fixture()
def corpus(tiny_corpus: Path, tmp_path: Path) -> Path:
    """8 training rows of the tiny corpus with copies of their WAVs (tests change audio)."""
    out = tmp_path / "corpus"
    (out / "wav").mkdir(parents=True)
    rows = [json.loads(line) for line in (tiny_corpus / "train.jsonl").read_text().splitlines()]
    for row in rows[:8]:
        name = Path(row["audio_filepath"]).name
        shutil.copy(tiny_corpus / row["audio_filepath"], out / "wav" / name)
        row["audio_filepath"] = f"wav/{name}"
    (out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    return out


def _entries(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_built_once_then_reused_without_featurizing(corpus: Path) -> None:
    manifest = corpus / "train.jsonl"
    cache = default_cache_dir(manifest)
    assert cache == corpus / CACHE_DIRNAME
    before = FEATURIZED["utterances"]
    first = cached_set(manifest, MFCC, cache, fit=True, dtype="float16")
    assert first.built and FEATURIZED["utterances"] == before + 8
    second = cached_set(manifest, MFCC, cache, fit=True, dtype="float16")
    assert not second.built and FEATURIZED["utterances"] == before + 8  # no audio read
    assert second.folder == first.folder and _entries(cache) == [first.folder.name]
    assert second.config == first.config and second.config.normalized
    assert second.lines == list(range(1, 9)) and second.texts == first.texts
    for i in range(len(first)):
        np.testing.assert_array_equal(second.features(i), first.features(i))


def test_features_are_memory_mapped_npy_shards(corpus: Path) -> None:
    fs = cached_set(corpus / "train.jsonl", MFCC, corpus / "cache", fit=True, dtype="float16")
    x = fs.features(3)
    assert isinstance(x, np.memmap) and x.dtype == np.float16 and x.shape == (fs.lengths[3], 13)
    assert not x.flags.writeable
    (shard,) = fs.folder.glob("shard-*.npy")
    whole = np.load(shard, mmap_mode="r")  # a plain .npy: the utterances end to end
    assert isinstance(whole, np.memmap) and whole.shape == (fs.lengths.sum(), 13)
    np.testing.assert_array_equal(whole[fs.starts[3] : fs.starts[3] + fs.lengths[3]], x)
    assert abs(float(np.asarray(whole, np.float64).mean())) < 1e-3  # normalized on train


def test_rebuilt_when_audio_features_or_normalization_change(corpus: Path) -> None:
    manifest, cache = corpus / "train.jsonl", corpus / "cache"
    base = cached_set(manifest, MFCC, cache, fit=True)
    # new audio in place (re-synthesized, say): size and mtime change
    wavs = sorted((corpus / "wav").iterdir())
    shutil.copy(wavs[5], wavs[2])
    changed = cached_set(manifest, MFCC, cache, fit=True)
    assert changed.built and changed.folder != base.folder
    assert changed.lengths[2] == base.lengths[5] != base.lengths[2]
    # another feature config, another normalization, another dtype: each its own entry
    folders = {base.folder, changed.folder}
    stats = changed.config
    variants = [
        dict(config=FeatureConfig.mfcc(step_ms=20), fit=True),
        dict(config=FeatureConfig.spectrogram(), fit=True),
        dict(config=stats),  # given stats (as validation and resume use them)
        dict(config=stats.with_stats(np.zeros(13), np.ones(13))),
        dict(config=MFCC),  # raw
        dict(config=MFCC, fit=True, dtype="float16"),
    ]
    for kw in variants:
        got = cached_set(manifest, cache_dir=cache, **kw)
        assert got.built and got.folder not in folders, kw
        folders.add(got.folder)
    assert len(_entries(cache)) == len(folders)
    # the same stats given or fitted give the same features
    given = cached_set(manifest, stats, cache)
    assert not given.built
    np.testing.assert_array_equal(given.features(0), changed.features(0))


def test_a_bad_file_mid_build(corpus: Path, capsys: pytest.CaptureFixture) -> None:
    """Strict: the error stops the build and leaves no entry (nor a temp folder). Default: the
    row is skipped and counted, at build and on every reuse."""
    manifest, cache = corpus / "train.jsonl", corpus / "cache"
    (corpus / "wav" / sorted(p.name for p in (corpus / "wav").iterdir())[3]).write_bytes(
        b"RIFF\x10\x00\x00\x00WAVEjunk"
    )
    with pytest.raises(ManifestError, match=r"train.jsonl line 4: unreadable audio"):
        cached_set(manifest, MFCC, cache, fit=True, strict=True)
    assert _entries(cache) == []  # nothing that could read as complete
    capsys.readouterr()
    built = cached_set(manifest, MFCC, cache, fit=True)
    assert built.built and built.lines == [1, 2, 3, 5, 6, 7, 8]
    assert built.skipped.counts == {BAD_AUDIO: 1} and built.skipped.total == 8
    before = FEATURIZED["utterances"]
    reused = cached_set(manifest, MFCC, cache, fit=True)
    assert not reused.built and FEATURIZED["utterances"] == before
    assert reused.skipped.counts == {BAD_AUDIO: 1} and reused.lines == built.lines
    err = capsys.readouterr().err
    assert err.count("edge-asr: skipped train.jsonl line 4: unreadable audio") == 2
    with pytest.raises(ManifestError, match="line 4: unreadable audio"):
        cached_set(manifest, MFCC, cache, fit=True, strict=True)  # strict on reuse too


def test_streamed_stats_equal_fit_stats(corpus: Path) -> None:
    raw = load_set(corpus / "train.jsonl", MFCC).features
    moments = Moments()
    for x in raw:
        moments.add(x)
    mean, std = fit_stats(raw)
    np.testing.assert_array_equal(moments.stats()[0], mean)  # bit for bit, one worker
    np.testing.assert_array_equal(moments.stats()[1], std)
    halves = [Moments(), Moments()]
    for i, x in enumerate(raw):
        halves[i % 2].add(x)
    merged = Moments()
    for v in [h.vector(13) for h in halves]:  # what workers exchange
        merged.merge(Moments.from_vector(v))
    np.testing.assert_allclose(merged.stats()[0], mean, rtol=1e-12)
    np.testing.assert_allclose(merged.stats()[1], std, rtol=1e-12)
    fitted = cached_set(corpus / "train.jsonl", MFCC, corpus / "cache", fit=True)
    assert fitted.config.mean == mean.tolist() and fitted.config.std == std.tolist()
    manifest = corpus / "train.jsonl"
    shards = [cached_set(manifest, MFCC, corpus / "c", shard=(k, 3)) for k in range(3)]
    assert [s.lines for s in shards] == [[1, 4, 7], [2, 5, 8], [3, 6]]


def test_first_batch_equals_features_computed_directly(tiny_corpus: Path, tmp_path: Path) -> None:
    """What a training step receives from the cache is what the audio gives through the
    runtime's extract, normalize and the float16 storage, to the bit."""
    import tensorflow as tf

    from edge_asr.train.data import pad_batch
    from edge_asr.train.loop import build_model, examples_of, load_data, plan_run
    from edge_asr.train.trainer import Trainer

    config = TrainConfig(
        tiny_corpus / "train.jsonl",
        tiny_corpus / "valid.jsonl",
        tmp_path / "model",
        model="rnn_model",
        params={"units": 8},
        features="mfcc",
        batch_size=4,
        augment=NO_AUGMENT,
        cache=tmp_path / "cache",
        progress=False,
    )
    plan = plan_run(config)
    features, train_set, valid_set = load_data(config, plan)
    strategy = tf.distribute.get_strategy()
    model, optimizer = build_model(config, plan, features.dim, strategy)
    examples = examples_of(train_set, model, config.train_manifest, "train")
    assert isinstance(examples[0].features, np.memmap)
    trainer = Trainer(config, tf, strategy, model, optimizer, examples)
    batches = trainer.epoch_batches(1)
    got = next(iter(trainer.dataset(1, batches)))

    direct = load_set(config.train_manifest, FeatureConfig.mfcc())
    mean, std = fit_stats(direct.features)
    stats = FeatureConfig.mfcc().with_stats(mean, std)
    assert features == stats
    by_line = dict(zip(direct.lines, direct.features, strict=True))
    idx = batches[0]
    want = pad_batch(
        [normalize(by_line[examples[i].line], stats).astype(np.float16) for i in idx],
        [examples[i].labels for i in idx],
        model.output_length,
    )
    np.testing.assert_array_equal(got[0].numpy(), want.features)
    np.testing.assert_array_equal(got[1].numpy(), want.labels)
    np.testing.assert_array_equal(got[2].numpy(), want.output_lengths)
    # validation: the same stats, float32, as `edge-asr evaluate` computes them
    valid = load_set(config.valid_manifest, stats)
    np.testing.assert_allclose(valid_set.features(0), valid.features[0], rtol=0, atol=1e-5)
    assert valid_set.features(0).dtype == np.float32
