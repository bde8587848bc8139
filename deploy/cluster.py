"""Run the app as several Streamlit processes behind nginx, sharing one Redis: the architecture lesson 4 teaches.

    python -m deploy.cluster --processes 2 --port 8080

starts a redis-server (unless --redis-url or REDIS_URL names one), the app processes on free
loopback ports, and nginx on --port with sticky sessions, websocket upgrades and long timeouts
(deploy/nginx.conf.template). Every process gets the same REDIS_URL and GSL_SECRET, so a room
opened on one is followed from another. Ctrl-C stops everything. docs/deploy.md explains the parts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis

from dashboard.classroom.store import safe_url

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, what: str, timeout_s: float = 30.0) -> None:
    """Poll `check()` until it is true, or raise saying what did not happen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout_s:g} s")


class RedisServer:
    """One redis-server process keeping its data in `folder`, every write persisted (appendfsync always)."""

    def __init__(self, folder: Path, port: int | None = None, password: str | None = None,
                 max_memory: str = "512mb"):
        """Prepare a server on `port` (default: a free one), requiring `password` if given.

        It refuses writes past `max_memory` rather than evicting: rooms and saved scenarios have
        expiry times, and an eviction policy would drop saved scenarios before they expire.
        """
        self.folder, self.port, self.password = Path(folder), port or free_port(), password
        self.max_memory = max_memory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the server's redis:// URL (with its password: keep it out of logs, see store.safe_url)."""
        return f"redis://{f':{self.password}@' if self.password else ''}127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        """Start the server and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                   "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                   "--maxmemory", self.max_memory, "--maxmemory-policy", "noeviction"]
        if self.password:
            command += ["--requirepass", self.password]
        else:
            command += ["--protected-mode", "no"]  # loopback only; tests use it without a password
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.2)
        wait_until(client.ping, "redis-server", 10)
        return self

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def nginx_conf(run_dir: Path, port: int, app_ports: list[int]) -> str:
    """Return nginx's configuration for the app processes on `app_ports`, listening on `port`."""
    upstreams = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in app_ports)
    text = TEMPLATE.read_text()
    for name, value in (("RUN_DIR", run_dir), ("PORT", port), ("UPSTREAMS", upstreams)):
        text = text.replace("${" + name + "}", str(value))  # nginx's own $variables stay as they are
    return text


class Cluster:
    """Redis, several app processes and nginx, started together and stopped together."""

    def __init__(self, processes: int = 2, port: int | None = None, redis_url: str | None = None):
        """Plan `processes` app processes behind nginx on `port` (default: a free one)."""
        self.run_dir = Path(tempfile.mkdtemp(prefix="gsl-cluster-"))  # 0700: only we list or write it
        # nginx's workers may run as another user (nobody) and write request bodies to its temp paths:
        # they may enter the run folder and write into those, and nothing else.
        self.run_dir.chmod(0o711)
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / temp).mkdir(mode=0o733)
            (self.run_dir / temp).chmod(0o733)
        self.port = port or free_port()
        self.app_ports = [free_port() for _ in range(processes)]
        self.redis_url = redis_url
        self.redis: RedisServer | None = None
        self.processes: list[subprocess.Popen] = []
        self.secret = os.environ.get("GSL_SECRET") or secrets.token_hex(32)

    @property
    def url(self) -> str:
        """Return the address learners open: nginx."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Cluster":
        """Start Redis (unless given), the app processes and nginx; wait until each answers."""
        if self.redis_url is None:
            (self.run_dir / "redis").mkdir(mode=0o700)
            self.redis = RedisServer(self.run_dir / "redis", password=secrets.token_hex(16)).start()
            self.redis_url = self.redis.url
        env = {**os.environ, "REDIS_URL": self.redis_url, "GSL_SECRET": self.secret, "GSL_BEHIND_PROXY": "1"}
        for port in self.app_ports:
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                 "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                 "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.app_ports:
            wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
                       == b"ok", f"the app on port {port}", 60)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(nginx_conf(self.run_dir, self.port, self.app_ports))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.processes.append(subprocess.Popen([nginx, "-p", str(self.run_dir), "-c", str(conf)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1).read() == b"ok",
                   "nginx", 20)
        return self

    def served_by(self, route: str) -> str:
        """Return which app process nginx sends a browser with route cookie `route` to."""
        request = urllib.request.Request(f"{self.url}/_stcore/health", headers={"Cookie": f"gsl_route={route}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers["X-Served-By"]

    def stop(self) -> None:
        """Stop nginx, the app processes and the Redis server this cluster started."""
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []
        if self.redis is not None:
            self.redis.kill()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Start a cluster and keep it running until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, choices=range(1, 33), metavar="N",
                        help="app processes (1 to 32, default 2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1 (default 8080)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="a Redis server to share (default: start one)")
    args = parser.parse_args(argv)
    with Cluster(args.processes, args.port, args.redis_url) as cluster:
        print(f"GenAI Scaling Lab: {cluster.url} -> app processes on {cluster.app_ports}, "
              f"Redis {safe_url(cluster.redis_url)}")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while all(p.poll() is None for p in cluster.processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
