"""gunicorn settings for the gateway: ``gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app``.

Prometheus metrics are aggregated across worker processes (multiprocess mode): the
directory is created here, in the master, before the workers start.
"""
import os
import shutil
import tempfile

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="civic-gateway-metrics-")
else:
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from gateway import http_response  # noqa: E402

http_response.install()  # a response's headers and first body bytes in one write

worker_class = os.environ.get("GATEWAY_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GATEWAY_WORKER_CONNECTIONS", "2000"))
timeout = 60
graceful_timeout = 5
accesslog = None  # the app writes one JSON line per request itself


def post_worker_init(worker):
    """The loaded app's objects (~100,000: modules, Flask, the marshmallow schemas) go to
    the permanent generation. A full collection then walks only what requests left alive:
    ~1-3 ms instead of 35-57 ms, a pause of every request of the worker, measured as the
    votes' p99 (docs/benchmarks.md, sixth pass)."""
    from common.observability import freeze_startup_objects

    freeze_startup_objects()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
