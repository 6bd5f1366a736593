"""Unit tests of the pure commitments rules (services/commitments/domain.py)."""
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from services.commitments import domain
from services.commitments.domain import Caller, CommitmentRules, Conflict, Forbidden, ValidationFailed

# PolitiFact's scale and the vocabularies, written out rather than imported from the code under test.
STATUSES = ["not_yet_rated", "in_the_works", "stalled", "kept", "compromise", "broken"]
KINDS = ["elected", "party", "government", "organisation"]
LEVELS = ["local", "national", "european"]
COUNTRIES = ["FR", "DE", "GB", "BE", "CH", "LU", "EU"]
LOCALES = ["fr", "de", "en", "nl", "it"]
RULES = CommitmentRules()
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
EVIDENCE = "https://example.org/evidence/1"


def actor(**overrides):
    data = {"name": "Camille Exemple", "kind": "elected", "party": "Parti Imaginaire", "mandate": "Députée",
            "level": "national", "country": "FR", "constituency": "Fictiveville 1",
            "contact_emails": ["camille@example.org"], "locale": "fr", "external_id": "FR-1"}
    data.update(overrides)
    return data


def commitment(**overrides):
    data = {"actor_id": "a-1", "proposal_id": "p-1", "campaign_id": None, "statement": "I will do it",
            "made_at": NOW - timedelta(days=1), "source_url": None}
    data.update(overrides)
    return data


def fields_of(call, *args, **kwargs):
    with pytest.raises(ValidationFailed) as err:
        call(*args, **kwargs)
    return err.value.fields


# -- the vocabularies ---------------------------------------------------------------------------------
def test_vocabularies():
    assert list(domain.STATUSES) == STATUSES
    assert list(domain.KINDS) == KINDS
    assert list(domain.LEVELS) == LEVELS
    assert sorted(RULES.countries) == sorted(COUNTRIES)
    assert list(RULES.locales) == LOCALES
    assert domain.UNRATED == "not_yet_rated"


