"""Service failures as HTTP errors, in flask-smorest's one JSON error shape:
``{"code", "status", "message", "errors"?}``, where ``errors`` names the fields as
``{"json": {"field": ["message"]}}``."""
import math

from flask_smorest import abort

from common.errors import HTTP_STATUS_BY_EXC_TYPE
from common.rpc_client import RemoteError, ServiceUnavailable


def as_field_errors(fields) -> dict:
    if not isinstance(fields, dict):
        return {"_schema": [str(fields)]}
    return {k: v if isinstance(v, (list, dict)) else [v] for k, v in fields.items()}


def remote_to_http(exc: RemoteError):
    """Raise the HTTP error matching a service's error type."""
    status = HTTP_STATUS_BY_EXC_TYPE.get(exc.exc_type)
    if status is None:
        abort(502, message="an internal service failed; the failure was logged")
    if status == 400:
        fields = exc.exc_args[0] if exc.exc_args else {}
        abort(400, message="invalid input", errors={"json": as_field_errors(fields)})
    message = exc.exc_args[0] if exc.exc_args else exc.value
    if status == 503:
        abort(503, message=message, headers={"Retry-After": "1"})
    if status == 429:
        retry = _int(exc.exc_args[1] if len(exc.exc_args) > 1 else 1)
        abort(429, message=message, headers={"Retry-After": str(retry)})
    abort(status, message=message)


def unavailable_to_http(exc: ServiceUnavailable):
    abort(503, message=str(exc), headers={"Retry-After": "1"})


def _int(value, default=1):
    try:
        return max(1, math.ceil(float(value)))
    except (TypeError, ValueError):
        return default
