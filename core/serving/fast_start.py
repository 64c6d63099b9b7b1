"""Fast-start copies: each Keras model converted once to a TensorFlow Lite file, so that a fresh
server answers with every model seconds after it starts.

A fresh server's sixth answer came 32 s after its start here (bench/README.md): importing
TensorFlow (4-7 s), then loading each Keras model and tracing its graph (ResNet50 alone 4-5 s),
one at a time because that work holds Python's GIL. A ``.tflite`` copy runs in LiteRT
(``ai_edge_litert``: no TensorFlow import) and is ready in about a second, ResNet50 included.
The warm-up (``core.serving.warming``) answers with the copies first and, in the background,
loads the Keras models as before, for Grad-CAM. A copy goes on answering where it is clearly
faster than the traced TensorFlow graph, else the graph takes over and the copy's memory is
freed (``release_memory``); so does the graph of the model whose penultimate features give the
unfamiliar-image score, which only the graph gives.

Where OpenVINO is installed, each copy is also saved in its form (``.xml`` and ``.bin``) and runs
there, in float32: ResNet50's six views, VGG16 and Model 2 answer 1.3-1.7x as fast as their
TensorFlow graphs, and the Live page's upload-to-answers time drops by about 0.08 s
(bench/README.md). The small models' copies are faster than their graphs in either runtime
(TensorFlow's per-call overhead). ``$CIFAR10_STUDIO_OPENVINO=0`` keeps the copies in LiteRT.

    python -m core.fast_start            # every ready Keras model, once (ResNet50: ~1 min)

It also makes a copy of the unfamiliar-image gate's ImageNet network (``build_gate``, named by
the sha256 of its weights file), which every upload runs: 6 ms an upload instead of 27 here.

A server that finds copies missing makes them itself once warm, in a child process at the lowest
CPU priority (``build_in_background``): its next start is fast.

A copy is named by the sha256 of the model file it was made from, under the cache folder
(``~/.cache/cifar10-studio/fast-start/``, moved by ``$CIFAR10_CACHE``): a retrained or replaced
model never meets an old copy, and read-only artifacts (a cluster's volume) work too. Before it
answers, a copy must reproduce its artifact's stored test predictions, as the Keras model must.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from core import REPO_ROOT
from core.data.cifar10 import default_cache_dir
from core.io.atomic import write_bytes
from core.io.digest import file_sha256
from core.io.quiet import stderr_closed
from core.store import artifacts

FAST_START_ENV = "CIFAR10_STUDIO_FAST_START"  # 0: never answer with a copy, nor make one
OPENVINO_ENV = "CIFAR10_STUDIO_OPENVINO"  # 0: copies run in LiteRT only
FOLDER = "fast-start"
SUFFIX = ".tflite"
IR_SUFFIX = ".xml"  # the copy in OpenVINO's form, its weights in a .bin of the same name
# Threads per copy: the copies answer one at a time (each behind the predictor's lock), as the
# Keras graphs do, on this 2-core machine's both cores.
THREADS = os.cpu_count() or 1


def cache_dir() -> Path:
    return default_cache_dir() / FOLDER


def build_log() -> Path:
    """The log of the copies made in the background (``build_in_background``)."""
    return cache_dir() / "build.log"


def copy_path(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """Where the fast-start copy of artifact ``name``'s model file goes; None when it has none
    (no Keras model file: an added TFLite model is loaded without TensorFlow's tracing)."""
    path = artifacts.Artifact(name, root).model_path
    if path.name != artifacts.MODEL_FILE or not path.is_file():
        return None
    return cache_dir() / f"{file_sha256(path)}{SUFFIX}"


def gate_copy_path(gate: str, size: int) -> Path | None:
    """Where the copy of the unfamiliar-image gate's ImageNet network ``gate`` at ``size`` px
    goes, named by the sha256 of its weights file; None when that file is not there."""
    from core.analysis.imagenet_gate import weights_file

    try:
        weights = weights_file(gate)
    except FileNotFoundError:
        return None
    if not weights.is_file():
        return None
    return cache_dir() / f"gate-{gate}-{size}-{file_sha256(weights)}{SUFFIX}"


def openvino_path(copy: Path) -> Path:
    """Where the OpenVINO form of the ``.tflite`` copy at ``copy`` goes."""
    return copy.with_suffix(IR_SUFFIX)


def openvino_enabled() -> bool:
    return os.environ.get(OPENVINO_ENV, "1") != "0" and find_spec("openvino") is not None


class FastCopy:
    """A model's ``.tflite`` copy with the predictor's graph contract: (N, 32, 32, 3) floats in
    [0, 1] -> (N, 10) probabilities. Not thread-safe: the predictor calls it under its lock.

    It runs in OpenVINO where its OpenVINO form was made (``build``): ResNet50's six views
    and VGG16 answered 1.5x as fast as in LiteRT and 1.3-1.4x as fast as in TensorFlow here
    (bench/README.md). Else, or if that form does not open, in LiteRT.
    """

    fast_start = True  # ``Predictor.answers_with_copy``

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.runtime = "LiteRT"
        ir = openvino_path(self.path)
        if openvino_enabled() and ir.is_file():
            try:
                self._run = _openvino(ir)
                self.runtime = "OpenVINO"
                return
            except RuntimeError:  # a damaged form: the .tflite answers
                pass
        self._run = self._litert(self.path)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._run(np.ascontiguousarray(batch, dtype=np.float32))

    def _litert(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=THREADS)
        with stderr_closed():  # the first allocation announces the XNNPACK delegate on fd 2
            self._interpreter.allocate_tensors()
        details = self._interpreter.get_input_details()[0]
        self._input, self._rows = details["index"], int(details["shape"][0])
        self._output = self._interpreter.get_output_details()[0]["index"]
        return self._invoke

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._rows:  # a new batch size: the interpreter's tensors follow it
            self._interpreter.resize_tensor_input(self._input, list(batch.shape))
            self._interpreter.allocate_tensors()
            self._rows = len(batch)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)


