"""How services stay compatible while they are released one at a time.

Rules (see README "Contracts and versions"):
- Events carry ``version`` (the version of their ``data`` schema). Within one version,
  changes are additive only: new optional fields. Readers are tolerant: they read the
  fields they know and ignore the others (``read_event``), so an old consumer keeps
  working when a new producer adds fields, and a new consumer copes with an old
  producer by giving new fields defaults.
- A breaking change gets a new version; the producer publishes both versions (two event
  types, ``<type>`` and ``<type>.v<n>``) until every consumer has moved, then drops the old.
- RPC methods follow the same rule: new parameters are optional with defaults; a
  breaking change is a new method name, the old one kept until no caller uses it.
"""
import functools

from marshmallow import EXCLUDE, Schema, ValidationError


class IncompatibleEvent(Exception):
    """The event is of a version this consumer does not understand."""


def read_event(schema: Schema, envelope: dict, supported_versions=(1,)) -> dict:
    """The event's data as this consumer's contract sees it (unknown fields ignored,
    missing optional fields defaulted); raises IncompatibleEvent on a version it does not
    support or on data that breaks its contract."""
    version = envelope.get("version", 1)
    if version not in supported_versions:
        raise IncompatibleEvent(f"{envelope.get('event_type')} v{version}: this consumer reads {supported_versions}")
    try:
        return schema.load(envelope.get("data") or {}, unknown=EXCLUDE)
    except ValidationError as err:
        raise IncompatibleEvent(f"{envelope.get('event_type')}: {err.messages}") from None


@functools.cache
def schema(schema_class: type[Schema]) -> Schema:
    """The one instance of a schema class: building a schema deep-copies its fields (tens
    of microseconds, per item of a list when done inline); loading and dumping keep no
    state on the instance, so one serves every worker."""
    return schema_class()


def dump(schema_class: type[Schema], data, many: bool = False):
    """``schema_class().dump(data)`` without building the schema each time."""
    return schema(schema_class).dump(data, many=many)
