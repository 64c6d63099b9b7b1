"""One ``tf.function`` per model and input signature, whose traces TensorFlow counts as its own.

TensorFlow's "N out of the last N calls to ... triggered tf.function retracing" warning counts
traces per Python code object, not per ``tf.function``. The six shipped models' prediction
graphs were all made from one lambda (and their Grad-CAM graphs from one method), so each model
traced once and TensorFlow read it as one function traced six times: two warning blocks per
command. Built here, each model's graph keeps its own count, and the warning speaks only when
that graph really traces again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import tensorflow as tf


def traced(fn: Callable, input_signature: Sequence[tf.TensorSpec]) -> Callable:
    """``fn`` as a ``tf.function`` with ``input_signature``: traced once, on its first call.

    TensorFlow keys its trace counts by ``fn.__code__`` (shared by every closure of one
    lambda and every instance's bound method); a ``functools.partial`` has no ``__code__``, so
    the key is this wrapper, one per call of ``traced``.
    """
    return tf.function(functools.partial(fn), input_signature=list(input_signature))
