"""Probes: /healthz (the process is up) and /readyz (broker reachable, every service
answering a ping within READY_TIMEOUT, with per-service detail)."""
import time
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, current_app, jsonify

from common.rpc_client import RemoteError, ServiceUnavailable
from gateway.rpc import rpc

probes = Blueprint("probes", __name__)
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


@probes.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _ping(client, service, timeout):
    started = time.perf_counter()
    try:
        client.call(service, "ping", timeout=timeout)
        return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except (ServiceUnavailable, RemoteError) as exc:
        return {"status": "unavailable", "error": str(exc)}


@probes.get("/readyz")
def readyz():
    client = rpc()
    timeout = current_app.config["READY_TIMEOUT"]
    services = current_app.config["SERVICES"]
    futures = {name: _pool.submit(_ping, client, name, timeout) for name in services}
    detail = {name: future.result() for name, future in futures.items()}
    broker_down = any("broker" in d.get("error", "") for d in detail.values())
    ready = all(d["status"] == "ok" for d in detail.values())
    body = {
        "status": "ready" if ready else "not ready",
        "broker": "unavailable" if broker_down else "ok",
        "services": detail,
    }
    return jsonify(body), 200 if ready else 503
