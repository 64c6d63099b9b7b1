"""Batches of cached features keep each feature map with its own label, in memory or on disk."""

import numpy as np

from core.training import finetune


def _cache(tmp_path, labels, offset, name):
    """A cache whose map for image i is filled with ``labels[i] + offset``: its label, readable."""
    path = tmp_path / f"{name}.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(len(labels), 4, 4, 3))
    out[:] = (labels + offset)[:, None, None, None]
    out.flush()
    return np.load(path, mmap_mode="r")


def _labels_seen(batches):
    for index in range(len(batches)):
        x, y = batches[index]
        yield x[:, 0, 0, 0], y.argmax(axis=1)


def test_every_batch_pairs_each_map_with_its_label_from_both_views(tmp_path):
    labels = np.random.default_rng(1).integers(0, 10, size=203)
    views = [_cache(tmp_path, labels, 0, "fit"), _cache(tmp_path, labels, 100, "mirror")]
    batches = finetune.FeatureBatches(views, labels, batch_size=32, shift_cells=1, seed=0)
    seen_views = set()
    for values, targets in _labels_seen(batches):
        np.testing.assert_array_equal(values % 100, targets)
        seen_views.update((values // 100).astype(int).tolist())
    assert seen_views == {0, 1}


def test_a_cache_is_loaded_only_while_it_takes_its_share_of_memory_or_less(tmp_path):
    labels = np.arange(50) % 10
    views = [_cache(tmp_path, labels, 0, "fit")]
    assert finetune.fits_in_memory(views)
    assert not finetune.fits_in_memory(views, share=1e-12)
    in_memory = finetune.FeatureBatches(views, labels, batch_size=16, shift_cells=0, seed=3)
    assert not isinstance(in_memory.views[0], np.memmap)


def test_mapped_and_loaded_caches_give_the_same_batches(tmp_path, monkeypatch):
    labels = np.random.default_rng(2).integers(0, 10, size=120)
    views = [_cache(tmp_path, labels, 0, "fit"), _cache(tmp_path, labels, 100, "mirror")]
    loaded = finetune.FeatureBatches(views, labels, batch_size=25, shift_cells=1, seed=7)
    monkeypatch.setattr(finetune, "fits_in_memory", lambda arrays: False)
    mapped = finetune.FeatureBatches(views, labels, batch_size=25, shift_cells=1, seed=7)
    assert isinstance(mapped.views[0], np.memmap)
    for index in range(len(loaded)):
        for a, b in zip(loaded[index], mapped[index], strict=True):
            np.testing.assert_array_equal(a, b)
