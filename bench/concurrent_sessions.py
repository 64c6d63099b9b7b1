"""Many people at once: N real Chromium sessions upload a photo to one dashboard at the same moment.

    python bench/concurrent_sessions.py [--sessions 8] [--rounds 3] [--alone 5]

One `streamlit run dashboard.py` (a fresh server), one headless Chromium (Debian's, driven by
Playwright's async API) with N isolated browser contexts, each its own Streamlit session on the
Live classification page. Each round, every session uploads its own image in the same instant
and the clock stops, per session, when every ready model's prediction is drawn on its page.
Before the rounds, one session alone uploads --alone times (the single-user time).

Prints per round the slowest and median answer, then the single-user median, the server
process's peak resident memory (VmHWM) and answers per second of the busiest round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from replica_capacity import memory_mb  # noqa: E402

from core.models.registry import REGISTRY  # noqa: E402
from core.store import artifacts
from tests.browser_harness import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

SETTLED = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


async def open_live_page(browser, url: str, gradcam: bool):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{url}/live")
    await settle(page, gradcam)
    return page


async def settle(page, gradcam: bool) -> None:
    """Wait for the page's script run to end; switch Grad-CAM off (it is on in a new session)."""
    await page.wait_for_selector("h1", timeout=180_000)
    await page.wait_for_function(SETTLED, timeout=180_000)
    if not gradcam:
        await page.get_by_text("Grad-CAM heatmaps").click()
        await page.wait_for_function(SETTLED, timeout=180_000)


# Resolves once the page shows ``name``'s heading and, for every title, a prediction box
# ("<title>: <class>" over its bars). Checked on DOM changes (a MutationObserver): Playwright's
# own waits poll on every animation frame, which makes 8 waiting tabs repaint continuously and
# takes the CPU the server needs.
ANSWERED = """([name, titles]) => new Promise(resolve => {
  const done = () => {
    const headings = [...document.querySelectorAll('h1, h2, h3')].map(h => h.innerText.trim());
    if (!headings.includes(name)) return false;
    const boxes = [...document.querySelectorAll('[class*="st-key-pred_"]')];
    return titles.every(t => boxes.some(b => b.innerText.includes(t + ': ')
      && b.querySelector('.studio-answer')));
  };
  if (done()) return resolve(true);
  const observer = new MutationObserver(() => {
    if (done()) { observer.disconnect(); resolve(true); }
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
})"""


async def upload_and_wait(page, image: Path, titles: list[str]) -> float:
    """Seconds from choosing ``image`` to every model's prediction box drawn for it."""
    start = time.perf_counter()
    await page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        str(image)
    )
    await asyncio.wait_for(page.evaluate(ANSWERED, [image.name, titles]), timeout=180)
    return time.perf_counter() - start


async def clear(page, gradcam: bool) -> None:
    """Reload the page (a new upload on a fresh page, as in bench/browser_timing.py)."""
    await page.reload()
    await settle(page, gradcam)


def photo(path: Path, seed: int) -> Path:
    """A distinct 800x600 JPEG per session: smooth colour field plus noise, like a photo's size."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((800, 600), Image.Resampling.BICUBIC)
    noisy = np.asarray(image, dtype=np.int16) + rng.integers(-20, 21, size=(600, 800, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def server_process(port: int) -> Path | None:
    """/proc/<pid> of the `streamlit run` process serving ``port`` (Linux)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmdline) and str(port).encode() in cmdline:
            return proc
    return None


def cpu_seconds(proc: Path | None = None) -> float:
    """User + system CPU seconds used so far by ``proc``, or by the whole machine."""
    if proc is None:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4))  # not idle/iowait
        return busy / os.sysconf("SC_CLK_TCK")
    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSplit:
    """CPU seconds of the server and of everything else (Chromium, mostly) between two marks."""

    def __init__(self, server: Path):
        self.server, self.totals, self._start = server, {"server": 0.0, "other": 0.0}, None

    def start(self) -> None:
        self._start = cpu_seconds(self.server), cpu_seconds()

    def stop(self) -> None:
        server, machine = cpu_seconds(self.server), cpu_seconds()
        self.totals["server"] += server - self._start[0]
        self.totals["other"] += (machine - self._start[1]) - (server - self._start[0])

    def per(self, n: int) -> str:
        return f"server {self.totals['server'] / n:.2f}, the rest {self.totals['other'] / n:.2f}"


def report(args, titles, alone, alone_cpu, rounds, cpu, memory: float) -> None:
    slowest = [max(t) for t in rounds]
    print(f"models shown: {', '.join(titles)}")
    print(
        f"one session alone: median {statistics.median(alone):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in alone)})"
    )
    print(f"CPU seconds per upload alone: {alone_cpu.per(args.alone)}")
    print(
        f"{args.sessions} at once: slowest answer median over rounds "
        f"{statistics.median(slowest):.2f} s, worst {max(slowest):.2f} s; median answer "
        f"{statistics.median([t for r in rounds for t in r]):.2f} s"
    )
    print(
        f"answers per second (images through every model, the {args.sessions} sessions' "
        f"round / its slowest answer): {args.sessions / min(slowest):.1f}"
    )
    print(f"CPU seconds per round of {args.sessions} uploads: {cpu.per(args.rounds)}")
    print(f"server peak memory (VmHWM): {memory:.0f} MB")


async def main(args) -> None:
    titles = [REGISTRY[n].title for n in REGISTRY if artifacts.Artifact(n).status().ready]
    tmp = Path(tempfile.mkdtemp())
    with streamlit_server() as (url, _):
        server = server_process(int(url.rsplit(":", 1)[1]))
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = await asyncio.gather(
                *(open_live_page(browser, url, args.gradcam) for _ in range(args.sessions))
            )
            # Warm-up: the first upload loads the models and traces their graphs.
            await upload_and_wait(pages[0], photo(tmp / "warmup.jpg", 999), titles)
            await clear(pages[0], args.gradcam)
            await asyncio.sleep(args.settle)

            alone, alone_cpu = [], CpuSplit(server)
            for i in range(args.alone):
                image = photo(tmp / f"alone{i}.jpg", 1000 + i)
                alone_cpu.start()
                alone.append(await upload_and_wait(pages[0], image, titles))
                alone_cpu.stop()
                await clear(pages[0], args.gradcam)
                await asyncio.sleep(args.settle)

            rounds, cpu = [], CpuSplit(server)
            for r in range(args.rounds):
                images = [
                    photo(tmp / f"round{r}_session{s}.jpg", 100 * r + s)
                    for s in range(args.sessions)
                ]
                cpu.start()
                times = await asyncio.gather(
                    *(
                        upload_and_wait(page, image, titles)
                        for page, image in zip(pages, images, strict=True)
                    )
                )
                rounds.append(times)
                cpu.stop()
                print(
                    f"round {r + 1}: {args.sessions} sessions at once: slowest {max(times):.2f} s, "
                    f"median {statistics.median(times):.2f} s "
                    f"({', '.join(f'{t:.2f}' for t in sorted(times))})",
                    flush=True,
                )
                await asyncio.gather(*(clear(page, args.gradcam) for page in pages))
                await asyncio.sleep(args.settle)
            await browser.close()
        memory = memory_mb("VmHWM", server)

    report(args, titles, alone, alone_cpu, rounds, cpu, memory)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--alone", type=int, default=5, help="single-user uploads first")
    parser.add_argument(
        "--no-gradcam", dest="gradcam", action="store_false", help="switch the heatmaps off"
    )
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds between uploads")
    asyncio.run(main(parser.parse_args()))
