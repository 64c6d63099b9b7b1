"""Where a Live upload's server time goes: each model, the unfamiliar-image gate, the whole call.

    python bench/live_breakdown.py [--repeats 10]

Warms the models as the dashboard does (``core.serving.warming``: fast-start copies where they
answer faster), then times one 800x600 JPEG, the Live page's path: each model's graph on the
image's 32x32 input, the ImageNet gate on its own input, and ``classify_files`` through the
shared predictor (decoding, every model, the gate). Prints medians in milliseconds, then the
process's resident memory once warm (every model and Grad-CAM graph loaded, copies kept where
they answer).
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.models.registry import REGISTRY  # noqa: E402
from core.serving import warming  # noqa: E402
from core.serving.classify import classify_files  # noqa: E402
from core.store import artifacts  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # the first call may still allocate
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    names = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    shared, failures = warming.start(names, str(artifacts.artifacts_root())).future.result()
    if failures:
        print(f"not loaded: {failures}")
    predictor = shared.predictor
    photo = Image.fromarray((np.random.default_rng(0).random((600, 800, 3)) * 255).astype(np.uint8))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG")
    upload = [("photo.jpg", buffer.getvalue())]
    x = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    total = 0.0
    for name in predictor.order:
        if name not in predictor.models:
            continue
        ms = median_ms(lambda n=name: predictor.predict_one(n, x), args.repeats)
        total += ms
        how = "traced graph"
        if predictor.answers_with_copy(name):
            how = f"fast-start copy in {predictor.runtime(name)}"
        print(f"{name:30s} {ms:7.1f} ms  ({how})")
    if predictor.gate is not None:
        gate_x = predictor.gate.gate_input(photo)[None]
        ms = median_ms(lambda: predictor.gate.likeness(gate_x), args.repeats)
        total += ms
        how = "fast-start copy" if predictor.gate.runs_copy else "traced graph"
        print(f"{'unfamiliar-image gate':30s} {ms:7.1f} ms  ({how})")
    print(f"{'sum of the above':30s} {total:7.1f} ms")
    ms = median_ms(lambda: classify_files(shared, upload, 3), args.repeats)
    print(f"{'classify_files, whole upload':30s} {ms:7.1f} ms")
    resident = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]
    print(f"{'resident memory, warm':30s} {int(resident) / 2**20:7.2f} GiB")
    os._exit(0)  # the warm-up's background builders need not finish


if __name__ == "__main__":
    main()
