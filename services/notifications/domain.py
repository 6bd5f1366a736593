"""Pure rules of the notifications service: kinds and preferences, who hears what,
digest periods and grouping, the officials' send window, retry backoff, SMTP outcome
classification, and the signed unsubscribe token. No framework, no database, no I/O.

Every number is configuration: :class:`NotificationRules`, built from the nameko config
key ``NOTIFICATIONS`` with :meth:`NotificationRules.from_mapping`. ``now`` is always a
parameter (an aware UTC datetime).
"""
from __future__ import annotations

import math
import smtplib
from dataclasses import dataclass, field, fields as dataclass_fields
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

# --------------------------------------------------------------------------------------------
# Errors (class names the gateway maps to HTTP statuses)
# --------------------------------------------------------------------------------------------


class DomainError(Exception):
    pass


class ValidationFailed(DomainError):
    def __init__(self, fields: dict):
        super().__init__(fields)
        self.fields = fields

    def __str__(self):
        return "; ".join(f"{k}: {v}" for k, v in self.fields.items())


class NotFound(DomainError):
    pass


# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------

#: News about the recipient's own proposal (the author hears them).
AUTHOR_KINDS: tuple[str, ...] = ("proposal_accepted", "proposal_refused", "proposal_postponed",
                                 "proposal_emerged", "campaign_started", "commitment_made")
#: News about a proposal the recipient agreed with or a campaign they support.
FOLLOWER_KINDS: tuple[str, ...] = ("campaign_milestone_reached", "official_responded",
                                   "commitment_status_changed")
MODERATION_SUMMARY = "moderation_summary"
#: E-mails to public actors' contact addresses (not users: no inbox, no preferences).
INTERPELLATION = "target_interpellated"
#: Kinds a user has preferences for, in the order they are shown.
USER_KINDS: tuple[str, ...] = AUTHOR_KINDS + FOLLOWER_KINDS + (MODERATION_SUMMARY,)
ALL_KINDS: tuple[str, ...] = USER_KINDS + (INTERPELLATION,)
IMMEDIATE, DAILY, WEEKLY, OFF = "immediate", "daily", "weekly", "off"
FREQUENCIES: tuple[str, ...] = (IMMEDIATE, DAILY, WEEKLY, OFF)
DIGEST_FREQUENCIES: tuple[str, ...] = (DAILY, WEEKLY)
#: Unsubscribe "kinds" of digest mails: unsubscribing turns every kind of that digest off.
DIGEST_KINDS = {DAILY: "digest_daily", WEEKLY: "digest_weekly"}
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "sent", "failed", "skipped")
TEMPLATE_LANGUAGES: tuple[str, ...] = ("fr", "de", "en")
FALLBACK_LANGUAGE = "en"


def _default_frequencies() -> Mapping[str, str]:
    values = {kind: IMMEDIATE for kind in AUTHOR_KINDS}
    values.update({kind: DAILY for kind in FOLLOWER_KINDS})
    values[MODERATION_SUMMARY] = IMMEDIATE  # the summary itself is daily
    return MappingProxyType(values)


def _default_country_timezones() -> Mapping[str, str]:
    return MappingProxyType({"FR": "Europe/Paris", "BE": "Europe/Paris", "LU": "Europe/Paris",
                             "DE": "Europe/Berlin", "CH": "Europe/Berlin", "GB": "Europe/London",
                             "EU": "Europe/Brussels"})


