"""``make run``: migrate every service, start them all and the gateway in the foreground.
Ctrl-C stops everything."""
import os
import signal
import sys
import time

from common import config as settings
from common.migrations import upgrade
from common.processes import Process, broker_reachable, gateway_command, service_command, wait_ready
from services import RUNNABLE


def main() -> int:
    amqp = settings.amqp_uri()
    if not broker_reachable(amqp):
        print(f"RabbitMQ is not reachable at {amqp.split('@')[-1]}: start it (`rabbitmq-server -detached`, "
              f"or `docker run -d -p 5672:5672 rabbitmq:3`) or set AMQP_URI.")
        return 1
    host = os.environ.get("GATEWAY_HOST", "127.0.0.1")
    port = int(os.environ.get("GATEWAY_PORT", "8000"))
    env = dict(os.environ, JWT_SECRET=settings.secret("JWT_SECRET"), SERVICES=",".join(RUNNABLE),
               PYTHONPATH=str(settings.ROOT), PYTHONUNBUFFERED="1")
    for name in RUNNABLE:
        upgrade(name)
        print(f"[migrate] {name}: up to date")
    metrics_base = int(os.environ.get("METRICS_PORT_BASE", "9101"))
    procs = [Process(name, service_command(target), dict(env, METRICS_PORT=str(metrics_base + i)))
             for i, (name, target) in enumerate(RUNNABLE.items())]
    if not os.environ.get("SMTP_HOST"):  # no real SMTP server configured: catch mails locally
        procs.insert(0, Process("mail", [sys.executable, str(settings.ROOT / "scripts" / "mailcatcher.py"), "serve",
                                         "--port", "1025", "--dir", str(settings.data_dir() / "mail")], env))
    procs.append(Process("gateway", gateway_command(host, port, int(os.environ.get("GATEWAY_WORKERS", "2"))), env))
    stopping = []

    def stop(*_):
        stopping.append(True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for proc in procs:
        proc.start()
    url = f"http://{host}:{port}"
    try:
        wait_ready(url, timeout=90, processes=procs)
        print(f"\nPlatform ready.\n  Gateway:  {url}\n  API docs: {url}/api/v1/docs  "
              f"(OpenAPI: {url}/api/v1/openapi.json)\n  Metrics:  {url}/metrics, services on ports "
              f"{metrics_base}-{metrics_base + len(RUNNABLE) - 1}\n  Mails:    caught in var/mail: `make mail` lists them, "
              f"`make mail N=1` shows the newest\n  Ctrl-C stops everything.\n", flush=True)
        while not stopping:
            dead = [p.name for p in procs if not p.alive]
            if dead:
                print(f"[run] {', '.join(dead)} exited; stopping the platform", flush=True)
                return_code = 1
                break
            time.sleep(0.5)
        else:
            return_code = 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"[run] {exc}", flush=True)
        return_code = 1
    finally:
        print("[run] stopping...", flush=True)
        for proc in reversed(procs):
            proc.stop()
    return return_code


if __name__ == "__main__":
    sys.exit(main())
