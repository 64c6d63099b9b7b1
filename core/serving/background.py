"""Work started now and waited for later: the dashboard loads its models while the first page
is read, so the Live page's answers need not wait for them.

Such work must also end before the interpreter does. A daemon thread still inside TensorFlow or
h5py when Python finalizes crashes the process (TensorFlow's thread pools are destroyed while
running: "terminate called without an active exception", or a segfault) or hangs it (finalizing
h5py objects waits for the lock the frozen thread holds). So every thread started here is asked
to stop at exit and joined before finalization: the work calls ``checkpoint()`` between its
steps (between models), which raises ``Stopped`` once the process is exiting. A step that
cannot reach its checkpoint in time (tracing ResNet50's six-view graph takes 7-9 s here) gets
``Stopped`` raised inside it, at its next Python instruction: tracing is Python code, so it
ends within milliseconds, and nothing it leaves half done outlives the exit.
"""

from __future__ import annotations

import atexit
import ctypes
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")

# Seconds the exit waits for background work to reach its next checkpoint before stopping it
# inside its step, and in all: the whole stop, Streamlit's own included, stays within 10 s.
CHECKPOINT_WAIT_S = 1.5
EXIT_WAIT_S = 6.0

_running: dict[threading.Thread, threading.Event] = {}
_lock = threading.Lock()


class Stopped(RuntimeError):
    """The process is exiting; the background work ended at a checkpoint."""


def in_background(work: Callable[[], T], name: str = "background") -> Future[T]:
    """Run ``work`` in a thread at once; the returned future holds its result or error.

    The thread is a daemon, so it never holds up the exit by itself; ``stop_all`` (run at exit)
    asks it to stop at its next ``checkpoint()`` and waits for it.
    """
    future: Future[T] = Future()
    stop = threading.Event()

    def run() -> None:
        try:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
        except Stopped:  # raised into this thread after the work had ended: nothing to stop
            pass
        finally:
            with _lock:
                _running.pop(threading.current_thread(), None)

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _lock:
        _running[thread] = stop
    thread.start()
    return future


def checkpoint() -> None:
    """Raise ``Stopped`` if this is background work and the process is exiting; else nothing
    (so code that calls it runs unchanged outside a background thread)."""
    with _lock:
        stop = _running.get(threading.current_thread())
    if stop is not None and stop.is_set():
        raise Stopped("stopped: the process is exiting")


def stop_all(timeout_s: float = EXIT_WAIT_S) -> list[str]:
    """Ask every background thread to stop at its next checkpoint; one that has not stopped
    after ``CHECKPOINT_WAIT_S`` gets ``Stopped`` raised inside its current step. Waits at most
    ``timeout_s`` in all; returns the names of the threads still running."""
    with _lock:
        running = list(_running.items())
    for _, stop in running:
        stop.set()
    deadline = time.monotonic() + timeout_s
    _join([t for t, _ in running], min(CHECKPOINT_WAIT_S, timeout_s))
    for thread in [t for t, _ in running if t.is_alive()]:
        _raise_in(thread, Stopped)
    _join([t for t, _ in running], deadline - time.monotonic())
    return [thread.name for thread, _ in running if thread.is_alive()]


def _join(threads: list[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


def _raise_in(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` in ``thread`` at its next Python instruction (CPython's documented
    ``PyThreadState_SetAsyncExc``; a thread inside C code gets it once back in Python)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type)
        )


def _stop_at_exit() -> None:
    left = stop_all()
    if left:
        print(f"warning: still running at exit: {', '.join(left)}", file=sys.stderr)


# Run before the interpreter's atexit hooks, not among them: work stopped there may still be
# importing Keras, and h5py registers its own exit hook at import (it unregisters h5py's type
# converters from HDF5). A hook registered while the hooks run is never run, and HDF5's C exit
# handler then calls into the finalized interpreter: a segfault (gdb: H5_term_library ->
# h5py _conv pyref2objref -> PyGILState_Ensure). threading's exit hooks run first, as
# concurrent.futures' do.
_register_before_atexit = getattr(threading, "_register_atexit", atexit.register)
_register_before_atexit(_stop_at_exit)