def _default_links() -> Mapping[str, str]:
    """Where a notification leads: the web client's pages (served by the gateway at "/"),
    so a mail or an inbox entry opens the app. The unsubscribe link stays an API URL:
    it works without logging in, and mail clients POST to it (RFC 8058 one-click)."""
    return MappingProxyType({
        "proposal": "{public_url}/#/p/{proposal_id}",
        "question": "{public_url}/#/q/{question_id}",
        "campaign": "{public_url}/#/campaigns/{campaign_id}",
        "actor": "{public_url}/#/actors/{actor_id}",
        "moderation": "{public_url}/#/moderation",
        "inbox": "{public_url}/#/inbox",
        "preferences": "{public_url}/#/settings",
        "unsubscribe": "{public_url}/api/v1/unsubscribe/{token}",
    })


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationRules:
    """Business numbers of the notifications service (nameko config key ``NOTIFICATIONS``)."""

    public_url: str = "http://127.0.0.1:8000"
    page_size_default: int = 20
    page_size_max: int = 100
    fanout_page_size: int = 1000         # recipients asked per RPC page and written per transaction
    fanout_lease_seconds: int = 60       # a fan-out not progressing for this long is resumed by the timer
    default_frequencies: Mapping[str, str] = field(default_factory=_default_frequencies)
    default_language: str = "en"
    default_timezone: str = "UTC"
    country_timezones: Mapping[str, str] = field(default_factory=_default_country_timezones)
    digest_hour: int = 8                 # local hour (recipient's country) when the daily digest is due
    weekly_digest_day: int = 0           # 0 = Monday ... 6 = Sunday
    moderation_summary_hour: int = 8     # local hour of the moderators' daily summary
    max_attempts: int = 5                # SMTP tries before a delivery is marked failed
    backoff_base_seconds: float = 60.0   # wait after the first failure, then x backoff_factor
    backoff_factor: float = 2.0
    backoff_max_seconds: float = 6 * 3600.0
    send_batch_size: int = 50            # deliveries claimed per sender round
    send_lease_seconds: int = 300        # a claimed delivery not updated for this long is retried
    unsubscribe_max_age_days: int = 365
    links: Mapping[str, str] = field(default_factory=_default_links)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "NotificationRules":
        """Overrides from configuration, cast to the defaults' types; unknown keys ignored
        (the ``smtp`` section is read by :class:`SmtpSettings`). Mappings are merged over
        the defaults."""
        values, defaults, out = dict(values or {}), cls(), {}
        for f in dataclass_fields(cls):
            if f.name not in values or values[f.name] is None:
                continue
            default, raw = getattr(defaults, f.name), values[f.name]
            if isinstance(default, Mapping):
                merged = dict(default)
                merged.update({str(k): str(v) for k, v in dict(raw).items()})
                out[f.name] = MappingProxyType(merged)
            elif isinstance(default, bool):
                out[f.name] = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
            else:
                out[f.name] = type(default)(raw)
        rules = cls(**out)
        unknown = {k: v for k, v in rules.default_frequencies.items() if v not in FREQUENCIES}
        if unknown:
            raise ValueError(f"NOTIFICATIONS.default_frequencies: unknown frequencies {unknown}")
        return rules

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    def link(self, name: str, **values) -> str | None:
        pattern = self.links.get(name)
        if not pattern:
            return None
        try:
            return pattern.format(public_url=self.base_url, **values)
        except (KeyError, IndexError, ValueError):
            return None

    def timezone_for(self, country: str | None) -> ZoneInfo:
        name = self.country_timezones.get((country or "").upper(), self.default_timezone)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def page(self, page: int, per_page: int | None) -> tuple[int, int]:
        """(limit, offset) of a listing page."""
        limit = min(per_page or self.page_size_default, self.page_size_max)
        return limit, (page - 1) * limit


# --------------------------------------------------------------------------------------------
# Preferences
# --------------------------------------------------------------------------------------------


def resolve_frequency(kind: str, explicit: Mapping[str, str] | None, rules: NotificationRules) -> str:
    """The recipient's own choice for ``kind``, else the configured default (else immediate)."""
    chosen = (explicit or {}).get(kind)
    if chosen in FREQUENCIES:
        return chosen
    return rules.default_frequencies.get(kind, IMMEDIATE)


def all_preferences(explicit: Mapping[str, str] | None, rules: NotificationRules) -> dict[str, str]:
    return {kind: resolve_frequency(kind, explicit, rules) for kind in USER_KINDS}


def validate_preferences(changes: Any) -> dict[str, str]:
    """``{kind: frequency}``; every unknown kind and frequency is named in one error."""
    if not isinstance(changes, Mapping) or not changes:
        raise ValidationFailed({"preferences": "expected an object {kind: frequency}, e.g. "
                                               "{\"campaign_milestone_reached\": \"weekly\"}"})
    errors = {}
    for kind, frequency in changes.items():
        if kind not in USER_KINDS:
            errors[str(kind)] = f"unknown kind; one of {', '.join(USER_KINDS)}"
        elif frequency not in FREQUENCIES:
            errors[str(kind)] = f"unknown frequency {frequency!r}; one of {', '.join(FREQUENCIES)}"
    if errors:
        raise ValidationFailed(errors)
    return dict(changes)


def email_channel(frequency: str, address: str | None, bounced: bool) -> str | None:
    """How a notification reaches the recipient by e-mail: ``immediate`` (a delivery now),
    ``daily`` / ``weekly`` (waits for the digest), or None (inbox only: off, no address,
    or the address bounced)."""
    if frequency == OFF or not address or bounced:
        return None
    return frequency if frequency in FREQUENCIES else IMMEDIATE


