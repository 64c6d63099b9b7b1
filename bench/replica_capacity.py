"""What one dashboard replica holds: memory per loaded model and answers per second.

    python bench/replica_capacity.py [--threads 8] [--per-thread 25]

In one fresh process, as the dashboard does it (``core.serving.predictor``):
1. resident memory (VmRSS) after importing TensorFlow and ``core``, then after loading each ready
   model, running it once (its compiled graph traced) and tracing its Grad-CAM graph;
2. answers per second: --threads threads (sessions) each classify --per-thread 800x600 JPEGs
   through ``core.serving.classify.classify_files`` (decoding included), all at once, first each
   with its own model calls (``Predictor``, the dashboard's path before issue 15), then through the
   shared batching worker (``SharedPredictor``). An answer is one image through every model.
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def memory_mb(field: str = "VmRSS", proc: str | Path = "/proc/self") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), from ``proc``'s status
    (this process by default; ``/proc/<pid>`` for another)."""
    for line in (Path(proc) / "status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))
    buf = io.BytesIO()
    small.resize((800, 600), Image.Resampling.BICUBIC).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def answers_per_second(predictor, uploads: list[list[tuple[str, bytes]]]) -> tuple[float, list]:
    """(answers per second, seconds each classify_files call took) with one thread per session."""
    from core.serving.classify import classify_files

    barrier = threading.Barrier(len(uploads))
    latencies = []

    def session(files):
        barrier.wait()
        for file in files:
            start = time.perf_counter()
            (result,) = classify_files(predictor, [file])
            latencies.append(time.perf_counter() - start)
            assert result.top and not result.failed, result

    threads = [threading.Thread(target=session, args=(files,)) for files in uploads]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(map(len, uploads)) / (time.perf_counter() - start), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=25)
    args = parser.parse_args()

    base = memory_mb()
    from core.analysis.gradcam import GradCam
    from core.models.registry import REGISTRY
    from core.serving.predictor import Predictor, SharedPredictor, compiled
    from core.store import artifacts

    imported = memory_mb()
    print(f"python {base:.0f} MB; after importing TensorFlow and core {imported:.0f} MB")
    models, before = {}, imported
    probe = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    for name in REGISTRY:
        art = artifacts.Artifact(name)
        if not art.status().ready:
            continue
        model = art.load_model()
        compiled(model)(probe)
        GradCam.for_model(name, model)(probe, 0)
        models[name] = model
        now = memory_mb()
        size = sum(f.stat().st_size for f in art.path.glob("*.keras")) / 2**20
        print(f"  {name}: +{now - before:.0f} MB resident (model file {size:.1f} MB)")
        before = now
    print(f"all {len(models)} models loaded: {before:.0f} MB resident")

    predictor = Predictor(models)
    uploads = [
        [(f"{t}_{i}.jpg", jpeg(1000 * t + i)) for i in range(args.per_thread)]
        for t in range(args.threads)
    ]
    answers_per_second(predictor, [files[:2] for files in uploads])  # warm-up
    own, own_s = answers_per_second(predictor, uploads)
    shared = SharedPredictor(predictor)
    answers_per_second(shared, [files[:2] for files in uploads])  # warm-up
    batched, batched_s = answers_per_second(shared, uploads)
    merged = [rows for kind, rows in shared.batcher.batches if kind == shared.PREDICT]
    print(
        f"{args.threads} sessions x {args.per_thread} uploads: {own:.1f} answers/s with each "
        f"session's own model calls, {batched:.1f} answers/s through the shared batcher "
        f"(mean batch {np.mean(merged):.1f} images)"
    )
    for label, times in (("own model calls", own_s), ("shared batcher", batched_s)):
        ms = np.percentile(times, [50, 95, 100]) * 1000
        print(
            f"  one upload's answer, {label}: p50 {ms[0]:.0f} ms, p95 {ms[1]:.0f}, max {ms[2]:.0f}"
        )
    print(f"peak resident memory: {memory_mb('VmHWM'):.0f} MB")
    shared.batcher.close()


if __name__ == "__main__":
    main()
