"""N warm viewer replicas behind one nginx: started, rolled onto new artifacts, stopped.

``python -m core.serve`` drives one ``Cluster``; the tests drive it directly. Everything it
writes (nginx's config, pid, logs and temp files, each replica's log and ready file) lies in
one temporary folder, removed on ``stop``.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.serving.nginx import Nginx, NginxError, Slot, render
from core.serving.readiness import answering_now
from core.serving.replicas import HEALTH, Replica, ReplicaError, free_port

WARM_TIMEOUT_S = 600.0
UPLOAD = "/_stcore/upload_file/"
# A replaced replica drains until it has had no connection (no websocket, no request) and no
# upload to answer for QUIET_S, at most DRAIN_LIMIT_S: a viewer who keeps a page open longer
# is moved to the new replica by its stop (the browser reconnects).
QUIET_S, DRAIN_LIMIT_S = 2.0, 60.0
# Past the drain's limit, the stop still waits (at most QUIET_LIMIT_S) until no upload has
# reached the replica for QUIET_S and it answers none.
QUIET_LIMIT_S = 20.0
NGINX_START_S = 15.0


class Cluster:
    """``replicas`` warm viewer replicas on local ports behind nginx on ``host:port``."""

    def __init__(
        self,
        replicas: int,
        port: int,
        artifacts: Path | None = None,
        host: str = "127.0.0.1",
        sticky: bool = True,
        warm_timeout_s: float = WARM_TIMEOUT_S,
        drain_limit_s: float = DRAIN_LIMIT_S,
        replica_env: dict[str, str] | None = None,
        log: Callable[[str], None] = print,
    ):
        if replicas < 1:
            raise ValueError("--replicas must be at least 1")
        self.n, self.port, self.host, self.sticky = replicas, port, host, sticky
        self.artifacts = Path(artifacts).resolve() if artifacts else None
        self.warm_timeout_s = warm_timeout_s
        self.drain_limit_s = drain_limit_s
        self.replica_env = replica_env or {}
        self.log = log
        self.run_dir = Path(tempfile.mkdtemp(prefix="studio-serve-"))
        self.nginx = Nginx(self.run_dir / "nginx")
        # One secret for all: an XSRF token or cookie signed by one replica is valid on another.
        self.cookie_secret = secrets.token_urlsafe(32)
        self.replicas: dict[str, Replica] = {}
        self.draining: dict[str, Replica] = {}  # during a roll: each slot's replaced replica
        self.config_id = 0
        self.slot_ports: dict[str, int] = {}
        self.generation = 0

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{shown}:{self.port}"

    def start(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Start every replica, wait until each is warm, then start nginx in front of them."""
        names = [f"r{i + 1}" for i in range(self.n)]
        self.slot_ports = {name: free_port() for name in names}
        fresh = {name: self._new_replica(name, self.artifacts) for name in names}
        self.replicas = dict(fresh)
        self._warm(list(fresh.values()), stopping)
        self._write_config()
        self.nginx.start()
        deadline = time.monotonic() + NGINX_START_S
        while not self._answers(self.url):
            if not self.nginx.running() or time.monotonic() > deadline:
                raise NginxError(f"nginx did not start: {self._last_error()}")
            time.sleep(0.1)

    def roll(
        self,
        artifacts: Path | None,
        stopping: Callable[[], bool] = lambda: False,
        only: list[str] | None = None,
        on_drain: Callable[[str], None] = lambda name: None,
    ) -> None:
        """Restart the replicas (or the ``only`` ones) one at a time on ``artifacts``: each new
        one is warm before it takes its slot's new sessions, and the old one drains (its open
        sessions keep being answered) before it stops, so every slot keeps serving.
        ``on_drain(name)`` is called once slot ``name``'s old replica drains."""
        self.artifacts = Path(artifacts).resolve() if artifacts else None
        self.generation += 1
        for name in only or list(self.replicas):
            old = self.replicas[name]
            new = self._new_replica(name, self.artifacts)
            try:
                self._warm([new], stopping)
            except BaseException:
                new.stop()
                raise
            self.replicas[name], self.draining[name] = new, old
            self._reload()
            self._wait_slot_moved(name, new.port)
            self.log(f"{name}: port {new.port} takes new sessions, port {old.port} drains")
            on_drain(name)
            if not self._drain(old, stopping):
                self._wait_quiet(old)
            # nginx lets go of the old port before it stops: a request the new replica refuses
            # (400, 404) and asks of a stopped one gets a 502, which takes the whole slot out of
            # the ring for FAIL_TIMEOUT_S and sends its sessions to replicas that lack them.
            del self.draining[name]
            try:
                self._reload()
            finally:
                old.stop()
            self.log(f"{name}: now on port {new.port} (generation {self.generation})")

    def set_sticky(self, sticky: bool) -> None:
        """Rewrite nginx's config with stickiness on or off and reload it."""
        self.sticky = sticky
        self._reload()

    def _reload(self) -> None:
        """Write the config, reload nginx and wait until its new workers answer."""
        self._write_config()
        self.nginx.reload()
        deadline = time.monotonic() + 10.0
        url = f"http://127.0.0.1:{next(iter(self.slot_ports.values()))}{HEALTH}"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.headers.get("X-Studio-Config") == str(self.config_id):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise NginxError(f"nginx did not load its new config: {self._last_error()}")

    def dead_replicas(self) -> list[str]:
        return [name for name, r in self.replicas.items() if not r.alive()]

    def stop(self) -> None:
        """Stop nginx first (no new requests reach a stopping replica), then every replica
        (in parallel), then remove the run folder."""
        try:
            self.nginx.stop()
        finally:
            replicas = [*self.replicas.values(), *self.draining.values()]
            if replicas:
                with ThreadPoolExecutor(len(replicas)) as pool:
                    list(pool.map(lambda r: r.stop(), replicas))
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _new_replica(self, name: str, artifacts: Path | None) -> Replica:
        replica = Replica(name, free_port(), artifacts, self.run_dir)
        replica.start(self.cookie_secret, self.replica_env)
        return replica

    def _warm(self, replicas: list[Replica], stopping) -> None:
        def warm(replica: Replica) -> None:
            record = replica.warm_up(self.warm_timeout_s, stopping)
            took = time.monotonic() - replica.started_at
            models = ", ".join(record.get("models", [])) or "no models"
            self.log(f"{replica.name}: warm after {took:.1f} s ({models})")

        with ThreadPoolExecutor(len(replicas)) as pool:
            errors = [f.exception() for f in [pool.submit(warm, r) for r in replicas]]
        errors = [e for e in errors if e is not None]
        if errors:
            raise errors[0]

    def _write_config(self) -> None:
        self.config_id += 1
        previous = {name: r.port for name, r in self.draining.items()}
        slots = [
            Slot(name, self.slot_ports[name], r.port, previous.get(name))
            for name, r in self.replicas.items()
        ]
        listen = f"{self.host}:{self.port}" if self.host else str(self.port)
        config = render(self.nginx.prefix, listen, slots, self.sticky, config_id=self.config_id)
        self.nginx.write(config)

    def _drain(self, replica: Replica, stopping) -> bool:
        """Wait until ``replica`` has had no open connection and no upload to answer for
        QUIET_S (True), or until the drain's time limit (False)."""
        started = idle_since = time.monotonic()
        while time.monotonic() - started < self.drain_limit_s and not stopping():
            busy = open_connections(replica.port) != 0 or answering_now(replica.busy_file)
            now = time.monotonic()
            if busy:
                idle_since = now
            elif now - idle_since >= QUIET_S:
                return True
            time.sleep(0.2)
        return False

    def _wait_quiet(
        self, replica: Replica, quiet_s: float = QUIET_S, limit_s: float = QUIET_LIMIT_S
    ) -> None:
        """Wait (at most ``limit_s``) until no upload has reached ``replica`` for ``quiet_s``
        and it answers none: an upload whose page run was cut by the replica's stop would be
        lost (the browser's rerun after reconnecting names files the new replica never
        received). On a busy machine a page run took longer than the quiet time alone."""
        log = self.nginx.access_log
        # The replica that answered is the last address in $upstream_addr: an upload asked of a
        # draining replica after the new one refused it logs "upstream=NEW : OLD replica=...".
        mark = f"127.0.0.1:{replica.port} replica="
        try:
            offset = log.stat().st_size
        except OSError:
            return
        started = last = time.monotonic()
        while time.monotonic() - started < limit_s:
            if time.monotonic() - last >= quiet_s and not answering_now(replica.busy_file):
                return
            time.sleep(0.2)
            with open(log, "rb") as f:
                f.seek(offset)
                fresh = f.read().decode(errors="replace")
                offset = f.tell()
            if any(UPLOAD in line and mark in line for line in fresh.splitlines()):
                last = time.monotonic()

    def _wait_slot_moved(self, name: str, port: int, timeout_s: float = 10.0) -> None:
        """Wait until nginx's slot ``name`` forwards to ``port`` (its new workers run)."""
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.slot_ports[name]}{HEALTH}"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.headers.get("X-Studio-Backend", "").endswith(f":{port}"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise ReplicaError(f"nginx did not move slot {name} to port {port}: {self._last_error()}")

    def _answers(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url + HEALTH, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _last_error(self) -> str:
        lines = [x for x in self.nginx.error_log().splitlines() if "[emerg]" in x or "[crit]" in x]
        return lines[-1] if lines else "(nothing in its error log)"


def open_connections(port: int) -> int | None:
    """How many TCP connections to local ``port`` are open (nginx's websockets and requests to
    a replica), from Linux's /proc/net; None where that cannot be read."""
    counted, found = 0, False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            fields = line.split()
            # local address "HEXIP:HEXPORT", then remote address, then state (01: established)
            if len(fields) > 3 and fields[3] == "01":
                counted += int(fields[1].rsplit(":", 1)[1], 16) == port
    return counted if found else None
