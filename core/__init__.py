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


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Makes TensorFlow's first import, and its device probe, quiet, whenever a command first
    needs it: commands that never do (``core.serve``'s launcher, a refused argument) start in
    a second, not six, and do not hold its 700 MiB."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders locate it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            from core.io.quiet import stderr_closed

            # TensorFlow's C++ start-up (absl, oneDNN, CUDA probing: "E0000 ... cuInit" without
            # a GPU) writes straight to fd 2, past TF_CPP_MIN_LOG_LEVEL and Python's logging.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            with stderr_closed():
                load(module)
                module.config.list_physical_devices()
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)

        spec.loader.exec_module = exec_module
        return spec


# `python -m core.<cli>` (runpy imports this package while argv[0] is still "-m"): the command
# lines print only their own output unless --verbose.
if sys.argv[:1] == ["-m"] and "--verbose" not in sys.argv and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlowImport())
