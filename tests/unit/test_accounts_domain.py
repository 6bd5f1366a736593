"""Unit tests of the pure accounts rules (services/accounts/domain.py)."""
import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from common import tokens
from services.accounts import domain
from services.accounts.domain import (
    AccountRules,
    Identity,
    ValidationFailed,
    effective_roles,
    normalize_email,
    retry_after,
    throttle_delay,
    token_claims,
    validate_grant,
    validate_registration,
)

RULES = AccountRules()
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
ALL_FIELDS = {"email", "password", "display_name", "country", "language", "postcode"}


def reg(**overrides):
    data = {
        "email": "claire@example.org",
        "password": "0123456789",
        "display_name": "Claire",
        "country": "FR",
        "language": "fr",
    }
    data.update(overrides)
    return data


def errors_of(data, rules=RULES) -> dict:
    with pytest.raises(ValidationFailed) as err:
        validate_registration(data, rules)
    assert err.value.args[0] is err.value.fields
    return err.value.fields


def email_of_length(n: int) -> str:
    domain_part = "example.org"
    return "a" * (n - 1 - len(domain_part)) + "@" + domain_part


# --------------------------------------------------------------------------
# validate_registration
# --------------------------------------------------------------------------


def test_valid_registration_is_cleaned_and_returns_only_known_fields():
    clean = validate_registration(
        reg(email="  Claire.Dupont@Example.ORG ", display_name="  Claire   \t Dupont ", country="fr",
            language="FR", postcode=" 75001 ", roles=["admin"], id="injected"),
        RULES,
    )
    assert clean == {
        "email": "claire.dupont@example.org",
        "password": "0123456789",
        "display_name": "Claire Dupont",
        "country": "FR",
        "language": "fr",
        "postcode": "75001",
    }
    assert set(clean) == ALL_FIELDS


def test_postcode_is_optional():
    assert validate_registration(reg(), RULES)["postcode"] is None
    assert validate_registration(reg(postcode=None), RULES)["postcode"] is None


def test_password_is_kept_verbatim():
    password = "  spaced Pässwörd  "
    assert validate_registration(reg(password=password), RULES)["password"] == password


@pytest.mark.parametrize("raw,expected", [
    ("Claire@Example.org", "claire@example.org"),
    ("  claire@example.org\t", "claire@example.org"),
    ("ÉLISE@EXEMPLE.FR", "élise@exemple.fr"),
    ("E\u0301lise@example.org", "\u00e9lise@example.org"),  # decomposed -> NFC composed
])
def test_email_is_normalised(raw, expected):
    assert validate_registration(reg(email=raw), RULES)["email"] == expected
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("email", [
    None, 42, "", "   ", "claire", "claire@", "@example.org", "claire@example", "cla ire@example.org",
    "claire@exa mple.org", "claire@@example.org", ["claire@example.org"],
])
def test_bad_email_is_named(email):
    assert set(errors_of(reg(email=email))) == {"email"}


def test_email_length_boundary_is_254():
    assert len(email_of_length(254)) == 254
    assert validate_registration(reg(email=email_of_length(254)), RULES)["email"] == email_of_length(254)
    assert set(errors_of(reg(email=email_of_length(255)))) == {"email"}


@pytest.mark.parametrize("length,ok", [(0, False), (1, False), (9, False), (10, True), (11, True),
                                       (1024, True), (1025, False)])
def test_password_length_boundaries(length, ok):
    password = "p" * length
    if ok:
        assert validate_registration(reg(password=password), RULES)["password"] == password
    else:
        fields = errors_of(reg(password=password))
        assert set(fields) == {"password"}
        expected = "at least 10" if length < 10 else "at most 1024"
        assert expected in fields["password"]


def test_password_length_counts_characters_not_bytes():
    assert validate_registration(reg(password="é" * 10), RULES)["password"] == "é" * 10
    assert set(errors_of(reg(password="é" * 9))) == {"password"}


