"""Fast-start copies against the traced TensorFlow graphs, model by model, and what a warm
process holds with and without them.

    python -m core.fast_start          # once: the copies
    python bench/fast_start.py [--calls 15]

Prints, per model: seconds to load its copy and answer once (LiteRT, no TensorFlow), and the
median milliseconds for one 32x32 image through the copy and through the traced graph. Then,
in a fresh process each, the warm-up of every model (core.serving.warming) with the copies
and without them (CIFAR10_STUDIO_FAST_START=0): seconds until every model answers and until
the warm-up ends, the resident memory afterwards, and which copies went on answering.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.serving import fast_start  # noqa: E402
from core.store.catalog import list_models  # noqa: E402

WARM_UP = """
import json, re, sys, time
started = time.perf_counter()
from core.serving import warming
from core.store.catalog import list_models
names = list_models(None)
loading = warming.start(names, "artifacts")
while len(loading.shared.models) < len(names) and not loading.done():
    time.sleep(0.01)
answering = time.perf_counter() - started
shared, failures = loading.result(timeout=600)
status = open("/proc/self/status").read()
print(json.dumps({
    "all_answer_s": answering,
    "warm_s": time.perf_counter() - started,
    "rss_mb": int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)) // 1024,
    "copies_answering": [n for n in shared.models if shared.predictor.answers_with_copy(n)],
    "failures": failures,
}))
shared.batcher.close()
"""


def median_ms(fn, x: np.ndarray, calls: int) -> float:
    fn(x)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def per_model(calls: int) -> None:
    x = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    copies = {}
    for name in list_models(None):
        started = time.perf_counter()
        copy = fast_start.load(name)
        if copy is None:
            print(f"{name}: no copy (python -m core.fast_start)")
            continue
        copy(x)
        copies[name] = (copy, time.perf_counter() - started)
    from core.serving.predictor import compiled
    from core.store import artifacts

    for name, (copy, ready_s) in copies.items():
        graph = compiled(artifacts.Artifact(name).load_model())
        print(
            f"{name}: copy ready in {ready_s:.2f} s; one image {median_ms(copy, x, calls):.1f} ms "
            f"through the copy, {median_ms(graph, x, calls):.1f} ms through the traced graph",
            flush=True,
        )


def warm_up(copies: bool) -> dict:
    env = {**os.environ, fast_start.FAST_START_ENV: "1" if copies else "0"}
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", WARM_UP], cwd=root, env=env, capture_output=True, text=True
    )
    lines = [line for line in out.stdout.splitlines() if re.match(r"^\{", line)]
    if out.returncode or not lines:
        raise SystemExit(f"the warm-up failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=15)
    args = parser.parse_args()
    per_model(args.calls)
    for copies in (True, False):
        r = warm_up(copies)
        print(
            f"warm-up {'with' if copies else 'without'} copies: every model answers after "
            f"{r['all_answer_s']:.1f} s, warm after {r['warm_s']:.1f} s, {r['rss_mb']} MB "
            f"resident; copies still answering: {', '.join(r['copies_answering']) or 'none'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
