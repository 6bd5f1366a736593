"""A throwaway platform for benchmarks: the real services and gateway as processes, on a
fresh RabbitMQ vhost and fresh PostgreSQL databases (common.testing), started the way
``make run`` and the end-to-end tests start them (common.processes commands).

Differences from tests/e2e/conftest.py's Platform, all on the bench side: each process
writes its output straight to a log file (no pump thread in the benchmark process), extra
instances of a service can be started (``add_instance``), and the environment is tuned
only where the issue says so (vote rate limits raised).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import config as settings
from common import testing
from common.config import derive_database_url
from common.migrations import upgrade
from common.processes import gateway_command, service_command, wait_ready
from services import RUNNABLE

ROOT = settings.ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_connect(dsn: str, wait: float = 60.0):
    """psycopg2.connect, waiting for a free connection slot: the PostgreSQL server may be
    shared (``max_connections``) with other platforms running on the same machine."""
    import psycopg2

    deadline = time.monotonic() + wait
    while True:
        try:
            return psycopg2.connect(dsn)
        except psycopg2.OperationalError as exc:
            if "too many clients" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Proc:
    """One child process in its own session, output to a log file."""

    def __init__(self, name: str, argv: list, env: dict, log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.popen = None

    def start(self) -> "Proc":
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, wait: float = 10.0) -> None:
        if not self.alive:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


BENCH_ENV = {
    # the issue: "raise VOTE_RATE_PER_IP/PER_VOTER limits via env" (one IP sends every vote)
    "VOTE_RATE_PER_IP": "100000000",
    "VOTE_RATE_PER_VOTER": "100000",
    "PYTHONUNBUFFERED": "1",
}


class Cluster:
    """``with Cluster(services=[...]) as c: c.api ...``"""

    def __init__(self, services=None, gateway: bool = True, gateway_workers: int = 2, env: dict | None = None,
                 name: str = "bench", quiet_logs: bool = False):
        self.services = list(services or RUNNABLE)
        self.gateway = gateway
        self.gateway_workers = gateway_workers
        self.extra_env = dict(env or {})
        self.name = name
        self.quiet_logs = quiet_logs
        self.procs: dict[str, Proc] = {}
        self._stack = contextlib.ExitStack()
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"civic-{name}-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api/v1"

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "Cluster":
        try:
            self.amqp_uri = self._stack.enter_context(testing.rabbitmq())
            self.pg_base = self._stack.enter_context(testing.postgres())
            for name in RUNNABLE:  # every database exists (readiness and events touch them)
                upgrade(name, derive_database_url(self.pg_base, name))
            env = dict(os.environ)
            env.update(BENCH_ENV)
            env.update(
                AMQP_URI=self.amqp_uri, DATABASE_URL=self.pg_base, SERVICES=",".join(self.services),
                PYTHONPATH=str(ROOT), JWT_SECRET=settings.secret("JWT_SECRET"),
                VOTE_KEY_SECRET=settings.secret("VOTE_KEY_SECRET"),
                NOTIFICATIONS_SECRET=settings.secret("NOTIFICATIONS_SECRET"),
                SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()),  # nothing listens: mails stay pending
            )
            if self.quiet_logs:
                env["LOG_LEVEL"] = "WARNING"
            env.update(self.extra_env)
            self.env = env
            for name in self.services:
                self.start_service(name)
            if self.gateway:
                self.procs["gateway"] = Proc("gateway", gateway_command("127.0.0.1", self.port, self.gateway_workers),
                                             self.env, self.log_dir).start()
                self.wait_ready()
            else:
                for name in self.services:
                    self.wait_consumers(name, 1)
            return self
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise

    def __exit__(self, *exc) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        self.procs.clear()
        self._stack.close()

    def start_service(self, name: str, instance: int = 0, **env) -> Proc:
        key = name if instance == 0 else f"{name}-{instance}"
        proc_env = dict(self.env, METRICS_PORT="0", **env)
        self.procs[key] = Proc(key, service_command(RUNNABLE[name]), proc_env, self.log_dir).start()
        return self.procs[key]

    def add_instance(self, name: str) -> Proc:
        """One more consumer process of a service (same env, same queue)."""
        n = 1 + sum(1 for k in self.procs if k.startswith(f"{name}-"))
        return self.start_service(name, instance=n)

    def stop_proc(self, key: str) -> None:
        proc = self.procs.pop(key, None)
        if proc:
            proc.stop()

    def instances(self, name: str) -> list:
        return [k for k in self.procs if k == name or k.startswith(f"{name}-")]

    def wait_ready(self, timeout: float = 90.0) -> None:
        try:
            wait_ready(self.url, timeout=timeout, processes=[_Alive(p) for p in self.procs.values()])
        except Exception:
            for proc in self.procs.values():
                sys.stderr.write(f"--- {proc.name} ---\n{proc.tail()}\n")
            raise

    def wait_consumers(self, service: str, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` processes consume the service's RPC queue."""
        import pika

        from common.rpc_client import pika_parameters

        deadline = time.monotonic() + timeout
        while True:
            with contextlib.closing(pika.BlockingConnection(pika_parameters(self.amqp_uri))) as conn:
                try:
                    n = conn.channel().queue_declare(f"rpc-{service}", passive=True).method.consumer_count
                except Exception:
                    n = 0
            if n >= count:
                return
            dead = [p.name for p in self.procs.values() if not p.alive]
            if dead:
                raise RuntimeError(f"exited: {dead}: {self.procs.get(dead[0]) and ''}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service}: {n} consumers, wanted {count}")
            time.sleep(0.3)

    def count_in_logs(self, prefix: str, needle: str) -> int:
        """Lines containing ``needle`` in the logs of the processes named ``prefix``*."""
        n = 0
        for path in self.log_dir.glob(f"{prefix}*.log"):
            with open(path, "rb") as f:
                n += sum(1 for line in f if needle.encode() in line)
        return n

    def database_url(self, service: str) -> str:
        return settings.sqlalchemy_url(derive_database_url(self.pg_base, service))

    def dsn(self, service: str) -> str:
        """A libpq URL for psycopg2 (COPY loads)."""
        return derive_database_url(self.pg_base, service).replace("postgresql+psycopg2://", "postgresql://")

    def pids(self, prefix: str | None = None) -> dict:
        return {k: p.pid for k, p in self.procs.items() if prefix is None or k.startswith(prefix)}

    def get(self, path: str, **kw):
        return requests.get(f"{self.api}{path}", timeout=kw.pop("timeout", 10), **kw)


class _Alive:
    """Adapter: common.processes.wait_ready reads ``.alive`` and ``.name``."""

    def __init__(self, proc: Proc):
        self.name, self._proc = proc.name, proc

    @property
    def alive(self):
        return self._proc.alive
