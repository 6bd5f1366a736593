"""Entry point of every civic container image (``ENTRYPOINT`` in deploy/docker/Dockerfile).

    entrypoint.py <service>            migrate that service's database (unless
                                       MIGRATE_ON_START=0), then exec
                                       ``nameko run --config deploy/nameko.yaml <target>``
    entrypoint.py migrate <service>..  migrate only (the Kubernetes initContainer)
    entrypoint.py gateway              exec gunicorn with gevent workers (gateway.wsgi:app;
                                       PORT, GATEWAY_WORKERS)
    entrypoint.py --dry-run <...>      print the command as JSON instead of running it
    entrypoint.py <anything else>      exec it, e.g. ``python -m services.commitments.cli ...``

The commands are the ones ``make run`` uses (common/processes.py), so a container runs a
service exactly as a developer machine does.

Migrations take a PostgreSQL advisory lock (on the server's ``postgres`` database, the
one common.migrations already uses to create a missing database) so that replicas
starting together, or an initContainer per pod, apply them once and in order.

``NAMEKO_EXTRA_CONFIG`` (comma-separated YAML files, e.g. a Kubernetes ConfigMap with a
country's languages) is deep-merged over deploy/nameko.yaml: each top-level key it names
is passed as ``--define KEY=<merged value>``. ``METRICS_PORT`` is passed the same way.
"""
import hashlib
import json
import os
import sys
import time

from common import config as settings

TRUE = {"1", "true", "yes", "on"}
BASE_CONFIG = settings.ROOT / "deploy" / "nameko.yaml"


def _runnable() -> dict:
    from services import RUNNABLE

    return RUNNABLE


def _lock_key(service: str) -> int:
    digest = hashlib.sha256(f"civic-migrate:{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def migrate(service: str) -> None:
    """Apply ``service``'s migrations once, whatever the number of replicas starting."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from common.migrations import upgrade

    url = make_url(settings.database_url(service))
    if not url.drivername.startswith("postgresql"):
        upgrade(service)
        return
    deadline = time.monotonic() + float(os.environ.get("MIGRATE_WAIT_SECONDS", "90"))
    engine = sa.create_engine(url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        while True:
            try:
                conn = engine.connect()
                break
            except sa.exc.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise
                print(f"[entrypoint] waiting for PostgreSQL ({str(exc).splitlines()[0]})", flush=True)
                time.sleep(2)
        with conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(service)})
            try:
                upgrade(service)
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(service)})
    finally:
        engine.dispose()
    print(f"[entrypoint] migrated {service}: {url.render_as_string(hide_password=True)}", flush=True)


def _deep_merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value)
        return merged
    return override


def nameko_defines(environ=os.environ) -> list:
    """``--define`` options for the extra config files and the metrics port."""
    args = []
    extra = [p.strip() for p in environ.get("NAMEKO_EXTRA_CONFIG", "").split(",") if p.strip()]
    if extra:
        from nameko.cli.utils.config import load_config

        with open(BASE_CONFIG, "rb") as fh:
            config = load_config(fh) or {}
        for path in extra:
            with open(path, "rb") as fh:  # a missing file is an error, not a silent default
                overrides = load_config(fh) or {}
            if not isinstance(overrides, dict):
                raise SystemExit(f"[entrypoint] {path}: expected a mapping of nameko config keys")
            for key, value in overrides.items():
                config[key] = _deep_merge(config.get(key), value)
                args += ["--define", f"{key}={json.dumps(config[key])}"]
    if environ.get("METRICS_PORT"):
        args += ["--define", f"METRICS_PORT={int(environ['METRICS_PORT'])}"]
    return args


def service_argv(service: str, environ=os.environ) -> list:
    from common.processes import service_command

    return service_command(_runnable()[service]) + nameko_defines(environ)


def gateway_argv(environ=os.environ) -> list:
    from common.processes import gateway_command

    # gunicorn's own settings (gevent worker class, connections, timeouts) live in the
    # gateway's gunicorn config, as for `make run`; only the bind and worker count vary.
    return gateway_command("0.0.0.0", int(environ.get("PORT", "8000")), int(environ.get("GATEWAY_WORKERS", "2")))


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    dry_run = bool(args) and args[0] == "--dry-run"
    if dry_run:
        args = args[1:]
    if not args and os.environ.get("CIVIC_SERVICE"):
        args = [os.environ["CIVIC_SERVICE"]]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = args[0], args[1:]
    runnable = _runnable()
    if command == "migrate":
        unknown = [s for s in rest if s not in runnable]
        if not rest or unknown:
            print(f"[entrypoint] migrate needs services among {', '.join(runnable)}; got {rest}", file=sys.stderr)
            return 2
        if dry_run:
            print(json.dumps({"migrate": rest}))
            return 0
        for service in rest:
            migrate(service)
        return 0
    if command in runnable:
        argv_ = service_argv(command)
        migrate_first = os.environ.get("MIGRATE_ON_START", "1").lower() in TRUE
        if dry_run:
            print(json.dumps({"migrate": [command] if migrate_first else [], "exec": argv_}))
            return 0
        if migrate_first:
            migrate(command)
    elif command == "gateway":
        argv_ = gateway_argv()
    else:
        argv_ = args
    if dry_run:
        print(json.dumps({"migrate": [], "exec": argv_}))
        return 0
    sys.stdout.flush()
    os.execvp(argv_[0], argv_)  # the process becomes nameko/gunicorn: signals reach it directly
    return 1  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
