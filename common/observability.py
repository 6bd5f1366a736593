"""Structured logs and metrics shared by the services.

- Every log line is JSON (python-json-logger) with the service name and the call id
  stack of the worker that wrote it: the gateway starts the stack with
  ``gateway.<request id>``, nameko extends it through RPC calls, and the outbox relays it
  with each event, so one request can be followed across services and events.
- Prometheus metrics per service process (``METRICS_PORT``; 0 disables): entrypoint
  latency and outcomes (RPC and events), events handled, outbox backlog, and the depth
  of the service's own RPC queue.
"""
import contextvars
import gc
import logging
import time

from nameko import config
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server
from pythonjsonlogger.json import JsonFormatter

call_stack = contextvars.ContextVar("call_stack", default=None)
log = logging.getLogger(__name__)

ENTRYPOINT_SECONDS = Histogram(
    "civic_entrypoint_seconds", "Time spent in a service entrypoint",
    ["service", "kind", "method", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
EVENTS_HANDLED = Counter("civic_events_handled_total", "Events handled", ["service", "handler", "outcome"])
OUTBOX_PENDING = Gauge("civic_outbox_pending", "Events written but not yet relayed", ["service"])
QUEUE_DEPTH = Gauge("civic_rpc_queue_messages", "Messages waiting in the service's RPC queue", ["service"])
VOTES = Counter("civic_votes_total", "Votes by what they did", ["action", "trusted"])
VOTE_BATCH_SIZE = Histogram("civic_vote_batch_size", "Votes per vote_batch call (one transaction)",
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 200))


class ContextFilter(logging.Filter):
    """Adds ``call_id_stack`` and ``request_id`` (the first element) to every record; a
    ``request_id`` the record was given (``extra``, e.g. the gateway's votes' lane, which
    logs outside any context) is kept."""

    def filter(self, record):
        stack = call_stack.get()
        record.call_id_stack = stack
        if stack or getattr(record, "request_id", None) is None:
            record.request_id = stack[0] if stack else None
        return True


def json_formatter(service=None):
    fmt = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                        static_fields={"service": service} if service else None)
    return fmt


_FROZEN = []


def freeze_startup_objects() -> None:
    """Once per process: the objects made by imports and setup (modules, SQLAlchemy
    metadata, schemas) go to the permanent generation, so a full collection walks only
    what the work left alive instead of pausing every worker of the process for 45-65 ms
    (seen in the votes' p99; docs/benchmarks.md, sixth pass). Garbage is collected first,
    so none of it is kept for good; once, because a later freeze would keep whatever cycles
    the work had made by then (the tests start hundreds of services in one process)."""
    if not _FROZEN:
        _FROZEN.append(True)
        gc.collect()
        gc.freeze()


class Observability(DependencyProvider):
    """Added to every service through HealthMixin: tracing context for logs, metrics."""

    def setup(self):
        self.service = self.container.service_name
        self.starts = {}
        port = int(config.get("METRICS_PORT", 0) or 0)
        if port:
            try:
                start_http_server(port)
            except OSError as exc:  # another service in this process already serves metrics
                log.info("metrics port %s not opened: %s", port, exc)
        if config.get("LOG_FORMAT", "json") == "json":
            for handler in logging.getLogger().handlers:
                handler.setFormatter(json_formatter(self.service))
                if not any(isinstance(f, ContextFilter) for f in handler.filters):
                    handler.addFilter(ContextFilter())

    def start(self):
        freeze_startup_objects()
        if int(config.get("METRICS_PORT", 0) or 0):
            self.container.spawn_managed_thread(self._sample, identifier=f"{self.service}.metrics")

    def _sample(self):
        """Every 15 s: outbox backlog and the depth of this service's RPC queue."""
        import eventlet

        from common.rpc_client import RPC_QUEUE, RpcClient

        db = next((d for d in self.container.dependencies if hasattr(d, "relay")), None)
        amqp_uri = config.get("AMQP_URI")
        while True:
            try:
                if db is not None and db.store is not None:
                    OUTBOX_PENDING.labels(self.service).set(db.relay.pending())
                with RpcClient(amqp_uri, pool_size=1) as client:
                    chan = client._acquire(2)
                    try:
                        depth = chan.channel.queue_declare(RPC_QUEUE.format(self.service), passive=True).method.message_count
                        QUEUE_DEPTH.labels(self.service).set(depth)
                    finally:
                        client._release(chan)
            except Exception as exc:  # pragma: no cover - metrics must never hurt the service
                log.debug("metrics sampling failed: %s", exc)
            eventlet.sleep(15)

    def worker_setup(self, worker_ctx):
        call_stack.set(list(worker_ctx.call_id_stack))
        self.starts[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.starts.pop(worker_ctx, None)
        entrypoint = worker_ctx.entrypoint
        kind = _kind(entrypoint)
        outcome = "ok" if exc_info is None else type(exc_info[1]).__name__
        if started is not None:
            ENTRYPOINT_SECONDS.labels(self.service, kind, entrypoint.method_name, outcome).observe(
                time.perf_counter() - started)
        if kind == "eventhandler":
            EVENTS_HANDLED.labels(self.service, entrypoint.method_name, "ok" if exc_info is None else "error").inc()

    def worker_teardown(self, worker_ctx):
        self.starts.pop(worker_ctx, None)
        call_stack.set(None)


def _kind(entrypoint) -> str:
    """rpc, eventhandler, timer...: nameko's entrypoint family, whatever subclass a service
    uses (``ResilientRpc``, ``ReliableEventHandler``)."""
    if isinstance(entrypoint, Rpc):
        return "rpc"
    if isinstance(entrypoint, EventHandler):
        return "eventhandler"
    return type(entrypoint).__name__.lower()
