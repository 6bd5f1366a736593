"""The gateway's single pooled RPC client (see common.rpc_client) and the call helpers
every view uses: remote errors become 400/401/403/404/409/429, an unavailable or slow
service becomes 503. ``call_batched``: the same for a call that may ride in a batch
(gateway/batching.py), its rate limits checked with the batch's (gateway/ratelimit.py)."""
import time

from flask import current_app, g

from common.rpc_client import RemoteError, RpcClient, ServiceUnavailable
from gateway.batching import BatchCaller, Overloaded, RetryAlone
from gateway.errors import remote_to_http, unavailable_to_http
from gateway.extensions import once
from gateway.observability import BATCH_SIZE, REFUSED, RPC_SECONDS
from gateway.ratelimit import RateLimited, enforce, too_many


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


def _observe_batch(service, method):
    def observe(outcome, seconds, size):
        RPC_SECONDS.labels(service, method, outcome).observe(seconds)
        BATCH_SIZE.labels(service, method).observe(size)
    return observe


def batcher(service: str, method: str, app=None) -> BatchCaller | None:
    """The app's batch caller of ``service.method`` (made on first use, over the app's
    RPC client, admitting items through the app's rate limiter); None when batching is
    off (``RPC_BATCH_MAX`` <= 1) or paused. ``app`` outside a request context."""
    app = app or current_app
    if app.config["RPC_BATCH_MAX"] <= 1:
        return None
    limiter = app.extensions.get("ratelimit")
    found = once(app, ("batcher", service, method), lambda: BatchCaller(
        app.extensions["rpc"], service, method, max_batch=app.config["RPC_BATCH_MAX"], flushers=app.config["RPC_BATCH_FLUSHERS"],
        timeout=app.config["RPC_TIMEOUT"], max_wait=app.config["RPC_BATCH_MAX_WAIT"],
        observe=_observe_batch(service, method), admit=limiter.admit if limiter is not None else None))
    return found if found.enabled else None


def call_batched(service: str, batch_method: str, item: dict, single, admission=None):
    """``item``'s outcome from ``service.batch_method`` (coalesced with concurrent
    requests), mapped to HTTP like ``call``; ``single()`` (the plain call) when batching is
    off or the batch failed as a whole. ``admission`` (gateway/ratelimit.py): the rate
    limits the request counts against, checked with its batch's (429 when over), or
    alone before ``single()`` when batching is off."""
    caller = batcher(service, batch_method)
    if caller is None:
        enforce(admission)
        return single()
    try:
        return caller.call(item, admission=admission)
    except (RetryAlone, RateLimited, RemoteError, ServiceUnavailable) as exc:
        return batch_failed(service, batch_method, exc, single)


def batch_failed(service: str, batch_method: str, exc: Exception, single):
    """What a batched call that did not answer a result answers instead: ``single()``
    after ``RetryAlone`` (admitted already: not counted twice), otherwise the HTTP error
    matching ``exc`` (429, the remote error's status, 503). Also the votes' lane's
    (gateway/vote_lane.py), in the request context it builds. Any other exception is
    raised as is."""
    if isinstance(exc, RetryAlone):
        return single()
    if isinstance(exc, RateLimited):
        too_many(exc)
    if isinstance(exc, RemoteError):
        remote_to_http(exc)
    if isinstance(exc, ServiceUnavailable):
        if isinstance(exc, Overloaded):
            REFUSED.labels(service, batch_method).inc()
        unavailable_to_http(exc)
    raise exc
