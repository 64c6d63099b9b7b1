"""Serve many people: N viewer replicas of the dashboard behind one nginx.

    python -m core.serve --replicas 3 --port 8080 [--artifacts DIR] [--host 0.0.0.0]
    python -m core.serve --reload --port 8080 [--artifacts NEWDIR]     # rolling update

The first command starts the replicas (read-only viewers, one shared cookie secret), waits until
every one is warm (its models loaded and traced), starts Debian's nginx in front of them with
sticky sessions on a route cookie, prints the URL to open and serves until SIGTERM or Ctrl-C,
which stop nginx and every replica (exit status 0).

The second asks the running server on that port to roll its replicas onto NEWDIR (default: the
same folder, re-read) one at a time: each new replica is warm before it takes the old one's
place, so no page load or upload fails during the roll. It waits until the roll has ended.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from core.io.atomic import write_json
from core.serving.cluster import Cluster
from core.serving.nginx import NginxError, find_nginx
from core.serving.replicas import ReplicaError

ROLL_WAIT_S = 1800.0


def state_file(port: int) -> Path:
    """Where the server on ``port`` says where it runs (its pid and folder), for --reload."""
    from core.data.cifar10 import default_cache_dir

    return default_cache_dir() / "serve" / f"{port}.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--replicas", type=int, default=3, help="viewer replicas (default 3)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--host", default="0.0.0.0", help="nginx's address (default all)")
    parser.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    parser.add_argument(
        "--reload", action="store_true", help="roll the running server on --port onto --artifacts"
    )
    parser.add_argument(
        "--no-sticky",
        action="store_true",
        help="no route cookie (round robin): only to show why stickiness is needed",
    )
    return parser


def _artifacts(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise SystemExit(f"error: --artifacts {value} is not a folder")
    return path


def serve(args: argparse.Namespace) -> int:
    try:
        find_nginx()
    except NginxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signals: list[int] = []

    def on_signal(sig, _frame) -> None:
        signals.append(sig)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    stopping = lambda: any(s != signal.SIGHUP for s in signals)  # noqa: E731
    cluster = Cluster(
        args.replicas,
        args.port,
        _artifacts(args.artifacts),
        host=args.host,
        sticky=not args.no_sticky,
        log=lambda line: print(line, flush=True),
    )
    state = state_file(args.port)
    try:
        print(f"starting {args.replicas} replica(s); each takes traffic once warm", flush=True)
        cluster.start(stopping)
        state.parent.mkdir(parents=True, exist_ok=True)
        write_json(state, {"pid": os.getpid(), "run_dir": str(cluster.run_dir)})
        print(f"serving: open {cluster.url}", flush=True)
        reported: set[str] = set()
        while not stopping():
            if signal.SIGHUP in signals:
                signals.remove(signal.SIGHUP)
                _roll(cluster, stopping)
            if not cluster.nginx.running():
                print("error: nginx exited; stopping", file=sys.stderr)
                return 1
            for name in set(cluster.dead_replicas()) - reported:
                reported.add(name)
                print(f"warning: replica {name} exited; nginx sends its viewers to the others")
            time.sleep(0.3)
        return 0
    except (NginxError, ReplicaError) as exc:
        if stopping():
            return 0
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping nginx and the replicas", flush=True)
        cluster.stop()
        if state.exists() and json.loads(state.read_text()).get("pid") == os.getpid():
            state.unlink()


def _roll(cluster: Cluster, stopping) -> None:
    request = json.loads((cluster.run_dir / "reload.json").read_text())
    target = Path(request["artifacts"]) if request.get("artifacts") else cluster.artifacts
    print(f"rolling update onto {target or 'the default artifacts'}", flush=True)
    outcome = {"id": request["id"], "ok": True, "message": "every replica rolled"}
    try:
        cluster.roll(target, stopping)
    except ReplicaError as exc:
        outcome = {"id": request["id"], "ok": False, "message": str(exc)}
    write_json(cluster.run_dir / "rolled.json", outcome)
    print(outcome["message"], flush=True)


def reload(args: argparse.Namespace) -> int:
    """Ask the server on --port to roll, and wait until it has."""
    state = state_file(args.port)
    try:
        running = json.loads(state.read_text())
        os.kill(running["pid"], 0)
    except (OSError, ValueError, KeyError):
        print(f"error: no `python -m core.serve` is serving on port {args.port}", file=sys.stderr)
        return 2
    artifacts = _artifacts(args.artifacts)
    run_dir, token = Path(running["run_dir"]), secrets.token_hex(8)
    write_json(run_dir / "reload.json", {"id": token, "artifacts": str(artifacts or "")})
    os.kill(running["pid"], signal.SIGHUP)
    print("rolling: one replica at a time, each back once warm", flush=True)
    deadline = time.monotonic() + ROLL_WAIT_S
    while time.monotonic() < deadline:
        try:
            outcome = json.loads((run_dir / "rolled.json").read_text())
        except (OSError, ValueError):
            outcome = {}
        if outcome.get("id") == token:
            print(outcome["message"], file=sys.stdout if outcome["ok"] else sys.stderr)
            return 0 if outcome["ok"] else 1
        time.sleep(0.5)
    print("error: the roll did not end in time", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return reload(args) if args.reload else serve(args)
