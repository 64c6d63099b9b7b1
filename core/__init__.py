"""The CIFAR-10 studio's engine: data, models, training, evaluation and prediction."""

import os
import sys
from pathlib import Path

# The checkout: artifacts/, bench/ and the dashboard sit beside core/.
REPO_ROOT = Path(__file__).resolve().parent.parent

# TensorFlow turns its oneDNN kernels on only for CPUs it recognises (recent Intel ones); on
# this AMD machine they were off, and turning them on trains Model 2 1.7x faster
# (bench: 72 -> 120 images/s). Must be set before TensorFlow is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and find its devices with stderr closed: its C++ start-up (absl,
    oneDNN, CUDA probing: "E0000 ... cuInit" on a machine without a GPU) writes straight to
    file descriptor 2, which neither TF_CPP_MIN_LOG_LEVEL nor Python's logging silences."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


# `python -m core.<cli>` (runpy imports this package while argv[0] is still "-m"): the command
# lines print only their own output unless --verbose.
if sys.argv[:1] == ["-m"] and "--verbose" not in sys.argv:
    _import_tensorflow_quietly()
