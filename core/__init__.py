"""The CIFAR-10 studio's engine: data, models, training, evaluation and prediction."""

import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

# The checkout: artifacts/, bench/ and the dashboard sit beside core/.
REPO_ROOT = Path(__file__).resolve().parent.parent

# TensorFlow turns its oneDNN kernels on only for CPUs it recognises (recent Intel ones); on
# this AMD machine they were off, and turning them on trains Model 2 1.7x faster
# (bench: 72 -> 120 images/s). Must be set before TensorFlow is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _quietly(run) -> None:
    """``run()`` with file descriptor 2 closed: TensorFlow's C++ start-up (absl, oneDNN, CUDA
    probing: "E0000 ... cuInit" on a machine without a GPU) writes straight to it, which
    neither TF_CPP_MIN_LOG_LEVEL nor Python's logging silences. (``core.io.quiet`` does the
    same for the layers; the package root imports no layer.)"""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        run()
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Makes TensorFlow's first import, and its device probe, quiet (``_quietly``), whenever a
    command first needs it: commands that never do (``core.serve``'s launcher, a refused
    argument) start in a second, not six, and do not hold its 700 MiB."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders locate it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            _quietly(lambda: (load(module), module.config.list_physical_devices()))
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)

        spec.loader.exec_module = exec_module
        return spec


# `python -m core.<cli>` (runpy imports this package while argv[0] is still "-m"): the command
# lines print only their own output unless --verbose.
if sys.argv[:1] == ["-m"] and "--verbose" not in sys.argv and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlowImport())
