"""Where a fresh server's warm-up goes, model by model: reading the model file, checking it
against its stored predictions, tracing its prediction graph, tracing its Grad-CAM graph.

    python bench/warm_up.py [--artifacts DIR] [--verify 8]

The steps of the dashboard's warm-up (``core.serving.warming``), in its order (smallest model
first), each timed on its own in one fresh process; the check runs eagerly here
(``Artifact.verify_model``), as the warm-up did before it checked through the traced graph.
Prints a table (seconds) and the total; TensorFlow's import is timed first.
"""

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", default=None)
    parser.add_argument("--verify", type=int, default=8, help="test images the check runs")
    args = parser.parse_args()

    started = time.perf_counter()
    import tensorflow  # noqa: F401

    from core.analysis.gradcam import GradCam
    from core.models.graph import compiled
    from core.serving.predictor import order_for_warm_up
    from core.store import artifacts
    from core.store.catalog import list_models
    from core.store.samples import load_test_images

    print(f"import TensorFlow: {time.perf_counter() - started:.1f} s")
    samples = load_test_images(args.artifacts)
    probe = np.zeros((1, 32, 32, 3), np.float32)
    rows, total = [], 0.0
    for name in order_for_warm_up(list_models(args.artifacts), args.artifacts):
        art = artifacts.Artifact(name, args.artifacts)
        if not art.status().ready:
            continue
        times = {}
        t = time.perf_counter()
        model = art.load_model()
        times["load"] = time.perf_counter() - t
        t = time.perf_counter()
        if args.verify:
            art.verify_model(model, samples.images[: args.verify])
        times["verify"] = time.perf_counter() - t
        t = time.perf_counter()
        compiled(model)(probe)
        times["predict trace"] = time.perf_counter() - t
        t = time.perf_counter()
        with contextlib.suppress(ValueError):  # a model without Grad-CAM
            GradCam.for_model(name, model)(probe, 0)
        times["Grad-CAM trace"] = time.perf_counter() - t
        rows.append((name, times))
        total += sum(times.values())
        print(f"{name:<30}" + "".join(f"{k} {v:5.1f}  " for k, v in times.items()), flush=True)
    print(f"total over the models: {total:.1f} s (the machine's load included)")


if __name__ == "__main__":
    main()