@pytest.mark.parametrize("password", [None, 1234567890, ["0123456789"]])
def test_password_must_be_a_string(password):
    assert set(errors_of(reg(password=password))) == {"password"}


def test_password_rules_follow_configuration():
    rules = AccountRules(password_min_length=12, password_max_length=14)
    assert "at least 12" in errors_of(reg(password="x" * 11), rules)["password"]
    assert validate_registration(reg(password="x" * 12), rules)["password"] == "x" * 12
    assert validate_registration(reg(password="x" * 14), rules)["password"] == "x" * 14
    assert "at most 14" in errors_of(reg(password="x" * 15), rules)["password"]


@pytest.mark.parametrize("name,expected", [
    ("C", "C"), ("  Claire  ", "Claire"), ("Claire\n\tDupont", "Claire Dupont"), ("x" * 80, "x" * 80),
    (" " + "x" * 80 + " ", "x" * 80),
])
def test_display_name_accepted_and_collapsed(name, expected):
    assert validate_registration(reg(display_name=name), RULES)["display_name"] == expected


@pytest.mark.parametrize("name", [None, "", "   ", "\t\n", "x" * 81, 5, ["Claire"]])
def test_bad_display_name(name):
    fields = errors_of(reg(display_name=name))
    assert set(fields) == {"display_name"}
    assert "1 to 80" in fields["display_name"]


def test_display_name_length_is_checked_after_collapsing_spaces():
    name = "a" + " " * 100 + "b"
    assert validate_registration(reg(display_name=name), RULES)["display_name"] == "a b"


@pytest.mark.parametrize("country", list(domain.COUNTRIES) + ["fr", "gb", "Ch"])
def test_countries_accepted_case_insensitively(country):
    assert validate_registration(reg(country=country), RULES)["country"] == country.upper()


@pytest.mark.parametrize("country", [None, "", "XX", "FRA", "US", 33, " FR"])
def test_bad_country(country):
    fields = errors_of(reg(country=country))
    assert set(fields) == {"country"}
    assert fields["country"] == "must be one of FR, DE, GB, BE, CH, LU"


@pytest.mark.parametrize("language", list(domain.LANGUAGES) + ["FR", "En"])
def test_languages_accepted_case_insensitively(language):
    assert validate_registration(reg(language=language), RULES)["language"] == language.lower()


@pytest.mark.parametrize("language", [None, "", "es", "fra", 1, "fr "])
def test_bad_language(language):
    fields = errors_of(reg(language=language))
    assert set(fields) == {"language"}
    assert fields["language"] == "must be one of fr, de, en, nl, it"


def test_countries_and_languages_follow_configuration():
    rules = AccountRules(countries=("FR",), languages=("fr",))
    assert validate_registration(reg(country="fr", language="FR"), rules)["country"] == "FR"
    fields = errors_of(reg(country="DE", language="de"), rules)
    assert fields == {"country": "must be one of FR", "language": "must be one of fr"}


@pytest.mark.parametrize("postcode,expected", [("1", "1"), ("x" * 16, "x" * 16), ("  75001  ", "75001"),
                                               ("SW1A 1AA", "SW1A 1AA")])
def test_postcode_accepted(postcode, expected):
    assert validate_registration(reg(postcode=postcode), RULES)["postcode"] == expected


@pytest.mark.parametrize("postcode", ["", "   ", "x" * 17, 75001, ["75001"]])
def test_bad_postcode(postcode):
    assert set(errors_of(reg(postcode=postcode))) == {"postcode"}


def test_every_bad_field_is_named_at_once():
    fields = errors_of({"email": "nope", "password": "short", "display_name": " ", "country": "XX",
                        "language": "xx", "postcode": ""})
    assert set(fields) == ALL_FIELDS
    assert fields["password"] == "must be at least 10 characters"
    assert fields["postcode"] == "must be 1 to 16 characters"


def test_empty_registration_names_every_required_field():
    fields = errors_of({})
    assert set(fields) == ALL_FIELDS - {"postcode"}


def test_validation_failed_is_a_domain_error():
    err = ValidationFailed({"email": "bad"})
    assert isinstance(err, domain.DomainError)
    assert err.fields == {"email": "bad"} and err.args == ({"email": "bad"},)


# --------------------------------------------------------------------------
# validate_grant
# --------------------------------------------------------------------------


def grant_error(*args, **kwargs) -> dict:
    with pytest.raises(ValidationFailed) as err:
        validate_grant(*args, **kwargs)
    return err.value.fields


@pytest.mark.parametrize("role", ["citizen", "moderator", "admin", "organisation", "editor"])
def test_grant_plain_roles(role):
    assert validate_grant(role) is None
    assert validate_grant(role, [], None) is None


def test_grant_moderator_with_questions():
    assert validate_grant("moderator", ["q1", "q2"]) is None


def test_grant_official_needs_an_actor():
    assert validate_grant("official", None, "actor-7") is None
    assert set(grant_error("official")) == {"actor_id"}
    assert set(grant_error("official", None, "")) == {"actor_id"}


@pytest.mark.parametrize("role", ["emperor", "", None, "Admin", "citizens"])
def test_grant_unknown_role(role):
    fields = grant_error(role, ["q1"], "actor-1")
    assert set(fields) == {"role"}
    assert fields["role"] == "must be one of " + ", ".join(domain.ROLES)


@pytest.mark.parametrize("role,actor", [("admin", None), ("citizen", None), ("official", "actor-1"),
                                        ("editor", None)])
def test_only_moderators_get_questions(role, actor):
    assert set(grant_error(role, ["q1"], actor)) == {"question_ids"}


# --------------------------------------------------------------------------
# effective_roles
# --------------------------------------------------------------------------


@pytest.mark.parametrize("granted,expected", [
    ([], ["citizen"]),
    (set(), ["citizen"]),
    (["citizen"], ["citizen"]),
    (["moderator"], ["citizen", "moderator"]),
    (["official", "admin", "moderator", "admin"], ["admin", "citizen", "moderator", "official"]),
    ((r for r in ["editor"]), ["citizen", "editor"]),
])
def test_effective_roles(granted, expected):
    assert effective_roles(granted) == expected


# --------------------------------------------------------------------------
# token_claims
# --------------------------------------------------------------------------


def identity(**overrides):
    values = dict(user_id="u-1", roles={"moderator"}, moderated_questions={"q9", "q10", "q2"},
                  actor_id=None, language="de", country="DE")
    values.update(overrides)
    return Identity(**values)


def test_token_claims_for_a_moderator():
    claims = token_claims(identity(), T0, RULES, "iss-x", "aud-y")
    iat = int(T0.timestamp())
    assert claims == {
        "sub": "u-1",
        "roles": ["citizen", "moderator"],
        "mq": ["q10", "q2", "q9"],
        "lang": "de",
        "country": "DE",
        "iss": "iss-x",
        "aud": "aud-y",
        "iat": iat,
        "exp": iat + 3600,
    }
    assert "actor" not in claims


@pytest.mark.parametrize("ttl", [1, 60, 3600, 86400])
@pytest.mark.parametrize("micro", [0, 1, 500000, 999999])
def test_exp_is_iat_plus_ttl(ttl, micro):
    now = T0 + timedelta(microseconds=micro)
    claims = token_claims(identity(), now, AccountRules(token_ttl_seconds=ttl), "i", "a")
    assert claims["iat"] == int(T0.timestamp())
    assert claims["exp"] - claims["iat"] == ttl
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)


def test_iat_is_the_utc_instant_whatever_the_offset():
    paris = T0.astimezone(timezone(timedelta(hours=2)))
    in_paris = token_claims(identity(), paris, RULES, "i", "a")
    in_utc = token_claims(identity(), T0, RULES, "i", "a")
    assert (in_paris["iat"], in_paris["exp"]) == (in_utc["iat"], in_utc["exp"])


def test_actor_claim_only_for_officials():
    official = identity(roles={"official"}, moderated_questions=set(), actor_id="actor-7")
    claims = token_claims(official, T0, RULES, "i", "a")
    assert claims["actor"] == "actor-7"
    assert claims["roles"] == ["citizen", "official"]
    assert claims["mq"] == []
    plain = token_claims(identity(roles=set(), moderated_questions=set()), T0, RULES, "i", "a")
    assert "actor" not in plain and plain["roles"] == ["citizen"]


def test_token_claims_round_trip_through_jwt():
    now = datetime.now(timezone.utc)
    claims = token_claims(identity(), now, RULES, tokens.ISSUER, tokens.AUDIENCE)
    decoded = tokens.decode(tokens.encode(claims, "s" * 40), "s" * 40)
    assert decoded == claims


# --------------------------------------------------------------------------
# throttle_delay / retry_after
# --------------------------------------------------------------------------


@pytest.mark.parametrize("failures,delay", [
    (-1, 0.0), (0, 0.0), (1, 0.0), (4, 0.0),
    (5, 1.0), (6, 2.0), (7, 4.0), (8, 8.0), (9, 16.0), (10, 32.0), (11, 64.0), (12, 128.0),
    (13, 256.0), (14, 512.0), (15, 900.0), (16, 900.0), (40, 900.0), (10 ** 6, 900.0),
])
def test_throttle_delay_table(failures, delay):
    assert throttle_delay(failures, RULES) == delay


def test_throttle_delay_follows_configuration():
    rules = AccountRules(free_login_failures=3, throttle_base_seconds=2.0, throttle_max_seconds=10.0)
    assert [throttle_delay(n, rules) for n in range(8)] == [0, 0, 0, 2, 4, 8, 10, 10]


def test_throttle_delay_never_decreases():
    delays = [throttle_delay(n, RULES) for n in range(100)]
    assert delays == sorted(delays)


@pytest.mark.parametrize("locked_until,expected", [
    (None, 0.0),
    (T0 - timedelta(hours=1), 0.0),
    (T0 - timedelta(microseconds=1), 0.0),
    (T0, 0.0),
    (T0 + timedelta(milliseconds=250), 0.25),
    (T0 + timedelta(seconds=90), 90.0),
    (T0 + timedelta(seconds=900), 900.0),
])
def test_retry_after(locked_until, expected):
    assert retry_after(locked_until, T0) == pytest.approx(expected)


def test_retry_after_compares_instants_across_offsets():
    later_elsewhere = (T0 + timedelta(seconds=30)).astimezone(timezone(timedelta(hours=-5)))
    assert retry_after(later_elsewhere, T0) == pytest.approx(30.0)


# --------------------------------------------------------------------------
# AccountRules.from_mapping
# --------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, {}])
def test_from_mapping_defaults(values):
    rules = AccountRules.from_mapping(values)
    assert rules == AccountRules()
    assert rules.password_min_length == 10 and rules.password_max_length == 1024
    assert rules.display_name_max_length == 80 and rules.token_ttl_seconds == 3600
    assert rules.free_login_failures == 5 and rules.throttle_base_seconds == 1.0
    assert rules.throttle_max_seconds == 900.0
    assert rules.countries == domain.COUNTRIES and rules.languages == domain.LANGUAGES


def test_from_mapping_overrides_ignores_unknown_and_makes_tuples():
    rules = AccountRules.from_mapping({
        "password_min_length": 12, "token_ttl_seconds": 600, "countries": ["FR", "BE"],
        "languages": ["fr"], "unknown_key": 1, "AMQP_URI": "x",
    })
    assert rules == AccountRules(password_min_length=12, token_ttl_seconds=600, countries=("FR", "BE"),
                                 languages=("fr",))
    assert isinstance(rules.countries, tuple) and isinstance(rules.languages, tuple)
    hash(rules)  # frozen and hashable even when built from lists


def test_from_mapping_does_not_modify_its_input():
    values = {"countries": ["FR"], "password_min_length": 11}
    AccountRules.from_mapping(values)
    assert values == {"countries": ["FR"], "password_min_length": 11}


def test_rules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES.password_min_length = 1
