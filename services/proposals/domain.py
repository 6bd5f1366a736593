"""Pure domain rules of the proposals service.

This module holds the product rules for questions, proposals and moderation
(taken from Make.org's published platform) as plain Python: no framework,
no database, no I/O. The service layer calls these functions and re-raises
the exceptions defined here as its own RPC exceptions.

Every number is configuration: it lives in :class:`ProposalRules`, which
callers build (usually with :meth:`ProposalRules.from_mapping` from the
service config) and pass into the functions that need it.

Time values are :class:`datetime.datetime` objects supplied by the caller
(``now`` is always a parameter, never read from the clock here). Do not mix
naive and timezone-aware datetimes; timezone-aware UTC is recommended.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields as dataclass_fields
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

__all__ = [
    # errors
    "DomainError",
    "ValidationFailed",
    "IllegalTransition",
    "Forbidden",
    "Locked",
    # configuration
    "ProposalRules",
    # statuses
    "Status",
    "REFUSAL_REASONS",
    "ACTIONS",
    "allowed_actions",
    "accept",
    "refuse",
    "postpone",
    "archive",
    # content
    "validate_content",
    "proposal_prefix",
    # questions
    "SCOPES",
    "validate_scope",
    "validate_country_language",
    "default_language",
    "question_status",
    "validate_question_dates",
    "validate_slug",
    # roles
    "ROLES",
    "Caller",
    "can_moderate",
    "require_moderator",
    "require_admin",
    "require_authenticated",
    "moderated_scope",
    # moderation lock
    "can_take_lock",
    "new_lock_until",
    "check_lock",
    # queue
    "group_queue",
    # duplicates
    "normalize_for_similarity",
    "trigrams",
    "similarity",
    "rank_duplicates",
]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class DomainError(Exception):
    """Base class of every error raised by the proposals domain."""


class ValidationFailed(DomainError):
    """Some input is invalid.

    ``fields`` (also ``args[0]``) maps each faulty field name to a
    human-readable message, e.g. ``{"content": "must be between 12 and 140
    characters"}``.
    """

    def __init__(self, fields: dict):
        super().__init__(fields)
        self.fields = fields


class IllegalTransition(DomainError):
    """A status change is not allowed from the current status.

    The message names the current status and the action, e.g.
    ``"cannot accept a proposal that is archived"``. ``status`` and
    ``action`` are also available as attributes.
    """

    def __init__(self, message: str, status: str | None = None,
                 action: str | None = None):
        super().__init__(message)
        self.status = status
        self.action = action


class Forbidden(DomainError):
    """The caller is not allowed to do this (message says why)."""


class Locked(DomainError):
    """Another moderator holds the moderation lock on the proposal.

    ``locked_by`` and ``locked_until`` are also available as attributes.
    """

    def __init__(self, message: str, locked_by: Any = None,
                 locked_until: datetime | None = None):
        super().__init__(message)
        self.locked_by = locked_by
        self.locked_until = locked_until


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


def _default_country_languages() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({
        "FR": ("fr",),
        "DE": ("de",),
        "GB": ("en",),
        "BE": ("nl", "fr"),
        "CH": ("de", "fr", "it"),
        "LU": ("fr", "de"),
    })


@dataclass(frozen=True)
class ProposalRules:
    """The tunable numbers and tables of the proposals domain.

    Attributes:
        min_length: minimum proposal length, in characters (Unicode code
            points after NFC normalization), inclusive.
        max_length: maximum proposal length, inclusive.
        lock_seconds: how long a moderator's lock on a proposal lasts.
        country_languages: country code (upper-case ISO 3166 alpha-2) ->
            tuple of allowed language codes (lower-case ISO 639-1); the
            first language is the country's default.
        duplicate_min_score: minimum trigram similarity (0..1, inclusive)
            for a proposal to be reported as a likely duplicate.
        duplicate_limit: maximum number of likely duplicates reported.

    The instance is immutable; ``country_languages`` is stored as a
    read-only mapping of tuples. Inconsistent values raise
    :class:`ValidationFailed` keyed by the attribute name.
    """

    min_length: int = 12
    max_length: int = 140
    lock_seconds: int = 15
    country_languages: Mapping[str, tuple[str, ...]] = field(
        default_factory=_default_country_languages)
    duplicate_min_score: float = 0.3
    duplicate_limit: int = 5

    def __post_init__(self) -> None:
        errors: dict[str, str] = {}
        if not _is_int(self.min_length) or self.min_length < 1:
            errors["min_length"] = "must be an integer >= 1"
        if not _is_int(self.max_length) or self.max_length < 1:
            errors["max_length"] = "must be an integer >= 1"
        elif _is_int(self.min_length) and self.max_length < self.min_length:
            errors["max_length"] = "must be >= min_length"
        if not _is_int(self.lock_seconds) or self.lock_seconds <= 0:
            errors["lock_seconds"] = "must be an integer > 0"
        if (not isinstance(self.duplicate_min_score, (int, float))
                or isinstance(self.duplicate_min_score, bool)
                or not 0.0 <= self.duplicate_min_score <= 1.0):
            errors["duplicate_min_score"] = "must be a number between 0 and 1"
        if not _is_int(self.duplicate_limit) or self.duplicate_limit < 0:
            errors["duplicate_limit"] = "must be an integer >= 0"

        table: dict[str, tuple[str, ...]] = {}
        if not isinstance(self.country_languages, Mapping):
            errors["country_languages"] = "must be a mapping"
        else:
            for country, languages in self.country_languages.items():
                if isinstance(languages, str):
                    languages = (languages,)
                try:
                    languages = tuple(languages)
                except TypeError:
                    languages = ()
                if (not isinstance(country, str) or not languages
                        or not all(isinstance(x, str) and x for x in languages)):
                    errors["country_languages"] = (
                        "each country needs a non-empty list of languages")
                    break
                table[country] = languages
        if errors:
            raise ValidationFailed(errors)
        object.__setattr__(self, "country_languages", MappingProxyType(table))

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> "ProposalRules":
        """Build rules from a mapping of overrides (e.g. service config).

        Keys that are not attributes of :class:`ProposalRules` are ignored;
        missing keys keep their defaults; ``None`` gives the defaults.
        Numeric values given as strings (environment variables) are
        converted; values that cannot be converted raise
        :class:`ValidationFailed` keyed by the attribute name.
        """
        if not d:
            return cls()
        converters = {
            "min_length": int,
            "max_length": int,
            "lock_seconds": int,
            "duplicate_limit": int,
            "duplicate_min_score": float,
        }
        known = {f.name for f in dataclass_fields(cls)}
        kwargs: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, value in d.items():
            if key not in known:
                continue
            convert = converters.get(key)
            if convert is not None and isinstance(value, str):
                try:
                    value = convert(value.strip())
                except ValueError:
                    errors[key] = f"must be a number, got {value!r}"
                    continue
            kwargs[key] = value
        if errors:
            raise ValidationFailed(errors)
        return cls(**kwargs)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------
# Statuses and the moderation state machine
# --------------------------------------------------------------------------


class Status(str, Enum):
    """Moderation status of a proposal (values are the stored strings)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    POSTPONED = "postponed"
    ARCHIVED = "archived"

    def __str__(self) -> str:  # "pending", not "Status.PENDING"
        return self.value


REFUSAL_REASONS: tuple[str, ...] = (
    "incomprehensible",
    "off-topic",
    "partisan",
    "legal",
    "advertising",
    "multiple-ideas",
    "invalid-language",
    "rudeness",
    "out-of-political-scope",
    "already-exists",
    "test",
    "other",
)

#: action -> statuses from which it is allowed.
_ALLOWED_FROM: Mapping[str, frozenset[Status]] = MappingProxyType({
    "accept": frozenset({Status.PENDING, Status.POSTPONED, Status.REFUSED}),
    "refuse": frozenset({Status.PENDING, Status.POSTPONED, Status.ACCEPTED}),
    "postpone": frozenset({Status.PENDING}),
    "archive": frozenset({Status.PENDING, Status.ACCEPTED, Status.REFUSED,
                          Status.POSTPONED}),
})

#: action -> resulting status.
_RESULT: Mapping[str, Status] = MappingProxyType({
    "accept": Status.ACCEPTED,
    "refuse": Status.REFUSED,
    "postpone": Status.POSTPONED,
    "archive": Status.ARCHIVED,
})

ACTIONS: tuple[str, ...] = ("accept", "refuse", "postpone", "archive")


def _status(current: Status | str) -> Status:
    """Coerce a status string to :class:`Status`.

    Raises ValidationFailed({"status": ...}) for an unknown value.
    """
    try:
        return Status(current)
    except ValueError:
        raise ValidationFailed(
            {"status": f"unknown status {current!r}"}) from None


def _transition(current: Status | str, action: str) -> Status:
    status = _status(current)
    if status not in _ALLOWED_FROM[action]:
        raise IllegalTransition(
            f"cannot {action} a proposal that is {status.value}",
            status=status.value, action=action)
    return _RESULT[action]


def allowed_actions(current: Status | str) -> frozenset[str]:
    """The moderation actions allowed from ``current`` (for UIs)."""
    status = _status(current)
    return frozenset(a for a in ACTIONS if status in _ALLOWED_FROM[a])


def accept(current: Status | str) -> Status:
    """Accept a proposal; returns :attr:`Status.ACCEPTED`.

    Allowed from pending, postponed and refused (a moderator may revise a
    refusal). Not allowed from accepted or archived: raises
    :class:`IllegalTransition`. Editing the text on acceptance is the
    service's business (validate the new text with :func:`validate_content`
    and keep both versions).
    """
    return _transition(current, "accept")


def refuse(current: Status | str, reason: str | None) -> Status:
    """Refuse a proposal; returns :attr:`Status.REFUSED`.

    ``reason`` is mandatory and must be one of :data:`REFUSAL_REASONS`
    (exact, case-sensitive), otherwise ``ValidationFailed({"reason": ...})``.

    Allowed from pending, postponed **and accepted** (a moderator may take
    back an accepted proposal). Not allowed from refused (already refused)
    or archived: raises :class:`IllegalTransition`.

    The transition is checked before the reason: refusing an archived
    proposal raises IllegalTransition even when the reason is missing.
    """
    status = _transition(current, "refuse")
    if not isinstance(reason, str) or not reason:
        raise ValidationFailed({"reason": "a refusal reason is required; one of "
                                + ", ".join(REFUSAL_REASONS)})
    if reason not in REFUSAL_REASONS:
        raise ValidationFailed({"reason": f"unknown refusal reason {reason!r}; "
                                "must be one of " + ", ".join(REFUSAL_REASONS)})
    return status


def postpone(current: Status | str) -> Status:
    """Postpone a proposal; returns :attr:`Status.POSTPONED`.

    Only allowed from pending; anything else raises
    :class:`IllegalTransition`.
    """
    return _transition(current, "postpone")


def archive(current: Status | str) -> Status:
    """Archive a proposal; returns :attr:`Status.ARCHIVED`.

    Allowed from every status except archived (raises
    :class:`IllegalTransition`).
    """
    return _transition(current, "archive")


# --------------------------------------------------------------------------
# Proposal content
# --------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")

_PREFIXES: Mapping[str, str] = MappingProxyType({
    "fr": "Il faut",
    "en": "We should",
    "de": "Man sollte",
})
_FALLBACK_PREFIX = "We should"


def validate_content(content: Any, rules: ProposalRules,
                     language: str | None = None) -> str:
    """Validate and normalize a proposal's text; return the normalized text.

    Normalization: Unicode NFC, strip leading/trailing whitespace, collapse
    every run of internal whitespace (spaces, tabs, newlines...) into one
    space. The length is then counted in Unicode code points, so a
    decomposed "é" (e + combining accent) counts as one character and a
    simple emoji counts as one; multi-code-point emoji (ZWJ sequences,
    flags, skin tones) count as several.

    Raises ``ValidationFailed({"content": ...})`` when ``content`` is not a
    string or its normalized length is outside
    ``[rules.min_length, rules.max_length]``.

    ``language`` is accepted for future language-specific checks and is
    currently unused; the "Il faut" / "We should" prefix is *not* enforced
    (see :func:`proposal_prefix`).
    """
    if not isinstance(content, str):
        raise ValidationFailed({"content": "must be a string"})
    normalized = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", content)).strip()
    length = len(normalized)
    if length < rules.min_length or length > rules.max_length:
        raise ValidationFailed({"content": (
            f"must be between {rules.min_length} and {rules.max_length} "
            f"characters (got {length})")})
    return normalized


def proposal_prefix(language: str | None) -> str:
    """The customary opening of a proposal in ``language``, for clients.

    "Il faut" (fr), "We should" (en), "Man sollte" (de); "We should" for
    any other or missing language. Region suffixes are ignored ("fr-BE" ->
    "Il faut"). Purely informative: never enforced on content.
    """
    if not isinstance(language, str):
        return _FALLBACK_PREFIX
    primary = re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()
    return _PREFIXES.get(primary, _FALLBACK_PREFIX)


# --------------------------------------------------------------------------
# Questions (consultations)
# --------------------------------------------------------------------------

SCOPES: tuple[str, ...] = ("local", "national", "european")

_SLUG = re.compile(r"[a-z0-9-]{3,80}")


def validate_scope(scope: Any) -> str:
    """Return ``scope`` if it is one of :data:`SCOPES`, else
    ``ValidationFailed({"scope": ...})``."""
    if not isinstance(scope, str) or scope not in SCOPES:
        raise ValidationFailed(
            {"scope": "must be one of " + ", ".join(SCOPES)})
    return scope


def validate_country_language(country: Any, language: Any,
                              rules: ProposalRules) -> None:
    """Check that ``language`` is allowed for ``country``.

    Matching is exact: country codes are upper-case ("FR"), language codes
    lower-case ("fr"), as stored. Raises ``ValidationFailed({"country":
    ...})`` for a country absent from ``rules.country_languages`` and
    ``ValidationFailed({"language": ...})`` (listing the allowed languages)
    for a language the country does not allow.
    """
    languages = _languages_of(country, rules)
    if not isinstance(language, str) or language not in languages:
        raise ValidationFailed({"language": (
            f"language {language!r} is not allowed for {country}; "
            f"allowed: {', '.join(languages)}")})


def default_language(country: Any, rules: ProposalRules) -> str:
    """The default (first listed) language of ``country``.

    Raises ``ValidationFailed({"country": ...})`` for an unknown country.
    """
    return _languages_of(country, rules)[0]


def _languages_of(country: Any, rules: ProposalRules) -> tuple[str, ...]:
    if not isinstance(country, str) or country not in rules.country_languages:
        raise ValidationFailed({"country": (
            f"unknown country {country!r}; known: "
            + ", ".join(sorted(rules.country_languages)))})
    return rules.country_languages[country]


def question_status(starts_at: datetime, ends_at: datetime,
                    now: datetime) -> str:
    """Where a question stands at ``now``: "upcoming", "open" or "finished".

    Open on the half-open interval ``starts_at <= now < ends_at``: a
    question is open at the exact start instant and finished at the exact
    end instant.
    """
    if now < starts_at:
        return "upcoming"
    if now < ends_at:
        return "open"
    return "finished"


def validate_question_dates(starts_at: Any, ends_at: Any) -> None:
    """Check a question's dates.

    Raises ``ValidationFailed`` keyed "starts_at"/"ends_at" when a value
    is not a datetime, and ``ValidationFailed({"ends_at": ...})`` when
    ``ends_at <= starts_at`` or when one is timezone-aware and the other
    naive.
    """
    errors = {}
    if not isinstance(starts_at, datetime):
        errors["starts_at"] = "must be a date and time"
    if not isinstance(ends_at, datetime):
        errors["ends_at"] = "must be a date and time"
    if errors:
        raise ValidationFailed(errors)
    try:
        if ends_at <= starts_at:
            raise ValidationFailed({"ends_at": "must be after starts_at"})
    except TypeError:
        raise ValidationFailed({"ends_at": (
            "must have the same timezone awareness as starts_at")}) from None


def validate_slug(slug: Any) -> str:
    """Return ``slug`` if it is 3 to 80 characters of ASCII lower-case
    letters, digits and hyphens; else ``ValidationFailed({"slug": ...})``."""
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise ValidationFailed({"slug": (
            "must be 3 to 80 characters: lower-case letters, digits "
            "and hyphens")})
    return slug


# --------------------------------------------------------------------------
# Roles and permissions
# --------------------------------------------------------------------------

ROLES: tuple[str, ...] = ("citizen", "moderator", "admin", "official",
                          "organisation")


@dataclass(frozen=True)
class Caller:
    """Who is calling, as told by the gateway.

    ``user_id`` is None for an anonymous caller. Question ids in
    ``moderated_questions`` are strings; compare with ``str(question_id)``.
    """

    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    moderated_questions: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> "Caller":
        """Build a caller from ``{"user_id", "roles", "moderated_questions"}``.

        ``None`` (or an empty mapping, or a mapping without ``user_id``)
        gives the anonymous caller. Missing lists default to empty;
        ``user_id`` and question ids are converted to ``str``.
        """
        if not d:
            return cls()
        user_id = d.get("user_id")
        roles = d.get("roles") or ()
        questions = d.get("moderated_questions") or ()
        if isinstance(roles, str):
            roles = (roles,)
        if isinstance(questions, (str, int)):
            questions = (questions,)
        return cls(
            user_id=None if user_id is None or user_id == "" else str(user_id),
            roles=frozenset(str(r) for r in roles),
            moderated_questions=frozenset(str(q) for q in questions),
        )

    @property
    def is_authenticated(self) -> bool:
        """True when the caller has a user id."""
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        """True for an authenticated caller with the admin role."""
        return self.is_authenticated and "admin" in self.roles

    @property
    def is_moderator(self) -> bool:
        """True for an authenticated caller with the moderator role."""
        return self.is_authenticated and "moderator" in self.roles


def can_moderate(caller: Caller, question_id: Any) -> bool:
    """Whether ``caller`` may moderate proposals of ``question_id``.

    Admins may moderate every question; moderators only the questions in
    ``moderated_questions``; everybody else nothing. Roles of a caller
    without ``user_id`` are ignored (anonymous).
    """
    if caller.is_admin:
        return True
    return caller.is_moderator and str(question_id) in caller.moderated_questions


def require_authenticated(caller: Caller) -> None:
    """Raise ``Forbidden("login required")`` for an anonymous caller."""
    if not caller.is_authenticated:
        raise Forbidden("login required")


def require_moderator(caller: Caller, question_id: Any) -> None:
    """Raise :class:`Forbidden` unless :func:`can_moderate` allows it.

    Anonymous callers get "login required".
    """
    require_authenticated(caller)
    if not can_moderate(caller, question_id):
        raise Forbidden(f"not a moderator of question {question_id}")


def require_admin(caller: Caller) -> None:
    """Raise :class:`Forbidden` unless the caller is an admin.

    Anonymous callers get "login required".
    """
    require_authenticated(caller)
    if not caller.is_admin:
        raise Forbidden("admin role required")


def moderated_scope(caller: Caller) -> frozenset[str] | None:
    """Questions whose moderation ``caller`` may see.

    ``None`` means every question (admin); otherwise a frozenset of
    question ids: the moderator's assigned questions, or an empty set for
    anyone who is not a moderator (so a filter on it matches nothing).
    """
    if caller.is_admin:
        return None
    if caller.is_moderator:
        return caller.moderated_questions
    return frozenset()


# --------------------------------------------------------------------------
# Moderation lock
# --------------------------------------------------------------------------


def _lock_held_by_other(locked_by: Any, locked_until: datetime | None,
                        moderator_id: Any, now: datetime) -> bool:
    if locked_by is None or locked_until is None:
        return False
    if now >= locked_until:  # expired at the exact end instant
        return False
    return str(locked_by) != str(moderator_id)


def can_take_lock(locked_by: Any, locked_until: datetime | None,
                  moderator_id: Any, now: datetime) -> bool:
    """Whether ``moderator_id`` may take (or renew) the lock at ``now``.

    True when there is no lock (``locked_by`` or ``locked_until`` is None),
    when it has expired (``now >= locked_until``: a lock is held while
    ``now < locked_until``), or when ``moderator_id`` already holds it.
    Ids are compared as strings.
    """
    return not _lock_held_by_other(locked_by, locked_until, moderator_id, now)


def new_lock_until(now: datetime, rules: ProposalRules) -> datetime:
    """Expiry of a lock taken at ``now``: ``now + rules.lock_seconds``."""
    return now + timedelta(seconds=rules.lock_seconds)


def check_lock(locked_by: Any, locked_until: datetime | None,
               moderator_id: Any, now: datetime) -> None:
    """Raise :class:`Locked` when another moderator holds a live lock.

    Same rule as :func:`can_take_lock`. The message reads
    "locked by another moderator until <ISO 8601 expiry>".
    """
    if _lock_held_by_other(locked_by, locked_until, moderator_id, now):
        raise Locked(
            f"locked by another moderator until {locked_until.isoformat()}",
            locked_by=locked_by, locked_until=locked_until)


# --------------------------------------------------------------------------
# Moderation queue
# --------------------------------------------------------------------------


def group_queue(items: Iterable[Mapping[str, Any]],
                limit_groups: int | None) -> list[dict[str, Any]]:
    """Group pending proposals by author for the moderation queue.

    ``items`` are mappings with at least "id", "author_id" and
    "created_at", in any order. Returns
    ``[{"author_id": ..., "proposals": [item, ...]}, ...]`` where each
    group's proposals are sorted oldest first (ties by ``str(id)``) and
    groups are ordered by their oldest proposal's ``created_at``, ties
    broken by ``str(author_id)``. At most ``limit_groups`` groups are
    returned (``None`` = no limit; a negative value raises
    ``ValidationFailed({"limit": ...})``). Groups are complete: a
    group is never cut. The item objects are returned as given.
    """
    if limit_groups is not None and (not _is_int(limit_groups)
                                     or limit_groups < 0):
        raise ValidationFailed({"limit": "must be an integer >= 0"})
    by_author: dict[Any, list[Mapping[str, Any]]] = {}
    for item in items:
        by_author.setdefault(item["author_id"], []).append(item)
    groups = []
    for author_id, proposals in by_author.items():
        proposals.sort(key=lambda p: (p["created_at"], str(p["id"])))
        groups.append({"author_id": author_id, "proposals": proposals})
    groups.sort(key=lambda g: (g["proposals"][0]["created_at"],
                               str(g["author_id"])))
    if limit_groups is not None:
        groups = groups[:limit_groups]
    return groups


# --------------------------------------------------------------------------
# Likely duplicates (pg_trgm-style similarity)
# --------------------------------------------------------------------------


def normalize_for_similarity(text: Any) -> str:
    """Normalize text for comparison.

    Case-folds, strips accents (NFKD then drops combining marks), turns
    every character that is not a letter or digit into a word separator
    (like pg_trgm: "l'école" -> "l ecole"), collapses whitespace and
    strips. Non-strings (e.g. None) give "".
    """
    if not isinstance(text, str):
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    no_accents = (c for c in decomposed if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in no_accents)
    return " ".join(words.split())


def trigrams(text: Any) -> set[str]:
    """Trigrams of ``text``, PostgreSQL pg_trgm style.

    The text is normalized with :func:`normalize_for_similarity`, split
    into words, each word padded with two spaces in front and one behind
    ("  cat "), and every 3-character window is taken:
    "cat" -> {"  c", " ca", "cat", "at "}.
    """
    result: set[str] = set()
    for word in normalize_for_similarity(text).split():
        padded = f"  {word} "
        result.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return result


def similarity(a: Any, b: Any) -> float:
    """Jaccard similarity of the trigram sets of ``a`` and ``b``, in [0, 1].

    1.0 for texts that normalize identically; 0.0 when either normalizes to
    the empty string.
    """
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def rank_duplicates(content: Any, candidates: Iterable[Sequence[Any]],
                    rules: ProposalRules) -> list[dict[str, Any]]:
    """Rank likely duplicates of ``content`` among ``candidates``.

    ``candidates`` are ``(id, content)`` pairs. Returns
    ``[{"id": ..., "content": ..., "score": round(score, 3)}, ...]`` for
    candidates whose (unrounded) similarity is ``>=
    rules.duplicate_min_score``, best score first (ties keep the
    candidates' order), at most ``rules.duplicate_limit`` entries. The
    caller excludes the proposal itself from ``candidates``.
    """
    scored = []
    for candidate_id, candidate_content in candidates:
        score = similarity(content, candidate_content)
        if score >= rules.duplicate_min_score:
            scored.append((score, candidate_id, candidate_content))
    scored.sort(key=lambda s: s[0], reverse=True)  # stable: ties keep order
    return [{"id": cid, "content": text, "score": round(score, 3)}
            for score, cid, text in scored[:rules.duplicate_limit]]