def kinds_turned_off_by(unsubscribe_kind: str, explicit: Mapping[str, str] | None,
                        rules: NotificationRules) -> list[str]:
    """The user kinds an unsubscribe link turns off: the mail's own kind, or every kind
    currently delivered in that digest."""
    for frequency, digest_kind in DIGEST_KINDS.items():
        if unsubscribe_kind == digest_kind:
            return [k for k in USER_KINDS if resolve_frequency(k, explicit, rules) == frequency]
    return [unsubscribe_kind] if unsubscribe_kind in USER_KINDS else []


# --------------------------------------------------------------------------------------------
# Who hears what
# --------------------------------------------------------------------------------------------

#: event type -> notification kind, for the events that notify the proposal's author.
AUTHOR_EVENTS = {
    ("proposals", "proposal_accepted"): "proposal_accepted",
    ("proposals", "proposal_refused"): "proposal_refused",
    ("proposals", "proposal_postponed"): "proposal_postponed",
    ("voting", "proposal_emerged"): "proposal_emerged",
    ("lobbying", "campaign_started"): "campaign_started",
    ("commitments", "commitment_made"): "commitment_made",
}
#: event type -> notification kind, for the events fanned out to voters and supporters.
FOLLOWER_EVENTS = {
    ("lobbying", "campaign_milestone_reached"): "campaign_milestone_reached",
    ("lobbying", "official_responded"): "official_responded",
    ("commitments", "commitment_status_changed"): "commitment_status_changed",
}


def author_recipient(kind: str, data: Mapping[str, Any], known_author: str | None) -> str | None:
    """The author to tell, or None. Proposals' and voting's events name the author; the
    others are mapped through the proposal. A campaign its own author started tells
    nobody, and a commitment made outside any proposal has no author to tell."""
    author = data.get("author_id") or known_author
    if not author:
        return None
    if kind == "campaign_started" and data.get("creator_id") == author:
        return None
    if kind == "commitment_made" and not data.get("proposal_id"):
        return None
    return str(author)


def follower_sources(kind: str, data: Mapping[str, Any]) -> list[list[str]]:
    """Where the recipients of a follower event come from, in order: ``["voters",
    proposal_id]`` (voters who agreed, ``voting.voters``) and ``["supporters",
    campaign_id]`` (``lobbying.supporter_ids``). A person in both lists hears it once
    (the inbox is unique on event and recipient)."""
    if kind not in FOLLOWER_KINDS:
        return []
    sources = []
    if data.get("proposal_id"):
        sources.append(["voters", str(data["proposal_id"])])
    if data.get("campaign_id"):
        sources.append(["supporters", str(data["campaign_id"])])
    return sources


def excluded_recipients(kind: str, data: Mapping[str, Any]) -> set[str]:
    """People who caused the event do not hear about it (the official who responded,
    the editor who rated a commitment)."""
    who = data.get("responded_by") if kind == "official_responded" else data.get("changed_by")
    return {str(who)} if who else set()


def page_recipients(user_ids: Iterable[Any], excluded: set[str] | frozenset = frozenset()) -> list[str]:
    """A page of recipients as given by an RPC page: strings, without blanks, repeats or
    excluded people, in the page's order."""
    seen, out = set(excluded), []
    for user_id in user_ids or ():
        if user_id is None:
            continue
        uid = str(user_id)
        if uid and uid not in seen:
            seen.add(uid)
            out.append(uid)
    return out


def official_addresses(contact_emails: Iterable[str] | None, unreachable: set[str] | frozenset = frozenset()
                       ) -> list[str]:
    """An actor's contact addresses to write to: normalised, each once, without bounced or
    unsubscribed ones."""
    out = []
    for email in contact_emails or ():
        address = normalise_email(email)
        if address and address not in out and address not in unreachable:
            out.append(address)
    return out


def normalise_email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    address = value.strip().lower()
    return address if "@" in address and " " not in address and "\n" not in address else None


def moderator_queue(questions: Iterable[str], sizes: Mapping[str, Any]) -> tuple[int, list[dict]]:
    """(total, [{question_id, count}]) of a moderator's questions, biggest queue first."""
    rows = []
    for question_id in dict.fromkeys(str(q) for q in questions or ()):
        count = int(sizes.get(question_id) or 0)
        if count > 0:
            rows.append({"question_id": question_id, "count": count})
    rows.sort(key=lambda r: (-r["count"], r["question_id"]))
    return sum(r["count"] for r in rows), rows


