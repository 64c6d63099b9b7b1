"""core.serving.background: the dashboard's models load in a thread while the first page shows."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.serving.background import Stopped, checkpoint, in_background, stop_all

ROOT = Path(__file__).resolve().parent.parent


def test_work_runs_at_once_in_another_thread_and_its_result_waits_for_it():
    release, seen = threading.Event(), []

    def work():
        seen.append(threading.current_thread())
        assert release.wait(timeout=10)
        return 42

    future = in_background(work, name="probe")
    assert not future.done()  # still waiting for release: the caller was not held up
    release.set()
    assert future.result(timeout=10) == 42
    assert seen[0] is not threading.current_thread() and seen[0].daemon


def test_an_error_in_the_work_reaches_whoever_waits():
    future = in_background(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result(timeout=10)


def test_work_stops_at_its_next_checkpoint_when_asked():
    steps = []

    def work():
        while True:
            checkpoint()
            steps.append(1)
            time.sleep(0.01)

    future = in_background(work, name="stoppable")
    time.sleep(0.1)
    assert stop_all(timeout_s=5) == []
    with pytest.raises(Stopped):
        future.result(timeout=1)
    assert steps  # it ran until asked


def test_a_long_step_without_checkpoints_is_stopped_inside_it():
    """A step that never reaches a checkpoint (like tracing a big graph) is stopped within it."""

    def work():
        ends = time.monotonic() + 60
        while time.monotonic() < ends:  # Python work, no checkpoint
            sum(range(1000))
        return "finished"

    future = in_background(work, name="long step")
    time.sleep(0.1)
    started = time.monotonic()
    assert stop_all(timeout_s=5) == []
    assert time.monotonic() - started < 3
    with pytest.raises(Stopped):
        future.result(timeout=1)


def test_a_checkpoint_outside_background_work_does_nothing():
    checkpoint()  # the command line calls the same loaders: no background thread, no stop


# Background work tracing TensorFlow graphs (as the warm-up does) when the interpreter exits.
# Left running, the daemon thread is ended by the interpreter inside TensorFlow's C++ code, which
# aborts the process ("terminate called without an active exception", exit -6) or segfaults it:
# measured 4 of 6 exits without the stop at exit, 0 of 6 with it.
EXITING_DURING_TF_WORK = """
import sys
import time
import numpy as np
import tensorflow as tf
from core.serving.background import checkpoint, in_background

def work():
    x = tf.constant(np.random.default_rng(0).random((8, 64), np.float32))
    i = 0
    while True:
        checkpoint()
        i += 1
        graph = tf.function(lambda a, i=i: tf.nn.relu(tf.matmul(a, tf.transpose(a)) * float(i)))
        graph(x)

in_background(work, name="tensorflow work")
time.sleep(float(sys.argv[1]))
print("main thread done", flush=True)
"""


def test_the_process_exits_cleanly_while_background_work_traces_graphs():
    for seconds in ("1.0", "2.0"):  # each exit without the stop crashed with p = 4/6
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", EXITING_DURING_TF_WORK, seconds],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONFAULTHANDLER": "1"},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "main thread done" in result.stdout and "still running" not in result.stderr
        assert time.monotonic() - started < 60


# Background work importing Keras when the process exits: stopped only among the interpreter's
# atexit hooks, the import finished there and h5py's own exit hook, registered too late, never
# ran; HDF5's C exit handler then called into the finalized interpreter (segfault, 3 of 3).
EXITING_DURING_IMPORT = """
import time
from core.serving.background import checkpoint, in_background

def work():
    import keras  # imports h5py, which registers an exit hook of its own
    checkpoint()

in_background(work, name="importing keras")
time.sleep(0.3)
print("main thread done", flush=True)
"""


def test_the_process_exits_cleanly_while_background_work_imports_keras():
    result = subprocess.run(
        [sys.executable, "-c", EXITING_DURING_IMPORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONFAULTHANDLER": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "main thread done" in result.stdout and "still running" not in result.stderr
