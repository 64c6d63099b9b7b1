"""Work started now and waited for later: the dashboard loads its models while the first page
is read, so the Live page's answers need not wait for them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def in_background(work: Callable[[], T], name: str = "background") -> Future[T]:
    """Run ``work`` in a daemon thread at once; the returned future holds its result or error.

    A daemon thread, unlike an executor's worker, does not hold up the server's exit.
    """
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