# --------------------------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------------------------


def digest_period(frequency: str, now: datetime, tz: ZoneInfo, rules: NotificationRules) -> tuple[str, datetime]:
    """(period key, period start in UTC) of the digest period ``now`` falls in, in the
    recipient's time zone. A daily period starts each day at ``digest_hour``; a weekly one
    each ``weekly_digest_day`` at that hour. The digest of a period gathers what was
    pending before the period started and is sent once per (recipient, period)."""
    local = now.astimezone(tz)
    start_day = local.date()
    if frequency == DAILY:
        if local.hour < rules.digest_hour:
            start_day -= timedelta(days=1)
    elif frequency == WEEKLY:
        back = (local.weekday() - rules.weekly_digest_day) % 7
        start_day -= timedelta(days=back)
        if back == 0 and local.hour < rules.digest_hour:
            start_day -= timedelta(days=7)
    else:
        raise ValueError(f"not a digest frequency: {frequency}")
    start = local_moment(start_day, rules.digest_hour, tz)
    key = start_day.isoformat() if frequency == DAILY else "W" + start_day.isoformat()
    return key, start.astimezone(timezone.utc)


def summary_period(now: datetime, tz: ZoneInfo, rules: NotificationRules, force: bool = False) -> str | None:
    """The moderators' summary period (the local date) when the summary is due, else None."""
    local = now.astimezone(tz)
    if not force and local.hour < rules.moderation_summary_hour:
        return None
    return local.date().isoformat()


