"""Accounts: pure rules for registration, roles, token claims and login throttling.

No I/O here: the service layer hashes passwords and stores users.
"""
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class DomainError(Exception):
    pass


class ValidationFailed(DomainError):
    def __init__(self, fields: dict):
        super().__init__(fields)
        self.fields = fields


ROLES = ("citizen", "moderator", "admin", "official", "organisation", "editor")
LANGUAGES = ("fr", "de", "en", "nl", "it")
COUNTRIES = ("FR", "DE", "GB", "BE", "CH", "LU")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class AccountRules:
    password_min_length: int = 10
    password_max_length: int = 1024
    display_name_max_length: int = 80
    token_ttl_seconds: int = 3600
    free_login_failures: int = 5
    throttle_base_seconds: float = 1.0
    throttle_max_seconds: float = 900.0
    countries: tuple = COUNTRIES
    languages: tuple = LANGUAGES

    @classmethod
    def from_mapping(cls, values: dict | None) -> "AccountRules":
        values = values or {}
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for key in ("countries", "languages"):
            if key in known:
                value = known[key]
                items = value.split(",") if isinstance(value, str) else value
                known[key] = tuple(item.strip() for item in items if item.strip())
        return cls(**known)


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFC", email.strip()).lower()


def validate_registration(data: dict, rules: AccountRules) -> dict:
    """Check a registration; returns the cleaned data or raises ValidationFailed naming
    every bad field at once."""
    errors = {}
    email = data.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email.strip()) or len(email) > 254:
        errors["email"] = "must be a valid e-mail address"
    password = data.get("password")
    if not isinstance(password, str) or len(password) < rules.password_min_length:
        errors["password"] = f"must be at least {rules.password_min_length} characters"
    elif len(password) > rules.password_max_length:
        errors["password"] = f"must be at most {rules.password_max_length} characters"
    name = data.get("display_name")
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name or len(name) > rules.display_name_max_length:
        errors["display_name"] = f"must be 1 to {rules.display_name_max_length} characters"
    country = data.get("country")
    country = country.upper() if isinstance(country, str) else country
    if country not in rules.countries:
        errors["country"] = f"must be one of {', '.join(rules.countries)}"
    language = data.get("language")
    language = language.lower() if isinstance(language, str) else language
    if language not in rules.languages:
        errors["language"] = f"must be one of {', '.join(rules.languages)}"
    postcode = data.get("postcode")
    if postcode is not None and (not isinstance(postcode, str) or not 1 <= len(postcode.strip()) <= 16):
        errors["postcode"] = "must be 1 to 16 characters"
    if errors:
        raise ValidationFailed(errors)
    return {
        "email": normalize_email(email),
        "password": password,
        "display_name": name,
        "country": country,
        "language": language,
        "postcode": postcode.strip() if postcode else None,
    }


def validate_grant(role: str, question_ids=None, actor_id=None) -> None:
    if role not in ROLES:
        raise ValidationFailed({"role": f"must be one of {', '.join(ROLES)}"})
    if role == "official" and not actor_id:
        raise ValidationFailed({"actor_id": "an official is linked to one public actor"})
    if role != "moderator" and question_ids:
        raise ValidationFailed({"question_ids": "only moderators are assigned questions"})


@dataclass
class Identity:
    user_id: str
    roles: set = field(default_factory=set)
    moderated_questions: set = field(default_factory=set)
    actor_id: str | None = None
    language: str = "en"
    country: str = "FR"


def effective_roles(granted) -> list:
    """Every account is a citizen; other roles add to it."""
    return sorted(set(granted) | {"citizen"})


def token_claims(identity: Identity, now: datetime, rules: AccountRules, issuer: str, audience: str) -> dict:
    claims = {
        "sub": identity.user_id,
        "roles": effective_roles(identity.roles),
        "mq": sorted(identity.moderated_questions),
        "lang": identity.language,
        "country": identity.country,
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=rules.token_ttl_seconds)).timestamp()),
    }
    if identity.actor_id:
        claims["actor"] = identity.actor_id
    return claims


def throttle_delay(failures: int, rules: AccountRules) -> float:
    """Seconds a login for an e-mail must wait after ``failures`` consecutive failures:
    free for the first few, then doubling up to a ceiling."""
    if failures < rules.free_login_failures:
        return 0.0
    exponent = failures - rules.free_login_failures
    return min(rules.throttle_base_seconds * (2 ** min(exponent, 30)), rules.throttle_max_seconds)


def retry_after(locked_until: datetime | None, now: datetime) -> float:
    """Seconds still to wait, 0 when free."""
    if locked_until is None or locked_until <= now:
        return 0.0
    return (locked_until - now).total_seconds()
