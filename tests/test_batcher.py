"""core.serving.batcher under concurrent callers, and the dashboard's SharedPredictor built on
it."""

import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from core.data.cifar10 import CLASS_NAMES
from core.data.images import decode_many
from core.serving.batcher import Busy, DynamicBatcher, Overloaded, TimedOut
from core.serving.classify import classify_files
from core.serving.predictor import Predictor, SharedPredictor


def _run_together(n, work):
    """Run ``work(i)`` in n threads released at once; returns their results (or exceptions)."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def call(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # returned, asserted by the test
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


class _Calls(list):
    """The rows of every call, and an event set once the first call has started."""

    def __init__(self):
        super().__init__()
        self.started = threading.Event()

    def wait_for_first(self, timeout: float = 10.0) -> None:
        assert self.started.wait(timeout), f"the worker made no call within {timeout} s"


def _gate():
    """A batch function that blocks until released, recording the rows of every call."""
    calls, release = _Calls(), threading.Event()

    def fn(x):
        calls.append(x.ravel().tolist())
        calls.started.set()
        release.wait(timeout=30)
        return x * 10

    return fn, calls, release


def test_concurrent_callers_each_get_their_own_rows_from_shared_batches():
    batcher = DynamicBatcher(max_wait_s=0.05)
    sizes = [1, 3, 2, 1, 4, 1, 2, 1, 3, 1, 2, 1]  # different row counts per caller
    batcher.register("f", lambda x: {"double": x * 2, "negative": -x})

    def work(i):
        rows = np.arange(sizes[i], dtype=np.float32) + 100 * i
        return rows, batcher("f", rows)

    results = _run_together(len(sizes), work)
    for rows, answer in results:
        np.testing.assert_array_equal(answer["double"], rows * 2)
        np.testing.assert_array_equal(answer["negative"], -rows)
    assert len(batcher.batches) < len(sizes), "concurrent requests were merged into batches"
    assert sum(rows for _, rows in batcher.batches) == sum(sizes)


def test_a_full_batch_does_not_wait_and_large_requests_are_never_split():
    batcher = DynamicBatcher(max_batch=4, max_wait_s=5.0)
    batcher.register("f", lambda x: x + 1)
    start = time.perf_counter()
    np.testing.assert_array_equal(batcher("f", np.zeros(6)), np.ones(6))
    assert time.perf_counter() - start < 2.0  # over max_batch: ran at once, as one call
    assert batcher.batches == [("f", 6)]


def test_a_failing_part_fails_only_that_part_of_every_answer():
    batcher = DynamicBatcher(max_wait_s=0.05)
    broken = ValueError("model file is corrupt")

    def fn(x):
        return {"good": x * 3, "bad": broken}

    batcher.register("f", fn)
    results = _run_together(6, lambda i: (i, batcher("f", np.array([float(i)]))))
    for i, answer in results:
        assert answer["good"].tolist() == [3.0 * i]
        assert answer["bad"] is broken


def test_a_raising_batch_function_fails_its_callers_and_the_worker_goes_on():
    batcher = DynamicBatcher(max_wait_s=0.0)
    batcher.register("f", lambda x: x if x.min() >= 0 else 1 / 0)
    with pytest.raises(ZeroDivisionError):
        batcher("f", np.array([-1.0]))
    assert batcher("f", np.array([2.0])).tolist() == [2.0]


def test_a_caller_past_its_deadline_times_out_and_its_request_is_never_run():
    batcher = DynamicBatcher(max_wait_s=0.0)
    fn, calls, release = _gate()
    batcher.register("f", fn)
    first = batcher.submit("f", np.array([1.0]))
    calls.wait_for_first()  # the worker is now busy with the first request
    with pytest.raises(TimedOut, match="busy"):
        batcher("f", np.array([2.0]), timeout_s=0.2)
    release.set()
    assert first.result(timeout=10).tolist() == [10.0]
    assert batcher("f", np.array([3.0])).tolist() == [30.0]
    assert calls == [[1.0], [3.0]], "the timed-out request was dropped, not run late"


def test_a_full_queue_refuses_at_once():
    batcher = DynamicBatcher(max_wait_s=0.0, max_queue=2)
    fn, calls, release = _gate()
    batcher.register("f", fn)
    running = batcher.submit("f", np.array([0.0]))
    calls.wait_for_first()
    queued = [batcher.submit("f", np.array([float(i)])) for i in (1, 2)]
    start = time.perf_counter()
    with pytest.raises(Overloaded, match="try again"):
        batcher.submit("f", np.array([3.0]))
    assert time.perf_counter() - start < 0.5
    release.set()
    assert [f.result(timeout=10).tolist() for f in (running, *queued)] == [[0.0], [10.0], [20.0]]


def test_the_most_urgent_kind_is_served_first():
    batcher = DynamicBatcher(max_wait_s=0.0)
    fn, calls, release = _gate()
    order = []
    batcher.register("block", fn)
    batcher.register("later", lambda x: order.append("later") or x, priority=1)
    batcher.register("urgent", lambda x: order.append("urgent") or x, priority=0)
    batcher.submit("block", np.zeros(1))
    calls.wait_for_first()
    later = batcher.submit("later", np.zeros(1))
    urgent = batcher.submit("urgent", np.zeros(1))
    release.set()
    later.result(timeout=10), urgent.result(timeout=10)
    assert order == ["urgent", "later"]


def _tiny_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def _broken_model() -> keras.Model:
    """Loads and builds, then fails on every call (as a corrupt graph would)."""

    def fail(x):
        tf.debugging.assert_less(x, -1.0, message="broken on purpose")
        return x

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(fail)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def _uploads(tmp_path, n):
    uploads = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        colour = (30 * i % 256, 255 - 20 * i % 256, 60 + 11 * i % 196)
        Image.new("RGB", (40 + i, 30 + 2 * i), colour).save(path)
        uploads.append((path.name, path.read_bytes()))
    return uploads


def test_shared_predictor_gives_concurrent_sessions_their_own_answers(tmp_path):
    predictor = Predictor({"a": _tiny_model(0), "b": _tiny_model(1)})
    shared = SharedPredictor(predictor, DynamicBatcher(max_wait_s=0.05))
    uploads = _uploads(tmp_path, 8)
    alone = [predictor.predict(decode_many([u])[0].array[None]) for u in uploads]

    def session(i):
        (res,) = classify_files(shared, [uploads[i]], k=10)
        return res

    results = _run_together(8, session)
    for res, expected in zip(results, alone, strict=True):
        assert not res.error and not res.failed
        for model in ("a", "b"):
            got = dict(res.top[model])
            probs = [got[name] for name in CLASS_NAMES]
            np.testing.assert_allclose(probs, expected[model][0], rtol=1e-4, atol=1e-6)
    merged = [rows for kind, rows in shared.batcher.batches if kind == SharedPredictor.PREDICT]
    assert max(merged) > 1, "the sessions' images ran as shared batches"


def test_a_failing_model_leaves_the_other_models_answers(tmp_path):
    good = _tiny_model(0)
    shared = SharedPredictor(Predictor({"good": good, "broken": _broken_model()}))
    uploads = _uploads(tmp_path, 3)
    results = _run_together(3, lambda i: classify_files(shared, [uploads[i]], k=3)[0])
    for res in results:
        assert res.error is None
        assert list(res.top) == ["good"] and len(res.top["good"]) == 3
        assert list(res.failed) == ["broken"]
        assert "broken on purpose" in res.failed["broken"]


def test_a_busy_worker_gives_each_file_a_clear_reason(tmp_path):
    batcher = DynamicBatcher(max_wait_s=0.0, max_queue=1)
    shared = SharedPredictor(Predictor({"a": _tiny_model(0)}), batcher)
    fn, calls, release = _gate()
    batcher.register("block", fn)
    batcher.submit("block", np.zeros(1))
    calls.wait_for_first()
    batcher.submit("block", np.zeros(1))  # the queue (of one) is now full
    results = classify_files(shared, _uploads(tmp_path, 2), k=3)
    release.set()
    assert [r.top for r in results] == [{}, {}]
    assert all("try again in a moment" in r.error for r in results)


def test_files_past_the_per_upload_cap_are_refused_not_decoded(tmp_path):
    predictor = Predictor({"a": _tiny_model(0)})
    uploads = _uploads(tmp_path, 4)
    results = classify_files(predictor, uploads, k=1, max_files=2)
    assert [r.error is None for r in results] == [True, True, False, False]
    assert results[2].error == "2.png: not classified, at most 2 images per upload (this one has 4)"


def test_shared_gradcam_matches_gradcam_run_alone():
    from core.analysis.gradcam import GradCam

    model = _tiny_model(3)
    shared = SharedPredictor(Predictor({"m": model}), DynamicBatcher(max_wait_s=0.05))
    rng = np.random.default_rng(0)
    images = rng.random((6, 32, 32, 3), dtype=np.float32)
    targets = [0, 3, 5, 7, 9, 1]
    alone = GradCam(model, "conv")(images, np.asarray(targets)).heatmaps
    results = _run_together(6, lambda i: shared.gradcam("m", images[i], targets[i]))
    np.testing.assert_allclose(np.concatenate(results), alone, atol=1e-5)
    as_uint8 = shared.gradcam("m", (images[:2] * 255).round().astype(np.uint8), 3)
    assert as_uint8.shape == (2, 32, 32) and as_uint8.max() <= 1.0


def test_a_quiet_kind_waits_longer_the_more_urgent_requests_just_came():
    batcher = DynamicBatcher(max_wait_s=0.0)
    started = {}
    batcher.register("answer", lambda x: x)
    batcher.register(
        "heatmap",
        lambda x: started.setdefault("heatmap", time.monotonic()) and x,
        priority=1,
        after_quiet_s=0.2,
    )
    alone = time.monotonic()
    batcher("heatmap", np.zeros(1))  # nothing urgent came: runs at once
    assert started.pop("heatmap") - alone < 0.15
    for _ in range(3):
        batcher("answer", np.zeros(1))
    last_answer = time.monotonic()
    batcher("heatmap", np.zeros(1))
    assert started["heatmap"] - last_answer >= 3 * 0.2 - 0.02


def test_a_quiet_kind_waits_after_a_slow_urgent_request_was_answered_not_only_asked():
    # A prediction that takes longer than the quiet time: its answers still need the cores (the
    # browser draws them) once they are out, so the heatmaps wait from the answer on.
    batcher = DynamicBatcher(max_wait_s=0.0)
    times = {}

    def slow_answer(x):
        time.sleep(0.3)
        times["answered"] = time.monotonic()
        return x

    batcher.register("answer", slow_answer)
    batcher.register(
        "heatmap",
        lambda x: times.setdefault("heatmap", time.monotonic()) and x,
        priority=1,
        after_quiet_s=0.2,
    )
    answer = batcher.submit("answer", np.zeros(1))
    batcher("heatmap", np.zeros(1))
    answer.result(timeout=5)
    assert times["heatmap"] - times["answered"] >= 0.2 - 0.02


def test_close_cancels_what_is_queued_and_refuses_new_requests():
    batcher = DynamicBatcher(max_wait_s=0.0)
    fn, calls, release = _gate()
    batcher.register("f", fn)
    running = batcher.submit("f", np.array([1.0]))
    calls.wait_for_first()
    queued = batcher.submit("f", np.array([2.0]))
    closer = threading.Thread(target=batcher.close)
    closer.start()
    for _ in range(500):  # until close() has emptied the queue, while the worker is still busy
        if queued.cancelled():
            break
        time.sleep(0.01)
    release.set()
    closer.join(timeout=10)
    assert running.result(timeout=1).tolist() == [10.0], "the batch in progress finished"
    assert queued.cancelled()
    with pytest.raises(Busy, match="shutting down"):
        batcher.submit("f", np.array([3.0]))


def test_warm_up_traces_grad_cam_before_any_request_not_in_the_worker():
    shared = SharedPredictor(Predictor({"m": _tiny_model(4)}), DynamicBatcher(max_wait_s=0.0))
    shared.warm_up()
    assert "m" in shared._cams, "the warmed-up explainer is the one the worker will use"
    assert shared.batcher.batches == [], "tracing never occupied the batching worker"
    images = np.random.default_rng(1).random((2, 32, 32, 3), dtype=np.float32)
    expected = shared._cams["m"](images, np.array([2, 5])).heatmaps
    np.testing.assert_allclose(shared.gradcam("m", images, [2, 5]), expected, atol=1e-6)


def test_a_closed_batcher_and_its_models_can_be_freed():
    import gc
    import weakref

    model = _tiny_model(5)
    shared = SharedPredictor(Predictor({"m": model}), DynamicBatcher(max_wait_s=0.0))
    shared.predict_each(np.zeros((1, 32, 32, 3), np.float32))  # the worker thread is running
    gone = weakref.ref(shared.batcher)
    shared.batcher.close()
    del shared
    gc.collect()
    assert gone() is None, "nothing (the exit hook included) keeps a closed batcher alive"
