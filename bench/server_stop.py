"""How `streamlit run dashboard.py` stops: SIGTERM (or SIGINT) at delays spread over the warm-up.

    python bench/server_stop.py [--delays 0,2,4,6,8,10,12,14,17,20] [--signal TERM]

For each delay: a fresh server with the warm-up on, the Overview opened in Debian's Chromium
(which starts the models' warm-up once drawn), with --upload a photo uploaded on the Live page,
then the signal sent ``delay`` seconds later; prints the exit status and the seconds from the
signal to the exit (a server still running after --limit seconds is killed and counted as
hung). The servers run with ``PYTHONFAULTHANDLER=1``, so a crash prints every thread's Python
stack in the output saved to --logs.
"""

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_harness import CHROMIUM, CHROMIUM_ARGS, signal_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delays", default="0,2,4,6,8,10,12,14,17,20")
    parser.add_argument("--signal", default="TERM", choices=["TERM", "INT"])
    parser.add_argument("--limit", type=float, default=30.0, help="seconds before 'hung'")
    parser.add_argument("--logs", default=None, help="folder for each server's output")
    parser.add_argument("--upload", action="store_true", help="upload a photo on Live first")
    args = parser.parse_args()
    logs = Path(args.logs or tempfile.mkdtemp(prefix="server-stop-"))
    logs.mkdir(parents=True, exist_ok=True)
    sig = signal.Signals[f"SIG{args.signal}"]
    results = []
    image = None
    if args.upload:
        image = logs / "upload.png"
        Image.new("RGB", (64, 48), (30, 160, 60)).save(image)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for delay in [float(d) for d in args.delays.split(",")]:
            log = logs / f"server-{delay:g}s.log"
            status, took = signal_server(browser, delay, sig, log, args.limit, image)
            results.append((delay, status, took))
            print(
                f"SIG{args.signal} {delay:5.1f} s after the first page: exit {status}, "
                f"{took:.2f} s to stop  ({log.name})",
                flush=True,
            )
        browser.close()
    clean = sum(1 for _, s, t in results if s == 0 and t <= 10)
    print(f"{clean} of {len(results)} stops clean (status 0 within 10 s); logs in {logs}")


if __name__ == "__main__":
    main()
