"""deploy/compose.yaml: the whole platform on one host. It must parse, run every service in
services.RUNNABLE plus the gateway from deploy/docker/Dockerfile, bring RabbitMQ,
PostgreSQL, Redis and the mail catcher with healthchecks, order start-up with
depends_on conditions, and take every secret from deploy/.env (never from the file)."""
import re
import shutil
import subprocess

import pytest
import yaml

from deploy_helpers import DEPLOY, ROOT, runnable

COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")
SECRET_VARS = {"RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "JWT_SECRET", "VOTE_KEY_SECRET", "NOTIFICATIONS_SECRET"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def env_example() -> dict:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_parses_and_lists_every_service_and_the_gateway(compose):
    services = compose["services"]
    for name in [*runnable(), "gateway"]:
        assert name in services, f"compose.yaml has no service {name}"
        build = services[name]["build"]
        assert build["context"] == ".." and build["dockerfile"] == "deploy/docker/Dockerfile"
        assert build["target"] == name
        assert services[name]["image"].startswith(f"civic/{name}:")
    assert {"rabbitmq", "rabbitmq-setup", "postgres", "redis", "mailcatcher"} <= set(services)
    assert "management" in services["rabbitmq"]["image"]


def test_healthchecks_everywhere_long_running(compose):
    for name, service in compose["services"].items():
        if name == "rabbitmq-setup":
            assert service["restart"] == "no"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name}: no healthcheck"
        if name in runnable():
            assert test == ["CMD", "python", "-m", "common.healthcheck", name]
    assert "/healthz" in " ".join(compose["services"]["gateway"]["healthcheck"]["test"])


def test_start_order_uses_conditions(compose):
    services = compose["services"]
    for name in runnable():
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["rabbitmq-setup"]["condition"] == "service_completed_successfully"
    assert services["rabbitmq-setup"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    gateway = services["gateway"]["depends_on"]
    assert gateway["redis"]["condition"] == "service_healthy"
    assert set(runnable()) <= set(gateway)


def test_environment(compose):
    services = compose["services"]
    for name in runnable():
        env = services[name]["environment"]
        assert env["AMQP_URI"].startswith("pyamqp://") and env["AMQP_URI"].endswith("@rabbitmq:5672/civic")
        assert env["DATABASE_URL"].startswith("postgresql://") and env["DATABASE_URL"].endswith("@postgres:5432/civic")
        assert env["SMTP_HOST"] == "mailcatcher"
    assert "JWT_SECRET" in services["accounts"]["environment"]
    assert "VOTE_KEY_SECRET" in services["voting"]["environment"]
    if "notifications" in services:
        assert {"NOTIFICATIONS_SECRET", "PUBLIC_URL"} <= set(services["notifications"]["environment"])
        assert services["mailcatcher"]["healthcheck"]
    gateway = services["gateway"]["environment"]
    assert {"AMQP_URI", "REDIS_URL", "JWT_SECRET"} <= set(gateway)
    assert gateway["SERVICES"].split(",") == list(runnable())
    assert services["mailcatcher"]["command"][:2] == ["python", "scripts/mailcatcher.py"]
    assert "--port" in services["mailcatcher"]["command"] and "1025" in services["mailcatcher"]["command"]


def test_secrets_only_from_the_env_file(compose):
    text = "\n".join(ln for ln in COMPOSE.read_text().splitlines() if not ln.lstrip().startswith("#"))
    text = text.replace("$${", "")  # $$ escapes a variable for the container's shell
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if re.search(r"(PASSWORD|PASS|SECRET)$", key):
                match = INTERPOLATION.fullmatch(value)
                assert match and match.group(1) in SECRET_VARS, f"{name}.{key} must be ${{VAR}} from deploy/.env"
            for user, password in re.findall(r"://([^/\s:@]+):([^@\s]+)@", value):
                assert INTERPOLATION.fullmatch(password), f"{name}.{key}: literal password in a URL"
    for var in SECRET_VARS:
        assert re.search(r"\$\{" + var + r":\?", text), f"${{{var}}} must be required (:?) so Compose stops without it"
    example = env_example()
    used = set(INTERPOLATION.findall(text))
    assert SECRET_VARS <= set(example), "deploy/.env.example lists every secret"
    for var in SECRET_VARS:
        assert example[var] in ("", "change-me"), f"{var}: .env.example must not carry a real value"
    assert not (used - set(example) - {m for m in used if re.search(r"\$\{" + m + r":-", text)}), \
        "every variable without a default is in .env.example"


def test_env_file_is_not_committed():
    tracked = subprocess.run(["git", "ls-files", "deploy/.env"], cwd=ROOT, capture_output=True, text=True).stdout
    assert not tracked.strip(), "deploy/.env must never be committed"


def test_rabbitmq_setup_uses_the_definitions(compose):
    setup = compose["services"]["rabbitmq-setup"]
    mount = setup["volumes"][0].split(":")
    assert (DEPLOY / mount[0]).resolve() == (DEPLOY / "docker" / "rabbitmq").resolve()
    assert (DEPLOY / "docker" / "rabbitmq" / "definitions.json").is_file()
    assert (DEPLOY / "docker" / "rabbitmq" / "setup.py").is_file()
    assert setup["environment"]["DEFINITIONS"] == mount[1] + "/definitions.json"


def test_services_run_locked_down(compose):
    for name in [*runnable(), "gateway"]:
        service = compose["services"][name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "/tmp" in service["tmpfs"]
        assert "ports" not in service or name == "gateway", f"{name} needs no published port"


@pytest.mark.skipif(not shutil.which("docker"), reason="no docker CLI")
def test_docker_compose_config_accepts_it(tmp_path):
    """Where the Compose plugin is installed, let it validate the file (no engine needed)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose plugin not installed")
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(f"{k}={v or 'x'}" for k, v in env_example().items()) + "\n")
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env_file), "config", "-q"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
