"""Answers per second through nginx for 1, 2 and 3 replicas, without browsers.

    python bench/nginx_capacity.py [--replicas 1,2,3] [--sessions 6] [--uploads 5]

For each replica count: ``core.serving.cluster.Cluster`` (the code behind `python -m core.serve`)
starts that many warm viewer replicas on the shipped artifacts behind nginx; --sessions
browser-free Streamlit sessions (``bench/streamlit_client.py``: the Live page's own protocol,
each with its own cookies, so nginx's route cookie keeps it on one replica) then upload
--uploads CIFAR-10 test images each, all sessions at once, each upload after the previous one's
page run has ended (Grad-CAM heatmaps included, as in a browser). An answer is one upload with
every model's result box back. Prints answers per second over the busy time, the p50 and p95
seconds from an upload to its last model's box, how many replicas answered, and each replica's
resident memory (VmRSS) once warm and after the load.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from replica_capacity import memory_mb  # noqa: E402
from streamlit_client import LiveSession  # noqa: E402

from core.serving.cluster import Cluster  # noqa: E402
from core.serving.replicas import free_port  # noqa: E402
from core.store.catalog import list_models  # noqa: E402
from core.store.samples import load_test_images  # noqa: E402


def photos(count: int) -> list[bytes]:
    """``count`` shipped test images as PNG files (the models' own kind of image)."""
    images = load_test_images().images
    out = []
    for image in images[:count]:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def load(url: str, sessions: int, uploads: int, models: int) -> dict:
    files = photos(sessions * uploads)
    opened = [LiveSession(url) for _ in range(sessions)]
    latencies: list[float] = []
    replicas: set[str] = set()
    errors: list[str] = []
    barrier = threading.Barrier(sessions)

    def one(i: int, session: LiveSession) -> None:
        barrier.wait()
        for j in range(uploads):
            try:
                photo = files[i * uploads + j]
                answer = session.upload(f"s{i}_{j}.png", photo, models, "image/png")
            except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if len(answer.models) < models:
                errors.append(f"{len(answer.models)} of {models} models answered")
            latencies.append(answer.seconds)
            replicas.add(answer.replica)

    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(opened)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    busy = time.perf_counter() - started
    for s in opened:
        s.close()
    latencies.sort()
    return {
        "answers": len(latencies),
        "per_second": len(latencies) / busy,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[max(0, int(np.ceil(0.95 * len(latencies))) - 1)]
        if latencies
        else float("nan"),
        "replicas": sorted(r for r in replicas if r),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--uploads", type=int, default=5)
    args = parser.parse_args()
    models = len(list_models())
    rows = []
    for n in [int(x) for x in args.replicas.split(",")]:
        cluster = Cluster(n, free_port(), log=lambda line: None)
        started = time.perf_counter()
        try:
            cluster.start()
            warm_s = time.perf_counter() - started
            pids = {name: r.proc.pid for name, r in cluster.replicas.items()}
            warm_mb = {name: memory_mb(proc=f"/proc/{pid}") for name, pid in pids.items()}
            result = load(cluster.url, args.sessions, args.uploads, models)
            after_mb = {name: memory_mb(proc=f"/proc/{pid}") for name, pid in pids.items()}
        finally:
            cluster.stop()
        rows.append((n, warm_s, result, warm_mb, after_mb))
        print(
            f"{n} replica(s): warm behind nginx in {warm_s:.1f} s; {result['answers']} answers "
            f"({args.sessions} sessions x {args.uploads}) at {result['per_second']:.2f}/s, "
            f"p50 {result['p50']:.2f} s, p95 {result['p95']:.2f} s; answered by "
            f"{', '.join(result['replicas']) or '?'}; resident MB warm "
            f"{', '.join(f'{v:.0f}' for v in warm_mb.values())}, after "
            f"{', '.join(f'{v:.0f}' for v in after_mb.values())}; "
            f"{len(result['errors'])} errors {result['errors'][:3]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
