"""One table for every shipped model: size, accuracy, throughput and latency.

    python bench/models.py --data PATH [--calls 200] [--models a,b] [--eval-images 10000]

Parameters are the network's (config.json: without the fixed test-time view maps). Accuracy
and macro F1 come from the artifact's metrics.json (test set). Throughput is model.predict
over the first ``--eval-images`` test images (all 10,000 by default; batch 500, after one
warm-up pass); latency is one image per call through ``core.serving.predictor.Predictor`` (the path
the dashboard uses), warm, median and 95th percentile over ``--calls`` calls.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.cifar10 import load_cifar10, scale  # noqa: E402
from core.models.registry import REGISTRY  # noqa: E402
from core.serving.predictor import Predictor  # noqa: E402
from core.store import artifacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="CIFAR-10 source (see README)")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    parser.add_argument("--eval-images", type=int, default=10_000)
    args = parser.parse_args()
    names = args.models.split(",") if args.models else list(REGISTRY)

    x_test = scale(load_cifar10(args.data, progress=False).x_test)[: args.eval_images]
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    header = (
        f"{'model':<28}{'params':>12}{'file MB':>9}{'accuracy':>10}{'F1 macro':>10}"
        f"{'eval img/s':>12}{'p50 ms':>9}{'p95 ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        art = artifacts.Artifact(name)
        status = art.status()
        if not status.ready:
            print(f"{name:<28}{status.state}: {status.reason}")
            continue
        model = art.load_model()
        metrics = art.metrics()
        model.predict(x_test[:500], batch_size=500, verbose=0)
        start = time.perf_counter()
        model.predict(x_test, batch_size=500, verbose=0)
        throughput = len(x_test) / (time.perf_counter() - start)

        predictor = Predictor({name: model})
        predictor.predict(x_test[:1])
        latencies = []
        for i in range(args.calls):
            start = time.perf_counter()
            predictor.predict(x_test[i : i + 1])
            latencies.append((time.perf_counter() - start) * 1000)
        size_mb = (art.path / artifacts.MODEL_FILE).stat().st_size / 2**20
        print(
            f"{name:<28}{art.config()['parameters']:>12,}{size_mb:>9.1f}{metrics['accuracy']:>10.4f}"
            f"{metrics['f1_macro']:>10.4f}{throughput:>12.0f}"
            f"{np.median(latencies):>9.1f}{np.percentile(latencies, 95):>9.1f}"
        )


if __name__ == "__main__":
    main()
