"""The whole platform as real processes (nameko services + gunicorn gateway), on its own
RabbitMQ vhost and PostgreSQL databases, driven over HTTP."""
import os
import socket
import tempfile
import uuid

import pytest
import requests

from common import testing
from common.migrations import upgrade
from common.config import derive_database_url
from common.processes import Process, gateway_command, service_command, wait_ready
from services import RUNNABLE
from tests.smtp import SmtpServer

RPC_TIMEOUT = 5.0  # the default: a loaded 2-core CI machine must not turn slow calls into 503s


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Platform:
    def __init__(self, env, port, log):
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.api = f"{self.url}/api/v1"
        self.procs = {}
        self.metrics_ports = {}

    def start_service(self, name, **env_overrides):
        port = self.metrics_ports.setdefault(name, _free_port())
        env = dict(self.env, METRICS_PORT=str(port), **env_overrides)
        self.procs[name] = Process(name, service_command(RUNNABLE[name]), env, log=self.log, echo=False).start()

    def start(self):
        for name in RUNNABLE:
            self.start_service(name)
        self.procs["gateway"] = Process(
            "gateway", gateway_command("127.0.0.1", self.port, workers=1), self.env,
            log=self.log, echo=False).start()
        wait_ready(self.url, timeout=60, processes=list(self.procs.values()))

    def stop_service(self, name):
        self.procs[name].stop()

    def restart_service(self, name, **env_overrides):
        self.procs[name].stop()
        self.start_service(name, **env_overrides)
        wait_ready(self.url, timeout=30, processes=list(self.procs.values()))

    def kill_service(self, name):
        """SIGKILL: no clean shutdown, in-flight work is lost mid-way."""
        self.procs[name].kill()

    def stop(self):
        for proc in self.procs.values():
            proc.stop()


@pytest.fixture(scope="session")
def smtp():
    """The SMTP server the platform's notifications service sends to."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def platform(smtp):
    with testing.rabbitmq() as amqp_uri, testing.postgres() as pg_base:
        for name in RUNNABLE:
            upgrade(name, derive_database_url(pg_base, name))
        env = dict(
            os.environ, AMQP_URI=amqp_uri, DATABASE_URL=pg_base, SERVICES=",".join(RUNNABLE),
            RPC_TIMEOUT=str(RPC_TIMEOUT), OUTBOX_POLL_INTERVAL="0.2", PYTHONUNBUFFERED="1",
            JWT_SECRET=os.environ["JWT_SECRET"], VOTE_KEY_SECRET=os.environ["VOTE_KEY_SECRET"],
            PYTHONPATH=os.getcwd(), EMERGENCE_MIN_TRUSTED_VOTES="5", VOTE_RATE_PER_VOTER="40", VOTE_RATE_WINDOW="60",
            VOTE_RATE_PER_IP="100000", LOBBYING_MILESTONES="[2, 100]", SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port), NOTIFICATIONS_SECRET="e2e-notifications-secret-0123456789",
            PUBLIC_URL="http://civic.test", MAIL_BACKOFF_BASE_SECONDS="1",
        )
        log = tempfile.NamedTemporaryFile("w", prefix="platform-", suffix=".log", delete=False)
        plat = Platform(env, _free_port(), log)
        try:
            plat.start()
        except Exception:
            plat.stop()
            log.flush()
            print(open(log.name).read()[-5000:])
            raise
        plat.amqp_uri = amqp_uri
        plat.pg_base = pg_base
        yield plat
        plat.stop()
        log.close()
        os.unlink(log.name)


class Client:
    """A small HTTP client for one person: keeps their token and anonymous session."""

    def __init__(self, platform):
        self.api = platform.api
        self.http = requests.Session()
        self.token = None
        self.user = None

    def request(self, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.http.request(method, f"{self.api}{path}", headers=headers, timeout=15, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def register(self, **overrides):
        body = {"email": f"{uuid.uuid4().hex[:10]}@example.org", "password": "a long enough password",
                "display_name": "Citizen", "country": "FR", "language": "fr"}
        body.update(overrides)
        response = self.post("/accounts", json=body)
        assert response.status_code == 201, response.text
        self.user = response.json()
        self.email, self.password = body["email"], body["password"]
        return self

    def login(self):
        response = self.post("/auth/token", json={"email": self.email, "password": self.password})
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self


@pytest.fixture
def client(platform):
    return lambda: Client(platform)


@pytest.fixture
def operator(platform):
    """The operator's RPC access (as `make grant-role` uses)."""
    from common.rpc_client import RpcClient

    with RpcClient(platform.amqp_uri, timeout=10) as rpc:
        yield rpc
