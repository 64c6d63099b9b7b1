"""axe-core (the engine behind Lighthouse's and Chrome's accessibility audits) run on a page.

The npm package is fetched once with npm's own client (``npm pack axe-core@VERSION``) into the
studio's cache (``~/.cache/cifar10-studio/npm/``, moved by ``$CIFAR10_CACHE``), like the weights
archives, and read from the tarball; without npm or a registry, one line says what to run.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

from core.data.cifar10 import default_cache_dir

AXE_VERSION = "4.14.1"
AXE_PACKAGE = f"axe-core@{AXE_VERSION}"
TARBALL = f"axe-core-{AXE_VERSION}.tgz"
SCRIPT = "package/axe.min.js"
# The impacts the studio allows none of (axe's scale: minor, moderate, serious, critical).
BLOCKING = ("critical", "serious")

RUN_AXE_JS = """async () => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.html.slice(0, 160)).slice(0, 5),
        count: v.nodes.length,
    }));
}"""


class AxeUnavailable(RuntimeError):
    """axe-core could not be fetched; the message is one line naming the command."""


def axe_tarball() -> Path:
    """The cached ``npm pack`` tarball of axe-core, fetched on first use."""
    target = default_cache_dir() / "npm" / TARBALL
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as work:
        try:
            done = subprocess.run(
                ["npm", "pack", AXE_PACKAGE], cwd=work, capture_output=True, text=True, timeout=300
            )
            ok = done.returncode == 0 and (Path(work) / TARBALL).is_file()
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            raise AxeUnavailable(
                f"axe-core {AXE_VERSION} could not be fetched: run `npm pack {AXE_PACKAGE}` "
                f"where the npm registry is reachable and put {TARBALL} in {target.parent}"
            )
        (Path(work) / TARBALL).replace(target)
    return target


def axe_source() -> str:
    with tarfile.open(axe_tarball()) as tar:
        return tar.extractfile(SCRIPT).read().decode("utf-8")


def audit(page, source: str) -> list[dict]:
    """axe-core's violations on ``page`` as it is now: [{id, impact, help, nodes, count}]."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(content=source)
    return page.evaluate(RUN_AXE_JS)


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]