# -- actors: each field -------------------------------------------------------------------------------
def test_valid_actor_is_normalised():
    out = domain.validate_actor(actor(name="  Camille   Exemple ", kind=" Elected", level="NATIONAL", country="fr",
                                      locale="FR", party="", mandate="   ", constituency=None,
                                      contact_emails=[" Camille@Example.org ", "camille@example.org", "b@example.org"]),
                                RULES)
    assert out == {"external_id": "FR-1", "name": "Camille Exemple", "kind": "elected", "party": None,
                   "mandate": None, "level": "national", "country": "FR", "constituency": None,
                   "contact_emails": ["camille@example.org", "b@example.org"], "locale": "fr"}
    assert list(out) == list(domain.ACTOR_FIELDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind(kind):
    assert domain.validate_actor(actor(kind=kind), RULES)["kind"] == kind


@pytest.mark.parametrize("level", LEVELS)
def test_each_level(level):
    assert domain.validate_actor(actor(level=level), RULES)["level"] == level


@pytest.mark.parametrize("country", COUNTRIES)
def test_each_country(country):
    out = domain.validate_actor(actor(country=country, level="european"), RULES)
    assert out["country"] == country


@pytest.mark.parametrize("locale", LOCALES)
def test_each_locale(locale):
    assert domain.validate_actor(actor(locale=locale), RULES)["locale"] == locale


@pytest.mark.parametrize("country, locale", [("FR", "fr"), ("DE", "de"), ("GB", "en"), ("BE", "nl"),
                                             ("CH", "de"), ("LU", "fr"), ("EU", "en")])
def test_missing_locale_takes_the_country_default(country, locale):
    assert domain.validate_actor(actor(country=country, level="european", locale=None), RULES)["locale"] == locale
    assert domain.validate_actor(actor(country=country, level="european", locale=""), RULES)["locale"] == locale


@pytest.mark.parametrize("field, value", [
    ("name", None), ("name", ""), ("name", "   "), ("name", "x" * 201), ("name", 42),
    ("kind", None), ("kind", "citizen"), ("kind", "mp"), ("kind", 3), ("kind", ["elected"]),
    ("level", None), ("level", "regional"), ("level", "world"), ("level", 1),
    ("country", None), ("country", "US"), ("country", "FRA"), ("country", "XX"), ("country", 33),
    ("locale", "es"), ("locale", "fr-FR"), ("locale", 1),
    ("party", "p" * 201), ("party", 3), ("mandate", "m" * 201), ("constituency", "c" * 201),
    ("external_id", "e" * 101), ("external_id", 12),
    ("contact_emails", "a@example.org"), ("contact_emails", ["not-an-email"]), ("contact_emails", ["a@b"]),
    ("contact_emails", ["a b@example.org"]), ("contact_emails", ["@example.org"]), ("contact_emails", [3]),
    ("contact_emails", ["ok@example.org", "bad@"]), ("contact_emails", {"a": "a@example.org"}),
])
def test_each_invalid_field_is_named(field, value):
    assert set(fields_of(domain.validate_actor, actor(**{field: value}), RULES)) == {field}


def test_boundaries_of_lengths():
    assert domain.validate_actor(actor(name="x" * 200, party="p" * 200, external_id="e" * 100), RULES)
    assert domain.validate_actor(actor(name="X"), RULES)["name"] == "X"


def test_every_faulty_field_is_reported_at_once():
    errors = fields_of(domain.validate_actor, {"kind": "mp", "level": "world", "country": "US",
                                               "contact_emails": ["nope"]}, RULES)
    assert set(errors) == {"name", "kind", "level", "country", "contact_emails"}
    assert "nope" in errors["contact_emails"]


def test_not_a_mapping():
    assert set(fields_of(domain.validate_actor, ["x"], RULES)) == {"_schema"}


def test_optional_fields_may_be_absent():
    out = domain.validate_actor({"name": "Parti Imaginaire", "kind": "party", "level": "national",
                                 "country": "DE"}, RULES)
    assert out["party"] is None and out["mandate"] is None and out["constituency"] is None
    assert out["external_id"] is None and out["contact_emails"] == [] and out["locale"] == "de"


@pytest.mark.parametrize("level", ["local", "national"])
def test_eu_bodies_are_european_level(level):
    errors = fields_of(domain.validate_actor, actor(country="EU", level=level), RULES)
    assert set(errors) == {"level"} and "european" in errors["level"]


def test_european_level_actor_of_a_member_country():
    """An MEP is european-level but belongs to a country."""
    assert domain.validate_actor(actor(country="FR", level="european"), RULES)["country"] == "FR"


def test_contact_email_cap():
    rules = CommitmentRules(max_contact_emails=2)
    emails = ["a@example.org", "b@example.org", "c@example.org"]
    assert "at most 2" in fields_of(domain.validate_actor, actor(contact_emails=emails), rules)["contact_emails"]
    assert len(domain.validate_actor(actor(contact_emails=emails[:2] + ["A@example.org"]), rules)
               ["contact_emails"]) == 2  # duplicates do not count


@pytest.mark.parametrize("address", ["a@example.org", "first.last+tag@sub.example.co.uk", "x_y@d-1.example.fr"])
def test_valid_emails(address):
    assert domain.validate_email(address.upper()) == address.lower()


@pytest.mark.parametrize("address", ["", "plain", "a@b", "a@@b.org", "a@b..org", "a@-b.org", "a @b.org",
                                     "a@b.org;c@d.org", "a@b.c", "<a@b.org>", None, 7, "a@" + "b" * 250 + ".org"])
def test_invalid_emails(address):
    with pytest.raises(ValueError):
        domain.validate_email(address)


def test_actor_changes():
    current = domain.validate_actor(actor(), RULES)
    assert domain.actor_changes(current, dict(current)) == {}
    new = dict(current, party=None, contact_emails=["other@example.org"])
    assert domain.actor_changes(current, new) == {"party": None, "contact_emails": ["other@example.org"]}
    reordered = dict(current, contact_emails=["b@example.org", "camille@example.org"])
    assert "contact_emails" in domain.actor_changes(dict(current, contact_emails=["camille@example.org",
                                                                                 "b@example.org"]), reordered)
    assert domain.actor_changes(dict(current, contact_emails=None), dict(current, contact_emails=[])) == {}


# -- CSV rows --------------------------------------------------------------------------------------------
CSV_ROW = {"external_id": " FR-9 ", "name": "Alix Fictif", "kind": "Elected", "party": "", "mandate": "Député",
           "level": "National", "country": "fr", "constituency": "", "contact_emails": "a@example.org; B@example.org;;",
           "locale": ""}


def test_normalize_csv_row():
    assert domain.normalize_csv_row(CSV_ROW) == {
        "external_id": "FR-9", "name": "Alix Fictif", "kind": "Elected", "party": None, "mandate": "Député",
        "level": "National", "country": "fr", "constituency": None,
        "contact_emails": ["a@example.org", "B@example.org"], "locale": None}
    validated = domain.validate_actor(domain.normalize_csv_row(CSV_ROW), RULES)
    assert validated["kind"] == "elected" and validated["country"] == "FR" and validated["locale"] == "fr"
    assert validated["contact_emails"] == ["a@example.org", "b@example.org"]


def test_csv_row_missing_cells_and_header_case():
    row = {"External_ID": "x", " Name ": "N", "kind": None}  # a short row: DictReader gives None
    assert domain.normalize_csv_row(row) == {"external_id": "x", "name": "N", "kind": None, "contact_emails": []}


def test_csv_row_unknown_column_is_named():
    assert set(fields_of(domain.normalize_csv_row, dict(CSV_ROW, twitter="@x"))) == {"twitter"}


def test_csv_row_with_too_many_values():
    assert set(fields_of(domain.normalize_csv_row, {**CSV_ROW, None: ["extra"]})) == {"_row"}


def test_csv_row_not_a_mapping():
    assert set(fields_of(domain.normalize_csv_row, ["a", "b"])) == {"_row"}


def test_csv_non_string_cells_are_read_as_text():
    assert domain.normalize_csv_row({"external_id": 12})["external_id"] == "12"


# -- imports ---------------------------------------------------------------------------------------------
def csv_row(n, **overrides):
    row = {"external_id": f"E-{n}", "name": f"Person {n}", "kind": "elected", "party": "", "mandate": "",
           "level": "national", "country": "FR", "constituency": "", "contact_emails": f"p{n}@example.org",
           "locale": "fr"}
    row.update(overrides)
    return row


def test_prepare_import_accounts_for_every_row():
    rows = [csv_row(1), csv_row(2, kind="wizard", contact_emails="x"), csv_row(3, external_id=""),
            csv_row(1, name="Again"), csv_row(4)]
    valid, errors = domain.prepare_import(rows, RULES)
    assert [n for n, _ in valid] == [1, 5]
    assert errors == [
        {"row": 2, "fields": {"kind": errors[0]["fields"]["kind"], "contact_emails": errors[0]["fields"]["contact_emails"]}},
        {"row": 3, "fields": {"external_id": "required for an import"}},
        {"row": 4, "fields": {"external_id": "'E-1' already appears in row 1"}},
    ]
    assert "wizard" in errors[0]["fields"]["kind"]
    assert len(valid) + len(errors) == len(rows)


def test_prepare_import_numbers_from_start_row():
    valid, errors = domain.prepare_import([csv_row(1), csv_row(2, name="")], RULES, start_row=501)
    assert [n for n, _ in valid] == [501] and errors[0]["row"] == 502 and set(errors[0]["fields"]) == {"name"}


def test_prepare_import_limits():
    rules = CommitmentRules(import_max_rows=2)
    assert set(fields_of(domain.prepare_import, [csv_row(1), csv_row(2), csv_row(3)], rules)) == {"rows"}
    assert domain.prepare_import([csv_row(1), csv_row(2)], rules)[1] == []
    assert set(fields_of(domain.prepare_import, "not rows", RULES)) == {"rows"}
    assert domain.prepare_import([], RULES) == ([], [])


def test_plan_import():
    valid, _ = domain.prepare_import([csv_row(1), csv_row(2), csv_row(3)], RULES)
    existing = {"E-1": dict(valid[0][1]), "E-2": dict(valid[1][1], party="Old party")}
    plan = domain.plan_import(valid, existing)
    assert plan["unchanged"] == [1]
    assert plan["update"] == [(2, "E-2", {"party": None})]
    assert plan["create"] == [(3, valid[2][1])]


def test_plan_import_twice_changes_nothing():
    valid, _ = domain.prepare_import([csv_row(1), csv_row(2)], RULES)
    first = domain.plan_import(valid, {})
    assert len(first["create"]) == 2
    stored = {a["external_id"]: a for _, a in first["create"]}
    assert domain.plan_import(valid, stored) == {"create": [], "update": [], "unchanged": [1, 2]}


# -- roles -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mapping, admin, editor", [
    (None, False, False),
    ({}, False, False),
    ({"user_id": None, "roles": ["admin"]}, False, False),  # roles of an anonymous caller do not count
    ({"user_id": "", "roles": ["editor"]}, False, False),
    ({"user_id": "u", "roles": []}, False, False),
    ({"user_id": "u", "roles": ["citizen"]}, False, False),
    ({"user_id": "u", "roles": ["official"], "actor_id": "a"}, False, False),
    ({"user_id": "u", "roles": ["moderator"]}, False, False),
    ({"user_id": "u", "roles": ["editor"]}, False, True),
    ({"user_id": "u", "roles": ["admin"]}, True, True),
    ({"user_id": "u", "roles": "admin"}, True, True),
    ({"user_id": 7, "roles": ["citizen", "editor"]}, False, True),
])
def test_role_checks(mapping, admin, editor):
    caller = Caller.from_mapping(mapping)
    assert caller.is_admin is admin and caller.is_editor is editor
    if admin:
        domain.require_admin(caller)
    else:
        with pytest.raises(Forbidden) as err:
            domain.require_admin(caller)
        assert str(err.value) == ("login required" if not caller.is_authenticated else "admin role required")
    if editor:
        domain.require_editor(caller)
    else:
        with pytest.raises(Forbidden) as err:
            domain.require_editor(caller)
        assert str(err.value) == ("login required" if not caller.is_authenticated else "editor or admin role required")


