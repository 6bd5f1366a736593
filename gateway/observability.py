"""Gateway logs (one JSON line per request, with its request id) and Prometheus metrics
(``/metrics``: request latency by route and status, RPC latency by service and method)."""
import logging
import os
import time

from flask import Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from common.observability import json_formatter

REQUEST_SECONDS = Histogram("civic_gateway_request_seconds", "HTTP requests", ["method", "route", "status"],
                            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
RPC_SECONDS = Histogram("civic_gateway_rpc_seconds", "RPC calls from the gateway", ["service", "method", "outcome"],
                        buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
BATCH_SIZE = Histogram("civic_gateway_rpc_batch_size", "Items per batched RPC call", ["service", "method"],
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128))
REFUSED = Counter("civic_gateway_overload_refused", "Calls refused at once (503) because the service was "
                  "behind by more than RPC_BATCH_MAX_WAIT", ["service", "method"])
PROPOSAL_CACHE = Counter("civic_gateway_proposal_cache", "Proposal contents served from the gateway's cache (hit) "
                         "or asked of the proposals service (miss)", ["outcome"])
access = logging.getLogger("civic.access")


class RequestFilter(logging.Filter):
    def filter(self, record):
        if getattr(record, "request_id", None) is not None:  # given by the caller (gateway/vote_lane.py)
            return True
        try:
            record.request_id = g.get("request_id")
        except RuntimeError:  # outside a request
            record.request_id = None
        return True


def record_request(method: str, route: str, path: str, status: int, elapsed: float, request_id=None) -> None:
    """An answered request: its latency by route and status, and its access-log line."""
    REQUEST_SECONDS.labels(method, route, str(status)).observe(elapsed)
    if route != "/api/v1/stream":
        extra = {"method": method, "path": path, "status": status, "ms": round(elapsed * 1000, 2)}
        if request_id is not None:
            extra["request_id"] = request_id
        access.info("request", extra=extra)


def init_observability(app):
    if app.config.get("LOG_FORMAT", "json") == "json":
        root = logging.getLogger()
        for handler in root.handlers:
            handler.setFormatter(json_formatter("gateway"))
            handler.addFilter(RequestFilter())

    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _record(response):
        started = g.get("started")
        if started is not None and request.path != "/metrics":
            record_request(request.method, request.url_rule.rule if request.url_rule else "unmatched", request.path,
                           response.status_code, time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics():
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            from prometheus_client import REGISTRY as registry
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
