"""Peak memory of the dashboard's prediction path with 1 and with 8 concurrent sessions.

    python bench/sessions_memory.py

Each measurement runs in a fresh process: load every ready model once (``core.predict``'s
``Predictor``, as ``st.cache_resource`` does), then N threads each classify their own uploaded
image 20 times through ``core.classify.classify_files`` (the live page's code path), all at once.
Prints the process's peak resident memory (ru_maxrss) and the wall time.
"""

import subprocess
import sys
from pathlib import Path

CHILD = r"""
import io, resource, sys, threading, time
import numpy as np
from PIL import Image
from core.classify import classify_files
from core.predictor import Predictor

sessions = int(sys.argv[1])
predictor, _ = Predictor.from_artifacts()
uploads = []
for i in range(sessions):
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (30 * i, 255 - 30 * i, 90)).save(buf, "JPEG")
    uploads.append((f"{i}.jpg", buf.getvalue()))
classify_files(predictor, uploads[:1])
barrier = threading.Barrier(sessions)

def session(i):
    barrier.wait()
    for _ in range(20):
        classify_files(predictor, [uploads[i]])

start = time.perf_counter()
threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{sessions} session(s): models {sorted(predictor.models)}, peak RSS {peak_mb:.0f} MB, "
      f"{sessions * 20} classifications in {elapsed:.1f} s")
"""

ROOT = Path(__file__).resolve().parent.parent
for sessions in (1, 8):
    subprocess.run([sys.executable, "-c", CHILD, str(sessions)], check=True, cwd=ROOT)
