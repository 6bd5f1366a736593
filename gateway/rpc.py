"""The gateway's single pooled RPC client (see common.rpc_client) and the call helper
every view uses: remote errors become 400/401/403/404/409/429, an unavailable or slow
service becomes 503."""
import time

from flask import current_app, g

from common.rpc_client import RemoteError, RpcClient, ServiceUnavailable
from gateway.errors import remote_to_http, unavailable_to_http
from gateway.observability import RPC_SECONDS


def init_rpc(app):
    app.extensions["rpc"] = RpcClient(
        app.config["AMQP_URI"],
        timeout=app.config["RPC_TIMEOUT"],
        pool_size=app.config["RPC_POOL_SIZE"],
    )


def rpc() -> RpcClient:
    return current_app.extensions["rpc"]


def call(service: str, method: str, *args, **kwargs):
    headers = {"nameko.call_id_stack": [f"gateway.{getattr(g, 'request_id', '-')}"]}
    started, outcome = time.perf_counter(), "ok"
    try:
        return rpc().call(service, method, *args, headers=headers, **kwargs)
    except RemoteError as exc:
        outcome = exc.exc_type or "RemoteError"
        remote_to_http(exc)
    except ServiceUnavailable as exc:
        outcome = type(exc).__name__
        unavailable_to_http(exc)
    finally:
        RPC_SECONDS.labels(service, method, outcome).observe(time.perf_counter() - started)