def test_caller_from_mapping():
    caller = Caller.from_mapping({"user_id": 7, "roles": ["official"], "moderated_questions": ["q"], "actor_id": "a1"})
    assert caller == Caller(user_id="7", roles=frozenset({"official"}), actor_id="a1")
    assert Caller.from_mapping("garbage") == Caller()


# -- commitments ------------------------------------------------------------------------------------------
def test_valid_commitment():
    out = domain.validate_commitment(commitment(statement="  I   will\ndo it ", campaign_id="c-1"), RULES, NOW)
    assert out == {"actor_id": "a-1", "proposal_id": "p-1", "campaign_id": "c-1", "statement": "I will do it",
                   "made_at": NOW - timedelta(days=1), "source_url": None}


@pytest.mark.parametrize("proposal_id, campaign_id", [("p-1", None), (None, "c-1"), ("p-1", "c-1")])
def test_tied_to_the_platform_source_url_optional(proposal_id, campaign_id):
    out = domain.validate_commitment(commitment(proposal_id=proposal_id, campaign_id=campaign_id), RULES, NOW)
    assert out["source_url"] is None


@pytest.mark.parametrize("source_url", [None, "", "   "])
def test_outside_the_platform_needs_a_source_url(source_url):
    errors = fields_of(domain.validate_commitment, commitment(proposal_id=None, campaign_id="", source_url=source_url),
                       RULES, NOW)
    assert set(errors) == {"source_url"} and "required" in errors["source_url"]


