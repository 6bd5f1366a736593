"""Start the platform's processes (nameko services + the gunicorn gateway) and watch them.

Used by ``make run`` (scripts/run.py) and by the end-to-end tests, so both run the
platform the same way.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from common import config as settings

BIN = Path(sys.executable).parent


def broker_reachable(amqp_uri: str, timeout: float = 2.0) -> bool:
    parts = urlsplit(amqp_uri)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=timeout):
            return True
    except OSError:
        return False


def service_command(target: str) -> list:
    return [str(BIN / "nameko"), "run", "--config", str(settings.ROOT / "deploy" / "nameko.yaml"), target]


def gateway_command(host: str, port: int, workers: int = 2) -> list:
    """gunicorn with gevent workers (gateway/gunicorn_conf.py): long-lived SSE clients
    cost a greenlet, not a thread."""
    return [str(BIN / "gunicorn"), "-c", "python:gateway.gunicorn_conf", "--bind", f"{host}:{port}",
            "--workers", str(workers), "gateway.wsgi:app"]


class Process:
    def __init__(self, name, argv, env, log=None, echo=True):
        self.name, self.argv, self.env = name, argv, env
        self.log, self.echo = log, echo
        self.popen = None

    def start(self):
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=settings.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        return self

    def _pump(self):
        prefix = f"[{self.name}] "
        for line in self.popen.stdout:
            if self.log:
                self.log.write(prefix + line)
                self.log.flush()
            if self.echo:
                sys.stdout.write(prefix + line)
                sys.stdout.flush()

    @property
    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, wait=10.0):
        if not self.alive:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def kill(self):
        self.stop(signal.SIGKILL, wait=5)


def wait_ready(url: str, timeout: float = 60.0, processes=()) -> dict:
    """Poll /readyz until every service answers; raise with the last detail otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        dead = [p.name for p in processes if not p.alive]
        if dead:
            raise RuntimeError(f"process(es) exited during start-up: {', '.join(dead)}")
        try:
            response = requests.get(f"{url}/readyz", timeout=3)
            last = response.json()
            if response.status_code == 200:
                return last
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.3)
    raise TimeoutError(f"platform not ready after {timeout:.0f}s: {last}")
