"""Pure domain rules of the commitments service: public actors, commitments and how they
are kept (PolitiFact's promise-tracker scale). No framework, no database, no I/O.

The service layer validates RPC input types with its marshmallow schemas, then calls
these functions for the rules; the exceptions defined here carry the class names the
gateway maps to HTTP statuses (``ValidationFailed`` 400, ``Forbidden`` 403,
``NotFound`` 404, ``Conflict`` 409).

Every number is configuration: :class:`CommitmentRules`, built from the nameko config key
``COMMITMENTS`` with :meth:`CommitmentRules.from_mapping`. ``now`` is always a parameter.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields as dataclass_fields
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DomainError(Exception):
    """Base class of every error raised by the commitments domain."""


class ValidationFailed(DomainError):
    """Invalid input; ``fields`` (also ``args[0]``) maps each faulty field to a message."""

    def __init__(self, fields: dict):
        super().__init__(fields)
        self.fields = fields

    def __str__(self):
        return "; ".join(f"{k}: {v}" for k, v in self.fields.items())


class Forbidden(DomainError):
    """The caller may not do this (the message says why)."""


class Conflict(DomainError):
    """The request contradicts the current state (e.g. "already kept")."""


class NotFound(DomainError):
    pass


# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------

KINDS: tuple[str, ...] = ("elected", "party", "government", "organisation")
LEVELS: tuple[str, ...] = ("local", "national", "european")
#: PolitiFact's scale, in the order it is usually shown.
STATUSES: tuple[str, ...] = ("not_yet_rated", "in_the_works", "stalled", "kept", "compromise", "broken")
UNRATED = "not_yet_rated"
#: Roles that may record commitments and rate them.
EDITOR_ROLES: frozenset[str] = frozenset({"admin", "editor"})
#: Columns of an actors CSV file, in the documented order.
CSV_COLUMNS: tuple[str, ...] = ("external_id", "name", "kind", "party", "mandate", "level", "country",
                                "constituency", "contact_emails", "locale")
#: The fields of an actor that an import compares and writes.
ACTOR_FIELDS: tuple[str, ...] = CSV_COLUMNS
CSV_EMAIL_SEPARATOR = ";"


def _default_country_locales() -> Mapping[str, str]:
    return MappingProxyType({"FR": "fr", "DE": "de", "GB": "en", "BE": "nl", "CH": "de", "LU": "fr", "EU": "en"})


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitmentRules:
    """Tunable numbers and tables (nameko config key ``COMMITMENTS``).

    ``country_locales`` maps each accepted country code to its default locale (used when
    an actor has none); ``eu_country`` is the pseudo-country of European-level bodies,
    which must have the ``european`` level.
    """

    page_size_default: int = 20
    page_size_max: int = 100
    actor_commitments_cap: int = 100
    get_actors_max_ids: int = 500
    import_max_rows: int = 10000
    name_max_length: int = 200
    text_max_length: int = 200
    external_id_max_length: int = 100
    statement_min_length: int = 3
    statement_max_length: int = 2000
    note_max_length: int = 2000
    url_max_length: int = 2000
    max_contact_emails: int = 10
    made_at_max_future_seconds: int = 300
    country_locales: Mapping[str, str] = field(default_factory=_default_country_locales)
    locales: tuple[str, ...] = ("fr", "de", "en", "nl", "it")
    eu_country: str = "EU"

    _INTS = ("page_size_default", "page_size_max", "actor_commitments_cap", "get_actors_max_ids",
             "import_max_rows", "name_max_length", "text_max_length", "external_id_max_length",
             "statement_min_length", "statement_max_length", "note_max_length", "url_max_length",
             "max_contact_emails", "made_at_max_future_seconds")

    def __post_init__(self):
        errors = {}
        for name in self._INTS:
            value = getattr(self, name)
            minimum = 0 if name in ("made_at_max_future_seconds", "max_contact_emails") else 1
            if not _is_int(value) or value < minimum:
                errors[name] = f"must be an integer >= {minimum}"
        if not errors:
            if self.page_size_default > self.page_size_max:
                errors["page_size_default"] = "must be <= page_size_max"
            if self.statement_min_length > self.statement_max_length:
                errors["statement_min_length"] = "must be <= statement_max_length"
        locales = tuple(self.locales) if not isinstance(self.locales, str) else (self.locales,)
        if not locales or not all(isinstance(x, str) and x for x in locales):
            errors["locales"] = "must be a non-empty list of locale codes"
        table = {}
        if not isinstance(self.country_locales, Mapping) or not self.country_locales:
            errors["country_locales"] = "must be a non-empty mapping country -> default locale"
        else:
            for country, locale in self.country_locales.items():
                if not (isinstance(country, str) and re.fullmatch(r"[A-Z]{2}", country)) or locale not in locales:
                    errors["country_locales"] = f"{country!r}: needs a two-letter upper-case code and a known locale"
                    break
                table[country] = locale
        if "country_locales" not in errors and self.eu_country not in table:
            errors["eu_country"] = "must be one of the countries in country_locales"
        if errors:
            raise ValidationFailed(errors)
        object.__setattr__(self, "country_locales", MappingProxyType(table))
        object.__setattr__(self, "locales", locales)

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(self.country_locales)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "CommitmentRules":
        """Rules from a mapping of overrides; unknown keys are ignored, numbers given as
        strings (environment variables) are converted."""
        if not values:
            return cls()
        known = {f.name for f in dataclass_fields(cls)}
        kwargs, errors = {}, {}
        for key, value in values.items():
            if key not in known:
                continue
            if key in cls._INTS and isinstance(value, str):
                try:
                    value = int(value.strip())
                except ValueError:
                    errors[key] = f"must be an integer, got {value!r}"
                    continue
            if key == "locales" and not isinstance(value, str):
                value = tuple(value)
            kwargs[key] = value
        if errors:
            raise ValidationFailed(errors)
        return cls(**kwargs)

    def page(self, page: int | None, per_page: int | None) -> tuple[int, int]:
        """(limit, offset) of a listing page; ``per_page`` above ``page_size_max`` is a
        ValidationFailed naming ``per_page``."""
        page = 1 if page is None else page
        per_page = self.page_size_default if per_page is None else per_page
        if not _is_int(page) or page < 1:
            raise ValidationFailed({"page": "must be an integer >= 1"})
        if not _is_int(per_page) or not 1 <= per_page <= self.page_size_max:
            raise ValidationFailed({"per_page": f"must be between 1 and {self.page_size_max}"})
        return per_page, (page - 1) * per_page


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------
# Callers and roles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who calls, as the gateway read it from the token: ``{"user_id", "roles",
    "moderated_questions", "actor_id"}``; ``None`` or no ``user_id`` is anonymous."""

    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    actor_id: str | None = None

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> "Caller":
        if not d or not isinstance(d, Mapping):
            return cls()
        user_id = d.get("user_id")
        roles = d.get("roles") or ()
        if isinstance(roles, str):
            roles = (roles,)
        actor_id = d.get("actor_id")
        return cls(
            user_id=None if user_id in (None, "") else str(user_id),
            roles=frozenset(str(r) for r in roles),
            actor_id=None if actor_id in (None, "") else str(actor_id),
        )

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return self.is_authenticated and "admin" in self.roles

    @property
    def is_editor(self) -> bool:
        """Admins and editors record and rate commitments."""
        return self.is_authenticated and bool(self.roles & EDITOR_ROLES)