def test_outside_the_platform_with_source_url():
    out = domain.validate_commitment(commitment(proposal_id=None, source_url=" https://news.example.org/a?b=1 "),
                                     RULES, NOW)
    assert out["source_url"] == "https://news.example.org/a?b=1" and out["proposal_id"] is None


@pytest.mark.parametrize("field, value", [
    ("actor_id", None), ("actor_id", ""), ("actor_id", 5),
    ("statement", None), ("statement", ""), ("statement", "ab"), ("statement", "s" * 2001), ("statement", 3),
    ("made_at", None), ("made_at", "2026-01-01T00:00:00Z"), ("made_at", datetime(2026, 1, 1)),
    ("made_at", NOW + timedelta(minutes=6)),
    ("source_url", "ftp://example.org/x"), ("source_url", "example.org/x"), ("source_url", "https://"),
    ("source_url", "https://exa mple.org"), ("source_url", "https://example.org/" + "x" * 2000),
    ("source_url", 12), ("proposal_id", "p" * 65), ("campaign_id", 9),
])
def test_each_invalid_commitment_field_is_named(field, value):
    assert set(fields_of(domain.validate_commitment, commitment(**{field: value}), RULES, NOW)) == {field}


def test_made_at_clock_skew_is_configurable():
    assert domain.validate_commitment(commitment(made_at=NOW + timedelta(minutes=4)), RULES, NOW)
    strict = CommitmentRules(made_at_max_future_seconds=0)
    assert domain.validate_commitment(commitment(made_at=NOW), strict, NOW)
    assert set(fields_of(domain.validate_commitment, commitment(made_at=NOW + timedelta(seconds=1)), strict, NOW)) \
        == {"made_at"}


