"""Error kinds shared by every RPC contract.

Services raise these (or domain exceptions with the same class names); nameko serialises
them as ``{"exc_type": <class name>, "exc_args": [...], "value": <message>}`` and the
gateway maps ``exc_type`` to an HTTP status. ``ValidationFailed.args[0]`` is a mapping
``{field: message or [messages]}`` so callers can name the field.
"""


class ServiceError(Exception):
    """Base class; ``str(exc)`` is a message safe to show to a user."""


class ValidationFailed(ServiceError):
    def __init__(self, fields):
        super().__init__(fields)
        self.fields = fields

    def __str__(self):
        return "; ".join(f"{k}: {v}" for k, v in self.fields.items())


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Unauthorized(ServiceError):
    pass


class ServiceUnavailable(ServiceError):
    """A service this one depends on did not answer (the gateway answers 503)."""


class TooManyRequests(ServiceError):
    """args: (message, retry_after_seconds)."""

    def __init__(self, message, retry_after=1):
        super().__init__(message, retry_after)
        self.retry_after = retry_after

    def __str__(self):
        return self.args[0]


# exc_type name -> HTTP status, used by the gateway. Domain modules may define their own
# classes with these names (or the aliases below) to stay free of this package.
HTTP_STATUS_BY_EXC_TYPE = {
    "ValidationFailed": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "Conflict": 409,
    "IllegalTransition": 409,
    "Locked": 409,
    "TooManyRequests": 429,
    "ServiceUnavailable": 503,
    "BrokerUnavailable": 503,
    "RpcTimeout": 503,
}

EXPECTED = (ValidationFailed, NotFound, Conflict, Forbidden, Unauthorized, TooManyRequests, ServiceUnavailable)