def local_moment(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """``day`` at ``hour`` o'clock local time (a time skipped by a DST change moves on)."""
    moment = datetime.combine(day, time(hour % 24), tzinfo=tz)
    return moment.astimezone(timezone.utc).astimezone(tz)


def group_digest(items: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Digest sections: items grouped by kind, kinds in the preferences' order, items
    oldest first inside a section. Items are ``{kind, created_at, ...}``."""
    by_kind: dict[str, list] = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item)
    order = {kind: i for i, kind in enumerate(ALL_KINDS)}
    sections = []
    for kind in sorted(by_kind, key=lambda k: (order.get(k, len(order)), k)):
        entries = sorted(by_kind[kind], key=lambda i: (i.get("created_at") or datetime.min.replace(tzinfo=timezone.utc),
                                                       str(i.get("id", ""))))
        sections.append({"kind": kind, "count": len(entries), "items": entries})
    return sections


# --------------------------------------------------------------------------------------------
# Officials' send window and hourly cap
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendPolicy:
    window_start_hour: int = 9
    window_end_hour: int = 18
    max_per_hour: int = 10

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "SendPolicy":
        values, out = dict(values or {}), {}
        for f in dataclass_fields(cls):
            raw = values.get(f.name)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                out[f.name] = int(raw)
        policy = cls(**out)
        start = min(max(policy.window_start_hour, 0), 23)
        end = min(max(policy.window_end_hour, start + 1), 24)
        return cls(start, end, max(policy.max_per_hour, 1))

    def as_dict(self) -> dict:
        return {"window_start_hour": self.window_start_hour, "window_end_hour": self.window_end_hour,
                "max_per_hour": self.max_per_hour}


def into_window(moment: datetime, tz: ZoneInfo, policy: SendPolicy) -> datetime:
    """The first instant at or after ``moment`` inside the daily local window
    [window_start_hour, window_end_hour)."""
    local = moment.astimezone(tz)
    if local.hour < policy.window_start_hour:
        return local_moment(local.date(), policy.window_start_hour, tz).astimezone(timezone.utc)
    if local.hour >= policy.window_end_hour:
        return local_moment(local.date() + timedelta(days=1), policy.window_start_hour, tz).astimezone(timezone.utc)
    return moment.astimezone(timezone.utc)


def schedule_in_window(now: datetime, tz: ZoneInfo, policy: SendPolicy, booked: Iterable[datetime],
                       horizon_days: int = 60) -> datetime:
    """When to send the next message to one public actor: inside the local send window,
    in the first clock hour holding fewer than ``max_per_hour`` messages already booked
    for that actor, spread evenly across the hour (slot n of the hour at n x 60/max
    minutes). ``booked`` are the send times already scheduled for that actor."""
    per_hour: dict[datetime, int] = {}
    for moment in booked:
        hour = moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        per_hour[hour] = per_hour.get(hour, 0) + 1
    spacing = timedelta(seconds=3600 / policy.max_per_hour)
    candidate = into_window(now, tz, policy)
    limit = now + timedelta(days=horizon_days)
    while candidate < limit:
        hour = candidate.replace(minute=0, second=0, microsecond=0)
        used = per_hour.get(hour, 0)
        if used < policy.max_per_hour:
            slot = hour + spacing * used
            at = max(candidate, slot)
            if at < hour + timedelta(hours=1):
                return at
        candidate = into_window(hour + timedelta(hours=1), tz, policy)
    return candidate


# --------------------------------------------------------------------------------------------
# Retries and SMTP outcomes
# --------------------------------------------------------------------------------------------


def backoff_delay(attempts_done: int, rules: NotificationRules) -> float:
    """Seconds to wait after the ``attempts_done``-th failed try (1 -> base, then x factor)."""
    exponent = max(attempts_done - 1, 0)
    try:
        delay = rules.backoff_base_seconds * (rules.backoff_factor ** exponent)
    except OverflowError:
        delay = math.inf
    return min(delay, rules.backoff_max_seconds)


def next_attempt(attempts_done: int, now: datetime, rules: NotificationRules) -> datetime | None:
    """When to try again after a transient failure, or None when that was the last try."""
    if attempts_done >= rules.max_attempts:
        return None
    return now + timedelta(seconds=backoff_delay(attempts_done, rules))


RETRY, BOUNCE, PERMANENT = "retry", "bounce", "permanent"


def classify_smtp_error(exc: BaseException, recipient: str | None = None) -> tuple[str, str]:
    """(outcome, message) of a failed send: ``bounce`` when the server permanently refused
    the recipient (5xx to RCPT: the address is dead, stop writing to it), ``permanent``
    when it permanently refused this message (5xx to DATA), ``retry`` for everything
    else (4xx, connection refused or lost, timeouts, a refused sender, TLS or login
    trouble on our side)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients or {}
        code, reply = refused.get(recipient) if recipient in refused else next(iter(refused.values()), (None, b""))
        message = f"{code} {_text(reply)}".strip()
        if isinstance(code, int) and 500 <= code < 600:
            return BOUNCE, f"hard bounce: {message}"
        return RETRY, f"recipient refused: {message}"
    if isinstance(exc, smtplib.SMTPDataError):
        message = f"{exc.smtp_code} {_text(exc.smtp_error)}".strip()
        if 500 <= int(exc.smtp_code or 0) < 600:
            return PERMANENT, f"message refused: {message}"
        return RETRY, f"message deferred: {message}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return RETRY, f"{exc.__class__.__name__}: {exc.smtp_code} {_text(exc.smtp_error)}".strip()
    return RETRY, f"{exc.__class__.__name__}: {exc}".strip()


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


# --------------------------------------------------------------------------------------------
# Unsubscribe tokens
# --------------------------------------------------------------------------------------------

TOKEN_SALT = "civic.notifications.unsubscribe"


def make_unsubscribe_token(secret: str, kind: str, email: str, user_id: str | None = None) -> str:
    """A signed, URL-safe token naming who (a user, or only an address for officials) no
    longer wants which kind of mail. It works without logging in."""
    payload = {"k": kind, "e": email}
    if user_id:
        payload["u"] = user_id
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT).dumps(payload)


def read_unsubscribe_token(secret: str, token: Any, max_age_seconds: int) -> dict:
    """``{kind, email, user_id}``; ValidationFailed {"token": ...} when it is not one of
    ours, was altered or is too old."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        raise ValidationFailed({"token": "invalid unsubscribe link"})
    try:
        payload = URLSafeTimedSerializer(secret, salt=TOKEN_SALT).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise ValidationFailed({"token": "this unsubscribe link has expired; change your preferences "
                                         "in your account instead"}) from None
    except BadData:
        raise ValidationFailed({"token": "invalid unsubscribe link"}) from None
    if not isinstance(payload, dict) or not payload.get("k") or not payload.get("e"):
        raise ValidationFailed({"token": "invalid unsubscribe link"})
    kind = payload["k"]
    if kind not in ALL_KINDS and kind not in DIGEST_KINDS.values():
        raise ValidationFailed({"token": "invalid unsubscribe link"})
    return {"kind": kind, "email": payload["e"], "user_id": payload.get("u")}