def test_statement_lengths_are_configurable():
    rules = CommitmentRules(statement_min_length=10, statement_max_length=20)
    assert set(fields_of(domain.validate_statement, "too short", rules)) == {"statement"}
    assert domain.validate_statement("just long enough", rules) == "just long enough"
    assert set(fields_of(domain.validate_statement, "x" * 21, rules)) == {"statement"}


def test_every_faulty_commitment_field_at_once():
    errors = fields_of(domain.validate_commitment, {"proposal_id": None, "statement": "", "made_at": None}, RULES, NOW)
    assert set(errors) == {"actor_id", "statement", "made_at", "source_url"}


# -- status changes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("current, new", [(a, b) for a, b in itertools.product(STATUSES, STATUSES) if a != b])
def test_any_status_may_follow_any_other(current, new):
    change = domain.change_status(current, new, EVIDENCE, "a note", RULES)
    assert change == {"status": new, "previous_status": current, "evidence_url": EVIDENCE, "note": "a note"}


@pytest.mark.parametrize("status", STATUSES)
def test_same_status_again_is_a_conflict(status):
    with pytest.raises(Conflict) as err:
        domain.change_status(status, status, EVIDENCE, None, RULES)
    assert str(err.value) == f"already {status}"


@pytest.mark.parametrize("new", [s for s in STATUSES if s != "not_yet_rated"])
@pytest.mark.parametrize("evidence", [None, "", "  "])
def test_ratings_cite_their_sources(new, evidence):
    current = "not_yet_rated" if new != "not_yet_rated" else "kept"
    errors = fields_of(domain.change_status, current, new, evidence, None, RULES)
    assert set(errors) == {"evidence_url"}


@pytest.mark.parametrize("evidence", ["not a url", "mailto:x@example.org", "javascript:alert(1)", "//example.org/x", 3])
def test_evidence_must_be_a_http_url(evidence):
    assert set(fields_of(domain.change_status, "not_yet_rated", "kept", evidence, None, RULES)) == {"evidence_url"}


def test_back_to_not_yet_rated_needs_no_evidence():
    assert domain.change_status("kept", "not_yet_rated", None, None, RULES) == {
        "status": "not_yet_rated", "previous_status": "kept", "evidence_url": None, "note": None}
    assert domain.change_status("kept", "not_yet_rated", EVIDENCE, None, RULES)["evidence_url"] == EVIDENCE


@pytest.mark.parametrize("status", ["KEPT", "done", "", None, 1, "promise_kept"])
def test_unknown_status(status):
    assert set(fields_of(domain.change_status, "not_yet_rated", status, EVIDENCE, None, RULES)) == {"status"}


def test_unknown_status_is_checked_before_evidence_and_conflict_before_evidence():
    assert set(fields_of(domain.change_status, "kept", "done", None, None, RULES)) == {"status"}
    with pytest.raises(Conflict):
        domain.change_status("kept", "kept", None, None, RULES)


def test_note():
    assert domain.change_status("kept", "broken", EVIDENCE, "  see   the vote ", RULES)["note"] == "see the vote"
    assert domain.change_status("kept", "broken", EVIDENCE, "", RULES)["note"] is None
    assert set(fields_of(domain.change_status, "kept", "broken", EVIDENCE, "n" * 2001, RULES)) == {"note"}
    assert set(fields_of(domain.change_status, "kept", "broken", EVIDENCE, 5, RULES)) == {"note"}


def test_moves_in_both_directions_over_a_life():
    status, history = "not_yet_rated", []
    for new in ["in_the_works", "stalled", "in_the_works", "kept", "compromise", "broken", "in_the_works"]:
        change = domain.change_status(status, new, EVIDENCE, None, RULES)
        history.append((change["previous_status"], change["status"]))
        status = new
    assert history[2] == ("stalled", "in_the_works") and history[-1] == ("broken", "in_the_works")