def require_admin(caller: Caller) -> None:
    """Forbidden("login required") for anonymous callers, Forbidden("admin role required")
    for anyone but an admin."""
    if not caller.is_authenticated:
        raise Forbidden("login required")
    if not caller.is_admin:
        raise Forbidden("admin role required")


def require_editor(caller: Caller) -> None:
    """Forbidden unless the caller is an admin or an editor."""
    if not caller.is_authenticated:
        raise Forbidden("login required")
    if not caller.is_editor:
        raise Forbidden("editor or admin role required")


# --------------------------------------------------------------------------------------------
# Field validation helpers
# --------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
# A practical address check: one @, no whitespace, a dotted domain of letters/digits/hyphens.
_EMAIL = re.compile(r"[^@\s\"<>(),;:]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def clean_text(value: Any) -> str | None:
    """NFC, whitespace runs collapsed to one space, stripped; None and "" give None.
    Non-strings raise TypeError (callers turn it into a field error)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("must be a string")
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", value)).strip()
    return text or None


def _text(errors: dict, data: Mapping, name: str, max_length: int, required: bool = False,
          min_length: int = 1) -> str | None:
    try:
        text = clean_text(data.get(name))
    except TypeError as exc:
        errors[name] = str(exc)
        return None
    if text is None:
        if required:
            errors[name] = "required"
        return None
    if not min_length <= len(text) <= max_length:
        errors[name] = f"must be between {min_length} and {max_length} characters (got {len(text)})"
        return None
    return text


def _choice(errors: dict, data: Mapping, name: str, choices: Iterable[str], upper: bool = False,
            required: bool = True) -> str | None:
    choices = tuple(choices)
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = "required; one of " + ", ".join(choices)
        return None
    if not isinstance(value, str):
        errors[name] = "must be one of " + ", ".join(choices)
        return None
    value = value.strip().upper() if upper else value.strip().lower()
    if value not in choices:
        errors[name] = f"unknown {name} {value!r}; must be one of " + ", ".join(choices)
        return None
    return value


def validate_email(value: Any) -> str:
    """A normalised (stripped, lower-cased) e-mail address, or ValueError."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    address = value.strip().lower()
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise ValueError(f"{value!r} is not a valid e-mail address")
    return address


def validate_emails(values: Any, rules: CommitmentRules) -> list[str]:
    """Validate a list of addresses: each valid, duplicates (case-insensitive) collapsed,
    order kept, at most ``max_contact_emails``; ValidationFailed({"contact_emails": ...})."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise ValidationFailed({"contact_emails": "must be a list of e-mail addresses"})
    result, wrong = [], []
    for value in values:
        try:
            address = validate_email(value)
        except ValueError:
            wrong.append(repr(value))
            continue
        if address not in result:
            result.append(address)
    if wrong:
        raise ValidationFailed({"contact_emails": "not valid e-mail addresses: " + ", ".join(wrong)})
    if len(result) > rules.max_contact_emails:
        raise ValidationFailed({"contact_emails": f"at most {rules.max_contact_emails} addresses"})
    return result


def validate_url(value: Any, name: str, rules: CommitmentRules, required: bool = False) -> str | None:
    """An absolute http(s) URL (stripped), None when absent and not required;
    ValidationFailed naming ``name`` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed({name: "required: a http(s) URL citing the source"})
        return None
    if not isinstance(value, str):
        raise ValidationFailed({name: "must be a http(s) URL"})
    url = value.strip()
    if len(url) > rules.url_max_length:
        raise ValidationFailed({name: f"must be at most {rules.url_max_length} characters"})
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValidationFailed({name: "must be a http(s) URL"}) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValidationFailed({name: "must be an absolute http(s) URL"})
    return url


# --------------------------------------------------------------------------------------------
# Public actors
# --------------------------------------------------------------------------------------------


def validate_actor(data: Mapping[str, Any], rules: CommitmentRules) -> dict:
    """Validate and normalise a public actor; returns a dict with every field of
    :data:`ACTOR_FIELDS`. All faulty fields are reported together in one
    ValidationFailed.

    Normalisation: text fields NFC, whitespace collapsed, stripped, empty -> None; kind,
    level and locale lower-cased; country upper-cased; e-mails lower-cased and
    de-duplicated. A missing locale takes the country's default
    (``rules.country_locales``). The EU pseudo-country requires the european level.
    """
    if not isinstance(data, Mapping):
        raise ValidationFailed({"_schema": "expected an object"})
    errors: dict[str, Any] = {}
    out: dict[str, Any] = {}
    out["external_id"] = _text(errors, data, "external_id", rules.external_id_max_length)
    out["name"] = _text(errors, data, "name", rules.name_max_length, required=True)
    out["kind"] = _choice(errors, data, "kind", KINDS)
    for name in ("party", "mandate", "constituency"):
        out[name] = _text(errors, data, name, rules.text_max_length)
    out["level"] = _choice(errors, data, "level", LEVELS)
    out["country"] = _choice(errors, data, "country", rules.countries, upper=True)
    out["locale"] = _choice(errors, data, "locale", rules.locales, required=False)
    try:
        out["contact_emails"] = validate_emails(data.get("contact_emails"), rules)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if out["country"] == rules.eu_country and out["level"] and out["level"] != "european":
        errors["level"] = f"an actor of country {rules.eu_country} is a European-level body: level must be european"
    if out["locale"] is None and out["country"] and "locale" not in errors:
        out["locale"] = rules.country_locales[out["country"]]
    if errors:
        raise ValidationFailed(errors)
    return {name: out[name] for name in ACTOR_FIELDS}


def actor_changes(existing: Mapping[str, Any], new: Mapping[str, Any]) -> dict:
    """The fields of :data:`ACTOR_FIELDS` whose value differs (new values). E-mail lists
    compare in order (the first address is the primary one)."""
    changes = {}
    for name in ACTOR_FIELDS:
        old, value = existing.get(name), new.get(name)
        if name == "contact_emails":
            old, value = list(old or []), list(value or [])
        if old != value:
            changes[name] = value
    return changes


def normalize_csv_row(row: Mapping[Any, Any]) -> dict:
    """A CSV row (as ``csv.DictReader`` gives it) -> the input of :func:`validate_actor`.

    Values are stripped; empty cells become None; ``contact_emails`` is split on ";"
    (empty parts dropped). Structural problems are ValidationFailed: an unknown column
    (named), or extra values beyond the header (``csv.DictReader`` files them under the
    key None: reported as ``_row``). Missing columns (short rows) read as empty.
    """
    if not isinstance(row, Mapping):
        raise ValidationFailed({"_row": "expected a mapping of column -> value"})
    errors, out = {}, {}
    for key, value in row.items():
        if key is None:
            errors["_row"] = "more values than columns in the header"
            continue
        column = str(key).strip().lower()
        if column not in CSV_COLUMNS:
            errors[str(key)] = "unknown column; expected " + ",".join(CSV_COLUMNS)
            continue
        if value is not None and not isinstance(value, str):
            value = str(value)
        value = value.strip() if value is not None else None
        out[column] = value or None
    if errors:
        raise ValidationFailed(errors)
    emails = out.get("contact_emails")
    out["contact_emails"] = [e.strip() for e in emails.split(CSV_EMAIL_SEPARATOR) if e.strip()] if emails else []
    return out


def prepare_import(rows: Any, rules: CommitmentRules, start_row: int = 1) -> tuple[list, list]:
    """Normalise and validate CSV rows for an import.

    Returns ``(valid, errors)``: ``valid`` is ``[(row_number, actor), ...]`` and
    ``errors`` is ``[{"row": row_number, "fields": {field: message}}, ...]``, with rows
    numbered from ``start_row`` in the given order. Every row is accounted for: an
    import needs an ``external_id`` (the key of the idempotent upsert), and a second row
    with the same external_id is an error naming the first one.
    """
    if not isinstance(rows, (list, tuple)):
        raise ValidationFailed({"rows": "must be a list of rows"})
    if len(rows) > rules.import_max_rows:
        raise ValidationFailed({"rows": f"at most {rules.import_max_rows} rows per import (got {len(rows)})"})
    valid, errors, seen = [], [], {}
    for number, row in enumerate(rows, start=start_row):
        try:
            actor = validate_actor(normalize_csv_row(row), rules)
        except ValidationFailed as exc:
            errors.append({"row": number, "fields": dict(exc.fields)})
            continue
        key = actor["external_id"]
        if key is None:
            errors.append({"row": number, "fields": {"external_id": "required for an import"}})
        elif key in seen:
            errors.append({"row": number, "fields": {"external_id": f"{key!r} already appears in row {seen[key]}"}})
        else:
            seen[key] = number
            valid.append((number, actor))
    return valid, errors


def plan_import(valid: Iterable[tuple[int, Mapping]], existing: Mapping[str, Mapping]) -> dict:
    """What an import does, given ``existing`` actors by external_id (each a mapping of
    :data:`ACTOR_FIELDS`): ``{"create": [(row, actor)], "update": [(row, external_id,
    changes)], "unchanged": [row]}``."""
    plan = {"create": [], "update": [], "unchanged": []}
    for number, actor in valid:
        current = existing.get(actor["external_id"])
        if current is None:
            plan["create"].append((number, dict(actor)))
            continue
        changes = actor_changes(current, actor)
        if changes:
            plan["update"].append((number, actor["external_id"], changes))
        else:
            plan["unchanged"].append(number)
    return plan


# --------------------------------------------------------------------------------------------
# Commitments
# --------------------------------------------------------------------------------------------


def validate_statement(value: Any, rules: CommitmentRules) -> str:
    errors: dict = {}
    text = _text(errors, {"statement": value}, "statement", rules.statement_max_length, required=True,
                 min_length=rules.statement_min_length)
    if errors:
        raise ValidationFailed(errors)
    return text


def validate_commitment(data: Mapping[str, Any], rules: CommitmentRules, now: datetime) -> dict:
    """Validate a commitment recorded by an editor: ``{actor_id, proposal_id?,
    campaign_id?, statement, made_at, source_url?}``.

    A commitment may be tied to a proposal and/or a campaign, or to neither (a promise
    made outside the platform): then ``source_url`` is required. ``made_at`` is a
    timezone-aware datetime no later than ``now`` + ``made_at_max_future_seconds``.
    All faulty fields are reported together.
    """
    if not isinstance(data, Mapping):
        raise ValidationFailed({"_schema": "expected an object"})
    errors: dict[str, Any] = {}
    out: dict[str, Any] = {}
    out["actor_id"] = _text(errors, data, "actor_id", 64, required=True)
    out["proposal_id"] = _text(errors, data, "proposal_id", 64)
    out["campaign_id"] = _text(errors, data, "campaign_id", 64)
    try:
        out["statement"] = validate_statement(data.get("statement"), rules)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    made_at = data.get("made_at")
    if not isinstance(made_at, datetime):
        errors["made_at"] = "required: a date and time"
    elif made_at.tzinfo is None or made_at.utcoffset() is None:
        errors["made_at"] = "must include a timezone"
    elif made_at > now + timedelta(seconds=rules.made_at_max_future_seconds):
        errors["made_at"] = "cannot be in the future"
    out["made_at"] = made_at
    tied = any(data.get(name) not in (None, "") for name in ("proposal_id", "campaign_id"))
    try:
        out["source_url"] = validate_url(data.get("source_url"), "source_url", rules)
    except ValidationFailed as exc:
        out["source_url"] = None
        errors.update(exc.fields)
    if out["source_url"] is None and not tied and "source_url" not in errors:
        errors["source_url"] = ("required for a commitment made outside the platform "
                                "(no proposal_id or campaign_id): a http(s) URL citing it")
    if errors:
        raise ValidationFailed(errors)
    return out


def validate_status(status: Any) -> str:
    if not isinstance(status, str) or status not in STATUSES:
        raise ValidationFailed({"status": f"unknown status {status!r}; must be one of " + ", ".join(STATUSES)})
    return status


def change_status(current: str, new: Any, evidence_url: Any, note: Any, rules: CommitmentRules) -> dict:
    """A rating change, PolitiFact style: any status may follow any other (ratings are
    on outcomes and move both ways), but:

    - ``new`` must be one of :data:`STATUSES` (ValidationFailed "status");
    - the same status again is a Conflict "already <status>";
    - every status but not_yet_rated cites its source: ``evidence_url`` is required and
      must be a http(s) URL (ValidationFailed "evidence_url");
    - ``note`` is optional text up to ``note_max_length``.

    Returns the timeline entry fields ``{status, previous_status, evidence_url, note}``.
    """
    status = validate_status(new)
    if status == current:
        raise Conflict(f"already {status}")
    evidence = validate_url(evidence_url, "evidence_url", rules, required=status != UNRATED)
    errors: dict = {}
    text = _text(errors, {"note": note}, "note", rules.note_max_length)
    if errors:
        raise ValidationFailed(errors)
    return {"status": status, "previous_status": current, "evidence_url": evidence, "note": text}


def scoreboard(counts: Mapping[str, int]) -> dict:
    """An actor's scoreboard from commitment counts per status.

    ``{"total", "by_status": {each of the 6 statuses: count}, "kept_share",
    "broken_share"}``; the shares are over *rated* commitments (every status but
    not_yet_rated) and None when none is rated. Unknown statuses are ignored.
    """
    by_status = {status: 0 for status in STATUSES}
    for status, count in (counts or {}).items():
        if status in by_status:
            if not _is_int(count) or count < 0:
                raise ValueError(f"count of {status} must be an integer >= 0")
            by_status[status] += count
    total = sum(by_status.values())
    rated = total - by_status[UNRATED]
    return {
        "total": total,
        "by_status": by_status,
        "kept_share": by_status["kept"] / rated if rated else None,
        "broken_share": by_status["broken"] / rated if rated else None,
    }


def count_statuses(statuses: Iterable[str]) -> dict:
    """Counts per status of a list of statuses (feeds :func:`scoreboard`)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts
