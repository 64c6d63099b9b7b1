"""nginx in front of the replicas: its config rendered from ``deploy/nginx.conf.template``, and
Debian's ``nginx`` started, reloaded and stopped as a child process with every path of its own
(config, pid, logs, temp files) in one folder.

The template's ``@NAME@`` fields are filled in here (nginx's own ``$variables`` stay as they
are); the block between ``#@slot`` and ``#@end`` is repeated once per replica.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core import REPO_ROOT
from core.io.atomic import write_text
from core.serving.replicas import die_with_parent

TEMPLATE = REPO_ROOT / "deploy" / "nginx.conf.template"
MISSING = "nginx not found: install Debian's nginx package (apt-get install nginx)"
STICKY = "hash $studio_route consistent;"
# Without stickiness the slots take turns (round robin): what the test of stickiness needs.
NOT_STICKY = "# stickiness off: round robin"
# A slot whose replica fails is left out this long before nginx tries it again.
MAX_FAILS, FAIL_TIMEOUT_S = 1, 10


class NginxError(RuntimeError):
    """nginx is missing, refused its config, or did not start; ``str()`` is one line."""


@dataclass(frozen=True)
class Slot:
    """One replica's place behind nginx: ``slot_port`` is a fixed nginx listener on the hash
    ring, ``replica_port`` the replica it currently forwards to."""

    name: str
    slot_port: int
    replica_port: int
    # During a roll: the replaced replica, still holding the sessions opened on it (it drains).
    previous_port: int | None = None


def find_nginx() -> str:
    """The nginx executable (on PATH, or Debian's /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise NginxError(MISSING)
    return found


def render(
    prefix: Path,
    listen: str,
    slots: list[Slot],
    sticky: bool = True,
    template: Path = TEMPLATE,
    config_id: int = 0,
) -> str:
    """The nginx config for ``slots`` behind ``listen`` ("host:port"), every path under
    ``prefix``; every slot's answers carry ``config_id`` (X-Studio-Config), so a reload can be
    seen to have taken effect."""
    text = template.read_text()
    head, rest = text.split("#@slot\n", 1)
    slot_block, tail = rest.split("#@end\n", 1)
    servers = "\n".join(
        f"        server 127.0.0.1:{s.slot_port} max_fails={MAX_FAILS} "
        f"fail_timeout={FAIL_TIMEOUT_S}s;  # {s.name}"
        for s in slots
    )
    blocks = "".join(
        slot_block.replace("@NAME@", s.name)
        .replace("@SLOT_PORT@", str(s.slot_port))
        .replace("@REPLICA_PORT@", str(s.replica_port))
        .replace("@PREVIOUS_PORT@", str(s.previous_port or s.replica_port))
        .replace("@CONFIG_ID@", str(config_id))
        for s in slots
    )
    out = head + blocks + tail
    fields = {
        "@PREFIX@": str(prefix),
        "@LISTEN@": listen,
        "@BALANCE@": STICKY if sticky else NOT_STICKY,
        "@UPSTREAM_SERVERS@": servers,
    }
    for field, value in fields.items():
        out = out.replace(field, value)
    return out


class Nginx:
    """One nginx master (``daemon off``, so it is this process's child) with its own prefix."""

    def __init__(self, prefix: Path, executable: str | None = None):
        self.prefix = Path(prefix)
        self.conf = self.prefix / "nginx.conf"
        self.access_log = self.prefix / "access.log"  # the template's access_log
        self.executable = executable or find_nginx()
        self.proc: subprocess.Popen | None = None

    def write(self, config: str) -> None:
        """Write ``config`` and have nginx check it; raises ``NginxError`` if nginx refuses."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        # Run as root, nginx's workers drop to `nobody`: they must reach their temp folders.
        os.chmod(self.prefix, 0o755)
        candidate = self.prefix / "nginx.conf.new"
        write_text(candidate, config)
        checked = subprocess.run(
            [*self._base(candidate), "-t", "-q"], capture_output=True, text=True, timeout=30
        )
        if checked.returncode != 0:
            lines = [x for x in checked.stderr.splitlines() if x.strip()] or ["(no output)"]
            raise NginxError(f"nginx refused the config: {lines[-1]}")
        os.replace(candidate, self.conf)

    def start(self) -> None:
        log = open(self.prefix / "nginx.out", "ab")  # noqa: SIM115 - held by the child
        self.proc = subprocess.Popen(
            [*self._base(self.conf), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches core.serve, which stops it
            preexec_fn=die_with_parent,
        )
        log.close()

    def reload(self) -> None:
        """Re-read the config: new connections follow it at once, open websockets stay on the
        old workers until they close."""
        self._signal(signal.SIGHUP)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Stop nginx (fast shutdown: open websockets are closed); returns its exit status."""
        if self.proc is None:
            return None
        self._signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _signal(self, sig: int) -> None:
        if self.running():
            self.proc.send_signal(sig)

    def _base(self, conf: Path) -> list[str]:
        return [self.executable, "-p", str(self.prefix), "-c", str(conf), "-e", "stderr"]