# -- scoreboard -------------------------------------------------------------------------------------------
def test_scoreboard_hand_computed():
    board = domain.scoreboard({"not_yet_rated": 3, "in_the_works": 1, "stalled": 1, "kept": 2, "compromise": 0,
                               "broken": 1})
    # rated = 8 - 3 = 5; kept 2/5, broken 1/5
    assert board == {"total": 8, "by_status": {"not_yet_rated": 3, "in_the_works": 1, "stalled": 1, "kept": 2,
                                               "compromise": 0, "broken": 1},
                     "kept_share": 0.4, "broken_share": 0.2}


def test_scoreboard_thirds():
    board = domain.scoreboard({"kept": 1, "broken": 1, "compromise": 1, "not_yet_rated": 4})
    assert board["total"] == 7
    assert board["kept_share"] == pytest.approx(1 / 3) and board["broken_share"] == pytest.approx(1 / 3)


def test_scoreboard_with_nothing_rated():
    assert domain.scoreboard({"not_yet_rated": 2}) == {
        "total": 2, "by_status": dict.fromkeys(STATUSES, 0) | {"not_yet_rated": 2},
        "kept_share": None, "broken_share": None}
    assert domain.scoreboard({}) == {"total": 0, "by_status": dict.fromkeys(STATUSES, 0),
                                     "kept_share": None, "broken_share": None}
    assert domain.scoreboard(None)["total"] == 0


def test_scoreboard_all_kept_and_unknown_ignored():
    board = domain.scoreboard({"kept": 4, "mystery": 9})
    assert board["total"] == 4 and board["kept_share"] == 1.0 and board["broken_share"] == 0.0
    assert list(board["by_status"]) == STATUSES


def test_scoreboard_rejects_bad_counts():
    with pytest.raises(ValueError):
        domain.scoreboard({"kept": -1})


def test_count_statuses_feeds_the_scoreboard():
    counts = domain.count_statuses(["kept", "kept", "broken", "not_yet_rated"])
    assert counts == {"kept": 2, "broken": 1, "not_yet_rated": 1}
    assert domain.scoreboard(counts)["kept_share"] == pytest.approx(2 / 3)


# -- configuration ----------------------------------------------------------------------------------------
def test_rules_from_mapping():
    rules = CommitmentRules.from_mapping({"page_size_max": "50", "actor_commitments_cap": 10, "unknown": 1,
                                          "locales": ["fr", "en"], "country_locales": {"FR": "fr", "EU": "en"}})
    assert rules.page_size_max == 50 and rules.actor_commitments_cap == 10
    assert rules.countries == ("FR", "EU") and rules.locales == ("fr", "en")
    assert CommitmentRules.from_mapping(None) == CommitmentRules()
    # a new country joins by configuration, not by code
    more = CommitmentRules.from_mapping({"country_locales": {**RULES.country_locales, "IT": "it"}})
    assert domain.validate_actor(actor(country="IT", locale=None), more)["locale"] == "it"
    assert set(fields_of(domain.validate_actor, actor(country="IT"), RULES)) == {"country"}


@pytest.mark.parametrize("overrides, field", [
    ({"page_size_max": 0}, "page_size_max"), ({"page_size_max": "many"}, "page_size_max"),
    ({"page_size_default": 30, "page_size_max": 20}, "page_size_default"),
    ({"statement_min_length": 50, "statement_max_length": 10}, "statement_min_length"),
    ({"country_locales": {"FR": "xx"}}, "country_locales"), ({"country_locales": {"fra": "fr"}}, "country_locales"),
    ({"country_locales": {}}, "country_locales"), ({"country_locales": {"FR": "fr"}}, "eu_country"),
    ({"locales": []}, "locales"), ({"made_at_max_future_seconds": -1}, "made_at_max_future_seconds"),
    ({"import_max_rows": True}, "import_max_rows"),
])
def test_inconsistent_rules(overrides, field):
    assert field in fields_of(CommitmentRules.from_mapping, overrides)


def test_paging():
    assert RULES.page(None, None) == (20, 0)
    assert RULES.page(3, 10) == (10, 20)
    assert RULES.page(1, 100) == (100, 0)
    assert set(fields_of(RULES.page, 1, 101)) == {"per_page"}
    assert set(fields_of(RULES.page, 1, 0)) == {"per_page"}
    assert set(fields_of(RULES.page, 0, 10)) == {"page"}
    assert CommitmentRules(page_size_max=5, page_size_default=5).page(None, None) == (5, 0)
    assert set(fields_of(CommitmentRules(page_size_max=5, page_size_default=5).page, 1, 6)) == {"per_page"}
