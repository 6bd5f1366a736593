"""Container health check of a nameko service (Docker HEALTHCHECK, Kubernetes exec probes):

    python -m common.healthcheck <service>              process alive and broker reachable
    python -m common.healthcheck <service> --liveness   process alive only

Liveness does not look at the broker, so a RabbitMQ outage does not make Kubernetes
restart every service (they reconnect by themselves).
"""
import sys
from pathlib import Path

from kombu import Connection

from common import config as settings
from services import RUNNABLE


def process_alive(target: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process exited meanwhile
            continue
        if any(arg.endswith(b"nameko") for arg in argv[:2]) and target.encode() in argv:
            return True
    return False


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = [a for a in args if not a.startswith("--")]
    if len(names) != 1 or names[0] not in RUNNABLE:
        print(f"usage: python -m common.healthcheck {{{','.join(RUNNABLE)}}} [--liveness]", file=sys.stderr)
        return 2
    if not process_alive(RUNNABLE[names[0]]):
        print(f"{names[0]}: no `nameko run {RUNNABLE[names[0]]}` process", file=sys.stderr)
        return 1
    if "--liveness" not in args:
        try:
            with Connection(settings.amqp_uri(), connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as exc:  # any failure means "not ready"
            print(f"{names[0]}: broker unreachable: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