def _openvino(ir: Path):
    """A function running the OpenVINO form at ``ir``: batch -> its first output."""
    import openvino as ov

    compiled = ov.Core().compile_model(
        str(ir),
        "CPU",
        {
            # f32: on CPUs with AMX or AVX-512 BF16 OpenVINO computes in bf16 by default, which
            # changes the probabilities (and the answers the stored metrics were measured on).
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": THREADS,
        },
    )
    request = compiled.create_infer_request()
    # A copy of the output: the request writes its next answer into the same buffer.
    return lambda batch: np.array(request.infer({0: batch})[0])


def _write_openvino(copy: Path) -> None:
    """The OpenVINO form of the ``.tflite`` at ``copy``, beside it. Its .bin is moved in place
    first and the .xml last, so that a form whose .xml is there is whole."""
    import openvino as ov

    ir = openvino_path(copy)
    with tempfile.TemporaryDirectory(prefix=".openvino-", dir=copy.parent) as work:
        draft = Path(work) / ir.name
        ov.save_model(ov.Core().read_model(str(copy)), str(draft), compress_to_fp16=False)
        os.replace(draft.with_suffix(".bin"), ir.with_suffix(".bin"))
        os.replace(draft, ir)


def _complete(copy: Path) -> bool:
    """Whether the copy at ``copy`` is made, in OpenVINO's form too where OpenVINO is there."""
    return copy.is_file() and (not openvino_enabled() or openvino_path(copy).is_file())


def _open(path: Path | None) -> FastCopy | None:
    """The copy at ``path``, or None: none made, no LiteRT, or a damaged file (then TensorFlow
    answers, as without copies)."""
    if path is None or not path.is_file():
        return None
    try:
        return FastCopy(path)
    except (ImportError, ValueError, RuntimeError):
        return None


