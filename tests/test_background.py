"""core.serving.background: the dashboard's models load in a thread while the first page shows."""

import threading

import pytest

from core.serving.background import in_background


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