def _tflite(model) -> bytes:
    """``model`` (Keras) converted to a TensorFlow Lite flatbuffer, through a SavedModel."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="fast-start-") as work:
        exported = Path(work) / "saved_model"
        model.export(str(exported), format="tf_saved_model", verbose=False)
        return tf.lite.TFLiteConverter.from_saved_model(str(exported)).convert()


def load(name: str, root: str | os.PathLike | None = None) -> FastCopy | None:
    """Artifact ``name``'s fast-start copy, if one was made from its current model file (and
    ``$CIFAR10_STUDIO_FAST_START`` is not 0)."""
    return _open(copy_path(name, root)) if enabled() else None


def build(name: str, root: str | os.PathLike | None = None) -> tuple[Path | None, bool]:
    """(the copy's path, whether it was made now): converts artifact ``name``'s Keras model
    unless its copy is there already; (None, False) for a model that has no Keras file.

    The file is written atomically (``core.io.atomic``), so a killed conversion leaves no copy
    that a server would load. Its OpenVINO form follows, made from the ``.tflite`` (where
    OpenVINO is installed)."""
    path = copy_path(name, root)
    if path is None or _complete(path):
        return path, False
    if not path.is_file():
        content = _tflite(artifacts.Artifact(name, root).load_model())
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, content)
    if openvino_enabled():
        _write_openvino(path)
    return path, True


def load_gate(gate: str, size: int) -> FastCopy | None:
    """The gate network's copy (``build_gate``), if made (and copies are not turned off)."""
    return _open(gate_copy_path(gate, size)) if enabled() else None


# The copy must give the network's probabilities to this much (LiteRT's float32 kernels differ
# from oneDNN's in rounding only: 1e-6 here); it is checked once, when it is made.
GATE_TOLERANCE = 1e-4


def build_gate(gate: str, size: int) -> tuple[Path | None, bool]:
    """(the copy's path, whether it was made now) of the unfamiliar-image gate's ImageNet
    network: it answers an upload 4x as fast as the traced graph (bench/README.md). Raises
    ``ValueError`` when the converted network does not reproduce the Keras one."""
    path = gate_copy_path(gate, size)
    if path is None or path.is_file():
        return path, False
    from core.analysis.imagenet_gate import build_gate as build_network

    network = build_network(gate, size)
    content = _tflite(network)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fast-start-") as work:
        draft = Path(work) / "gate.tflite"
        draft.write_bytes(content)
        probe = np.random.default_rng(0).random((2, size, size, 3), dtype=np.float32)
        answer = FastCopy(draft)(probe)
        gap = float(np.abs(answer - network(probe, training=False)).max())
    if gap > GATE_TOLERANCE:
        raise ValueError(f"the converted gate differs from its network by {gap:.1e}")
    write_bytes(path, content)
    return path, True


def _gate_rule(root: str | os.PathLike | None):
    from core.analysis.imagenet_gate import Gate

    return Gate.load(root)


def enabled() -> bool:
    return os.environ.get(FAST_START_ENV, "1") != "0"


_builders: list[subprocess.Popen] = []


def build_in_background(names: list[str], root: str | os.PathLike | None = None):
    """Start ``python -m core.fast_start`` for those of ``names`` without a copy, in a child
    process at the lowest CPU priority, so that the server's next start is fast; the child is
    stopped if this process exits first. Returns the child, or None when nothing is missing."""
    if not enabled():
        return None
    missing = [n for n in names if (path := copy_path(n, root)) and not _complete(path)]
    rule = _gate_rule(root)
    gate_path = gate_copy_path(rule.model, rule.size) if rule is not None else None
    if not missing and (gate_path is None or gate_path.is_file()):
        return None
    command = [sys.executable, "-m", "core.fast_start", *missing, "--if-idle"]
    if root is not None:
        command += ["--artifacts", str(root)]
    # What it did (or why a model has no copy) goes to a log beside the copies, for operators.
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        log = open(build_log(), "a")  # noqa: SIM115 - the child writes it; closed below
    except OSError:
        log = subprocess.DEVNULL
    try:
        child = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log is not subprocess.DEVNULL:
            log.close()
    with contextlib.suppress(OSError):  # it ended already, or the system refuses
        os.setpriority(os.PRIO_PROCESS, child.pid, 19)
    _builders.append(child)
    return child


@atexit.register
def _stop_builders() -> None:
    for child in _builders:
        if child.poll() is None:
            child.terminate()


def release_memory() -> None:
    """Hand the memory of dropped copies back to the system (glibc keeps freed blocks)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc: this process reuses it
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import fcntl
    import functools
    import time

    from core.store.catalog import list_models

    parser = argparse.ArgumentParser(
        prog="python -m core.fast_start",
        description="Make the fast-start copies a fresh server answers with in seconds.",
    )
    parser.add_argument("models", nargs="*", help="artifact names (default: every ready one)")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument(
        "--if-idle",
        action="store_true",
        help="do nothing if another process is making copies (else wait for it)",
    )
    args = parser.parse_args(argv)
    ready = [
        n
        for n in list_models(args.artifacts)
        if artifacts.Artifact(n, args.artifacts).status().ready
    ]
    unknown = [n for n in args.models if n not in ready]
    if unknown:
        parser.exit(
            2,
            f"error: no ready artifact named {', '.join(unknown)} (ready: "
            f"{', '.join(ready) or 'none'})\n",
        )
    # One process converts at a time: replicas started together each ask for the copies.
    cache_dir().mkdir(parents=True, exist_ok=True)
    lock = open(cache_dir() / ".lock", "w")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | (fcntl.LOCK_NB if args.if_idle else 0))
    except BlockingIOError:
        print("another process is making fast-start copies; nothing done")
        return 0
    # (what, how to make its copy, why there is nothing to convert when there is not)
    steps = [
        (name, functools.partial(build, name, args.artifacts), "no Keras model file")
        for name in args.models or ready
    ]
    rule = _gate_rule(args.artifacts)
    if rule is not None:  # the unfamiliar-image gate's network, which every upload runs too
        what = f"unfamiliar-image gate ({rule.model}, {rule.size} px)"
        make = functools.partial(build_gate, rule.model, rule.size)
        steps.append((what, make, "its ImageNet weights are not installed"))
    failed = 0
    for name, make, nothing in steps:
        started = time.perf_counter()
        try:
            path, made = make()
        except Exception as exc:  # noqa: BLE001 - that model's Keras model answers, as before
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            print(f"{name}: no copy ({reason})", file=sys.stderr)
            failed += 1
            continue
        if path is None:
            print(f"{name}: {nothing}, nothing to convert")
        elif made:
            took = time.perf_counter() - started
            print(f"{name}: copy made in {took:.0f} s ({path.stat().st_size / 2**20:.1f} MiB)")
        else:
            print(f"{name}: copy already there")
    print(f"copies in {cache_dir()}")
    return 1 if failed else 0
