"""Commitments service on the real broker and PostgreSQL: public actors, imports,
commitments and their ratings, events, and officials' commitments learnt from lobbying's
``official_committed`` events (published here on the real ``lobbying.events`` exchange)."""
import copy
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa

from common.config import derive_database_url, sqlalchemy_url
from common.events import make_envelope
from common.migrations import upgrade
from common.rpc_client import RemoteError, pika_parameters
from services.commitments import cli
from services.commitments.service import CommitmentsService

ADMIN = {"user_id": "admin-1", "roles": ["citizen", "admin"], "moderated_questions": [], "actor_id": None}
EDITOR = {"user_id": "editor-1", "roles": ["citizen", "editor"], "moderated_questions": [], "actor_id": None}
CITIZEN = {"user_id": "citizen-1", "roles": ["citizen"], "moderated_questions": [], "actor_id": None}
MODERATOR = {"user_id": "mod-1", "roles": ["citizen", "moderator"], "moderated_questions": ["q"], "actor_id": None}
STATUSES = ["not_yet_rated", "in_the_works", "stalled", "kept", "compromise", "broken"]
EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "services" / "commitments" / "examples" / "fr_deputies_sample.csv"
CAP = 3  # actor_commitments_cap in the test configuration


@pytest.fixture(scope="module")
def commitments_url(pg_base_url):
    """The commitments database, migrated (whether or not the service registry lists it yet)."""
    url = derive_database_url(pg_base_url, "commitments")
    upgrade("commitments", url)
    return url


@pytest.fixture
def service(run_service, db_urls, commitments_url):
    return run_service(CommitmentsService, {
        "DATABASE_URLS": {**db_urls, "commitments": commitments_url},
        "COMMITMENTS": {"page_size_max": 50, "actor_commitments_cap": CAP},
    })


@pytest.fixture
def db(commitments_url):
    engine = sa.create_engine(sqlalchemy_url(commitments_url))
    yield engine
    engine.dispose()


def token():
    return uuid.uuid4().hex[:10]


def official(actor_id):
    return {"user_id": "official-1", "roles": ["citizen", "official"], "moderated_questions": [], "actor_id": actor_id}


def actor_body(tag, **overrides):
    body = {"name": f"Camille Exemple {tag}", "kind": "elected", "party": "Parti Imaginaire", "mandate": "Députée",
            "level": "national", "country": "FR", "constituency": f"Fictiveville {tag}",
            "contact_emails": [f"camille.{tag}@example.org"], "locale": "fr", "external_id": None}
    body.update(overrides)
    return body


def make_actor(rpc, tag=None, **overrides):
    return rpc.commitments.create_actor(ADMIN, actor_body(tag or token(), **overrides))


def remote_error(call, *args, **kwargs):
    with pytest.raises(RemoteError) as err:
        call(*args, **kwargs)
    return err.value


def parse(value):
    return datetime.fromisoformat(value)


def poll(fetch, done, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


# -- public actors ---------------------------------------------------------------------------------------
def test_create_and_get_actor(service, rpc, events):
    recorder = events("commitments", ["actor_created"])
    tag = token()
    created = rpc.commitments.create_actor(ADMIN, actor_body(tag, name=f"  Camille   Exemple {tag} ", kind="Elected",
                                                             country="fr", locale=None, external_id=f"X-{tag}",
                                                             contact_emails=[f"Camille.{tag}@Example.org"]))
    assert created["name"] == f"Camille Exemple {tag}" and created["kind"] == "elected"
    assert created["country"] == "FR" and created["locale"] == "fr" and created["external_id"] == f"X-{tag}"
    assert created["contact_emails"] == [f"camille.{tag}@example.org"]
    assert created["party"] == "Parti Imaginaire" and created["mandate"] == "Députée" and created["level"] == "national"
    fetched = rpc.commitments.get_actor(created["id"])
    assert {k: v for k, v in fetched.items() if k not in ("commitments", "scoreboard")} == created
    assert fetched["commitments"] == []
    assert fetched["scoreboard"] == {"total": 0, "by_status": dict.fromkeys(STATUSES, 0),
                                     "kept_share": None, "broken_share": None}
    event = recorder.wait_for(lambda e: e["data"]["id"] == created["id"])
    assert event["event_type"] == "actor_created" and event["source"] == "commitments"
    assert event["data"] == created
    assert remote_error(rpc.commitments.get_actor, str(uuid.uuid4())).exc_type == "NotFound"


@pytest.mark.parametrize("caller, message", [
    (None, "login required"), ({}, "login required"), ({"user_id": None, "roles": ["admin"]}, "login required"),
    (CITIZEN, "admin role required"), (EDITOR, "admin role required"), (MODERATOR, "admin role required"),
])
def test_only_admins_manage_actors(service, rpc, caller, message):
    err = remote_error(rpc.commitments.create_actor, caller, actor_body(token()))
    assert err.exc_type == "Forbidden" and message in err.value
    existing = make_actor(rpc)
    err = remote_error(rpc.commitments.update_actor, caller, existing["id"], {"party": "Other"})
    assert err.exc_type == "Forbidden"
    err = remote_error(rpc.commitments.import_actors, caller, [])
    assert err.exc_type == "Forbidden"
    assert rpc.commitments.get_actor(existing["id"])["party"] == "Parti Imaginaire"


def test_official_cannot_create_actors(service, rpc):
    actor = make_actor(rpc)
    assert remote_error(rpc.commitments.create_actor, official(actor["id"]), actor_body(token())).exc_type == "Forbidden"


@pytest.mark.parametrize("field, value", [
    ("name", ""), ("kind", "citizen"), ("level", "regional"), ("country", "US"), ("locale", "es"),
    ("contact_emails", ["not-an-address"]), ("contact_emails", "a@example.org"), ("party", "p" * 201),
])
def test_actor_validation_names_the_field(service, rpc, field, value):
    err = remote_error(rpc.commitments.create_actor, ADMIN, actor_body(token(), **{field: value}))
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {field}


def test_actor_validation_missing_and_unknown_fields(service, rpc):
    err = remote_error(rpc.commitments.create_actor, ADMIN, {"name": "No kind"})
    assert err.exc_type == "ValidationFailed" and {"kind", "level", "country"} <= set(err.exc_args[0])
    err = remote_error(rpc.commitments.create_actor, ADMIN, actor_body(token(), twitter="@x"))
    assert err.exc_type == "ValidationFailed" and "twitter" in err.exc_args[0]
    err = remote_error(rpc.commitments.create_actor, ADMIN, actor_body(token(), country="EU", level="national"))
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"level"}


def test_duplicate_external_id_is_a_conflict(service, rpc, db):
    external_id = f"DUP-{token()}"
    make_actor(rpc, external_id=external_id)
    err = remote_error(rpc.commitments.create_actor, ADMIN, actor_body(token(), external_id=external_id))
    assert err.exc_type == "Conflict" and external_id in err.value
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM actors WHERE external_id = :e"),
                            {"e": external_id}).scalar_one() == 1


def test_update_actor(service, rpc, events):
    recorder = events("commitments", ["actor_updated"])
    actor = make_actor(rpc)
    updated = rpc.commitments.update_actor(ADMIN, actor["id"], {"party": "Mouvement Inventé",
                                                               "contact_emails": ["new@example.org"]})
    assert updated["party"] == "Mouvement Inventé" and updated["contact_emails"] == ["new@example.org"]
    assert updated["name"] == actor["name"] and parse(updated["updated_at"]) > parse(actor["updated_at"])
    assert rpc.commitments.get_actor(actor["id"])["party"] == "Mouvement Inventé"
    event = recorder.wait_for(lambda e: e["data"]["id"] == actor["id"])
    assert event["data"]["party"] == "Mouvement Inventé"
    same = rpc.commitments.update_actor(ADMIN, actor["id"], {"party": "Mouvement Inventé"})
    assert same["updated_at"] == updated["updated_at"]  # nothing changed, nothing published
    err = remote_error(rpc.commitments.update_actor, ADMIN, actor["id"], {"level": "galactic"})
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"level"}
    assert remote_error(rpc.commitments.update_actor, ADMIN, str(uuid.uuid4()), {"party": "x"}).exc_type == "NotFound"
    time.sleep(0.5)
    assert len(recorder.matching(lambda e: e["data"]["id"] == actor["id"])) == 1


def test_list_actors_filters_and_pages(service, rpc):
    tag = token()
    fr = make_actor(rpc, name=f"Alpha {tag}", country="FR", level="national", kind="elected")
    de = make_actor(rpc, name=f"Beta {tag}", country="DE", level="local", kind="elected", locale="de")
    eu = make_actor(rpc, name=f"Commission {tag}", country="EU", level="european", kind="government", locale=None,
                    party=None)
    party = make_actor(rpc, name="Delta Party", kind="party", country="FR", party=f"Party {tag.upper()}",
                       constituency=None)
    seat = make_actor(rpc, name="Epsilon", country="GB", locale="en", constituency=f"Seat {tag}", party=None)

    def ids(**filters):
        result = rpc.commitments.list_actors({"q": tag, **filters})
        return [a["id"] for a in result["items"]], result["total"]

    assert ids() == ([fr["id"], de["id"], eu["id"], party["id"], seat["id"]], 5)  # by name
    assert ids(q=tag.upper()) == ids()  # case-insensitive, on name, party and constituency
    assert ids(country="FR") == ([fr["id"], party["id"]], 2)
    assert ids(country="fr") == ids(country="FR")
    assert ids(country="EU") == ([eu["id"]], 1)
    assert ids(level="local") == ([de["id"]], 1)
    assert ids(kind="government") == ([eu["id"]], 1)
    assert ids(kind="party", country="FR") == ([party["id"]], 1)
    assert ids(kind="party", country="DE") == ([], 0)
    page = rpc.commitments.list_actors({"q": tag, "per_page": 2, "page": 2})
    assert [a["id"] for a in page["items"]] == [eu["id"], party["id"]] and page["total"] == 5
    assert (page["page"], page["per_page"]) == (2, 2)
    assert rpc.commitments.list_actors({"q": "%"})["total"] == 0  # LIKE wildcards are literal
    assert rpc.commitments.list_actors()["per_page"] == 20
    err = remote_error(rpc.commitments.list_actors, {"per_page": 51})  # the configured maximum is 50
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"per_page"}
    assert set(remote_error(rpc.commitments.list_actors, {"level": "galactic"}).exc_args[0]) == {"level"}
    assert set(remote_error(rpc.commitments.list_actors, {"kind": "alien"}).exc_args[0]) == {"kind"}


def test_get_actors_for_lobbying(service, rpc):
    a, b = make_actor(rpc), make_actor(rpc, country="DE", locale="de", contact_emails=["b1@example.org", "b2@example.org"])
    found = rpc.commitments.get_actors([b["id"], str(uuid.uuid4()), a["id"], a["id"]])
    assert sorted(x["id"] for x in found) == sorted([a["id"], b["id"]])
    by_id = {x["id"]: x for x in found}
    assert by_id[b["id"]]["contact_emails"] == ["b1@example.org", "b2@example.org"]
    assert by_id[b["id"]]["locale"] == "de" and by_id[b["id"]]["country"] == "DE" and by_id[b["id"]]["level"] == "national"
    assert rpc.commitments.get_actors([]) == []
    assert remote_error(rpc.commitments.get_actors, "not-a-list").exc_type == "ValidationFailed"


# -- imports ----------------------------------------------------------------------------------------------
def csv_rows(tag):
    return [
        {"external_id": f"{tag}-1", "name": "Alix Fictif", "kind": "elected", "party": "Parti Imaginaire",
         "mandate": "Député", "level": "national", "country": "FR", "constituency": "Nulle-Part 1",
         "contact_emails": "alix@example.org;permanence.alix@example.org", "locale": "fr"},
        {"external_id": f"{tag}-2", "name": "Sacha Démo", "kind": "Elected", "party": "", "mandate": "",
         "level": "National", "country": "fr", "constituency": "", "contact_emails": "sacha@example.org", "locale": ""},
        {"external_id": f"{tag}-3", "name": "Bad Row", "kind": "wizard", "party": "", "mandate": "", "level": "national",
         "country": "FR", "constituency": "", "contact_emails": "not-an-address", "locale": "fr"},
        {"external_id": f"{tag}-4", "name": "Parti Imaginaire", "kind": "party", "party": "", "mandate": "",
         "level": "national", "country": "FR", "constituency": "", "contact_emails": "", "locale": "fr"},
    ]


def count_imported(db, tag):
    with db.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM actors WHERE external_id LIKE :p"),
                            {"p": f"{tag}-%"}).scalar_one()


def test_import_is_idempotent_and_reports_every_row(service, rpc, db, events):
    recorder = events("commitments", ["actor_created", "actor_updated"])
    tag = f"IMP-{token()}"
    rows = csv_rows(tag)
    first = rpc.commitments.import_actors(ADMIN, rows)
    assert (first["total"], first["created"], first["updated"], first["unchanged"]) == (4, 3, 0, 0)
    assert len(first["errors"]) == 1 and first["errors"][0]["row"] == 3
    assert set(first["errors"][0]["fields"]) == {"kind", "contact_emails"}
    assert "wizard" in first["errors"][0]["fields"]["kind"]
    assert count_imported(db, tag) == 3

    second = rpc.commitments.import_actors(ADMIN, rows)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 3)
    assert second["errors"] == first["errors"]
    assert count_imported(db, tag) == 3

    listed = rpc.commitments.list_actors({"q": "Sacha Démo", "per_page": 50})["items"]
    sacha = next(a for a in listed if a["external_id"] == f"{tag}-2")
    assert (sacha["kind"], sacha["level"], sacha["country"], sacha["locale"], sacha["party"]) == \
        ("elected", "national", "FR", "fr", None)

    rows[1]["party"] = "Mouvement Inventé"
    rows[2]["kind"], rows[2]["contact_emails"] = "elected", "bad.row@example.org"
    dry = rpc.commitments.import_actors(ADMIN, rows, dry_run=True)
    assert (dry["created"], dry["updated"], dry["unchanged"], dry["errors"], dry["dry_run"]) == (1, 1, 2, [], True)
    assert count_imported(db, tag) == 3
    third = rpc.commitments.import_actors(ADMIN, rows)
    assert (third["created"], third["updated"], third["unchanged"], third["errors"]) == (1, 1, 2, [])
    assert count_imported(db, tag) == 4
    assert rpc.commitments.get_actor(sacha["id"])["party"] == "Mouvement Inventé"

    recorder.wait_for(lambda e: e["event_type"] == "actor_updated" and e["data"]["id"] == sacha["id"])
    recorder.wait_for(lambda e: e["event_type"] == "actor_created" and e["data"]["external_id"] == f"{tag}-3")
    time.sleep(0.5)
    created = recorder.matching(lambda e: e["event_type"] == "actor_created"
                                and (e["data"]["external_id"] or "").startswith(tag))
    assert sorted(e["data"]["external_id"] for e in created) == [f"{tag}-{n}" for n in (1, 2, 3, 4)]
    assert len(recorder.matching(lambda e: e["event_type"] == "actor_updated"
                                 and (e["data"]["external_id"] or "").startswith(tag))) == 1


def test_import_rejects_nothing_silently(service, rpc, db):
    tag = f"IMP-{token()}"
    rows = csv_rows(tag)[:2]
    rows.append(dict(rows[0], name="Same id again"))  # duplicate external_id inside the file
    rows.append(dict(rows[1], external_id=""))  # no key
    rows.append({**rows[1], "external_id": f"{tag}-9", "twitter": "@x"})  # unknown column
    report = rpc.commitments.import_actors(ADMIN, rows, start_row=11)
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert [(e["row"], sorted(e["fields"])) for e in report["errors"]] == [
        (13, ["external_id"]), (14, ["external_id"]), (15, ["twitter"])]
    assert "row 11" in report["errors"][0]["fields"]["external_id"]
    assert report["created"] + report["updated"] + report["unchanged"] + len(report["errors"]) == len(rows)
    assert count_imported(db, tag) == 2
    err = remote_error(rpc.commitments.import_actors, ADMIN, "not rows")
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"rows"}


def test_import_command_with_the_example_file(service, rpc, amqp_uri, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    assert cli.main(["import-actors", str(EXAMPLE_CSV)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["created"], report["errors"]) == (5, [])
    assert cli.main(["import-actors", str(EXAMPLE_CSV)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)
    found = rpc.commitments.list_actors({"q": "(fictional", "per_page": 50})
    assert found["total"] == 5
    bad = tmp_path / "bad.csv"
    bad.write_text(EXAMPLE_CSV.read_text(encoding="utf-8").replace(",Alix Fictif (fictional),", ",,"),
                   encoding="utf-8")
    assert cli.main(["import-actors", str(bad)]) == 1  # a row refused: reported, not silent
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == [{"row": 3, "fields": {"name": "required"}}] and report["unchanged"] == 4
    header = tmp_path / "header.csv"
    header.write_text("id,name\n1,x\n", encoding="utf-8")
    assert cli.main(["import-actors", str(header)]) == 2
    assert "missing columns" in capsys.readouterr().err


# -- commitments --------------------------------------------------------------------------------------------
def commitment_body(actor_id, **overrides):
    body = {"actor_id": actor_id, "proposal_id": str(uuid.uuid4()), "statement": "Je m'engage à le proposer",
            "made_at": (datetime.now(timezone.utc) - timedelta(days=2)).isoformat(), "source_url": None}
    body.update(overrides)
    return body


@pytest.mark.parametrize("caller", [None, CITIZEN, MODERATOR, "official"])
def test_only_editors_record_and_rate(service, rpc, caller):
    actor = make_actor(rpc)
    caller = official(actor["id"]) if caller == "official" else caller
    err = remote_error(rpc.commitments.create_commitment, caller, commitment_body(actor["id"]))
    assert err.exc_type == "Forbidden"
    made = rpc.commitments.create_commitment(EDITOR, commitment_body(actor["id"]))
    err = remote_error(rpc.commitments.set_status, caller, made["id"],
                       {"status": "kept", "evidence_url": "https://example.org/e"})
    assert err.exc_type == "Forbidden"
    assert rpc.commitments.get_commitment(made["id"])["status"] == "not_yet_rated"
    assert rpc.commitments.create_commitment(ADMIN, commitment_body(actor["id"]))["status"] == "not_yet_rated"


def test_commitment_validation(service, rpc):
    actor = make_actor(rpc)
    err = remote_error(rpc.commitments.create_commitment, EDITOR, commitment_body(str(uuid.uuid4())))
    assert err.exc_type == "ValidationFailed" and err.exc_args[0] == {"actor_id": "unknown actor"}
    err = remote_error(rpc.commitments.create_commitment, EDITOR, commitment_body(actor["id"], proposal_id=None))
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"source_url"}
    outside = rpc.commitments.create_commitment(EDITOR, commitment_body(
        actor["id"], proposal_id=None, source_url="https://news.example.org/interview"))
    assert outside["source_url"] == "https://news.example.org/interview" and outside["proposal_id"] is None
    for field, value in [("statement", ""), ("made_at", "yesterday"), ("made_at", "2026-01-01T00:00:00"),
                         ("source_url", "not a url"),
                         ("made_at", (datetime.now(timezone.utc) + timedelta(days=1)).isoformat())]:
        err = remote_error(rpc.commitments.create_commitment, EDITOR, commitment_body(actor["id"], **{field: value}))
        assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {field}, (field, value)


def test_commitment_life_and_timeline(service, rpc, events):
    recorder = events("commitments", ["commitment_made", "commitment_status_changed"])
    actor = make_actor(rpc, country="DE", locale="de")
    campaign = str(uuid.uuid4())
    body = commitment_body(actor["id"], campaign_id=campaign, source_url="https://example.org/promise")
    made = rpc.commitments.create_commitment(EDITOR, body)
    assert made["status"] == "not_yet_rated" and made["country"] == "DE" and made["campaign_id"] == campaign
    assert made["actor"] == {"id": actor["id"], "name": actor["name"], "country": "DE"}
    assert parse(made["made_at"]) == parse(body["made_at"]) and made["source_response_id"] is None
    assert [(e["status"], e["previous_status"], e["changed_by"], e["evidence_url"]) for e in made["timeline"]] == [
        ("not_yet_rated", None, "editor-1", "https://example.org/promise")]

    event = recorder.wait_for(lambda e: e["event_type"] == "commitment_made" and e["data"]["commitment_id"] == made["id"])
    assert event["data"] == {
        "commitment_id": made["id"], "actor_id": actor["id"], "actor_name": actor["name"],
        "proposal_id": body["proposal_id"], "campaign_id": campaign, "country": "DE", "statement": body["statement"],
        "status": "not_yet_rated", "made_at": made["made_at"], "source_url": "https://example.org/promise",
        "source_response_id": None}

    err = remote_error(rpc.commitments.set_status, EDITOR, made["id"], {"status": "kept"})
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"evidence_url"}
    err = remote_error(rpc.commitments.set_status, EDITOR, made["id"], {"status": "done", "evidence_url": "https://e.org"})
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"status"}
    err = remote_error(rpc.commitments.set_status, EDITOR, made["id"], {"status": "not_yet_rated"})
    assert err.exc_type == "Conflict" and err.value == "already not_yet_rated"

    steps = [("in_the_works", EDITOR, "https://example.org/bill", "bill tabled"),
             ("kept", ADMIN, "https://example.org/law", None),
             ("in_the_works", EDITOR, "https://example.org/repeal", "partly repealed"),  # back again
             ("not_yet_rated", EDITOR, None, "rating withdrawn")]
    previous = "not_yet_rated"
    for status, caller, evidence, note in steps:
        out = rpc.commitments.set_status(caller, made["id"], {"status": status, "evidence_url": evidence, "note": note})
        assert out["status"] == status and out["timeline"][-1]["previous_status"] == previous
        previous = status
    err = remote_error(rpc.commitments.set_status, EDITOR, made["id"], {"status": "not_yet_rated"})
    assert err.exc_type == "Conflict"

    detail = rpc.commitments.get_commitment(made["id"])
    assert [(e["status"], e["previous_status"], e["evidence_url"], e["note"], e["changed_by"])
            for e in detail["timeline"]] == [
        ("not_yet_rated", None, "https://example.org/promise", None, "editor-1"),
        ("in_the_works", "not_yet_rated", "https://example.org/bill", "bill tabled", "editor-1"),
        ("kept", "in_the_works", "https://example.org/law", None, "admin-1"),
        ("in_the_works", "kept", "https://example.org/repeal", "partly repealed", "editor-1"),
        ("not_yet_rated", "in_the_works", None, "rating withdrawn", "editor-1")]
    times = [parse(e["changed_at"]) for e in detail["timeline"]]
    assert times == sorted(times)
    assert detail["actor"] == {"id": actor["id"], "name": actor["name"], "country": "DE"}
    assert parse(detail["updated_at"]) == times[-1]

    changes = [recorder.wait_for(lambda e, s=s: e["event_type"] == "commitment_status_changed"
                                 and e["data"]["commitment_id"] == made["id"] and e["data"]["changed_at"] == s["changed_at"])
               for s in detail["timeline"][1:]]
    assert changes[1]["data"] == {
        "commitment_id": made["id"], "actor_id": actor["id"], "actor_name": actor["name"],
        "proposal_id": body["proposal_id"], "campaign_id": campaign, "country": "DE", "status": "kept",
        "previous_status": "in_the_works", "evidence_url": "https://example.org/law", "note": None,
        "changed_at": detail["timeline"][2]["changed_at"], "changed_by": "admin-1"}
    time.sleep(0.5)
    assert len(recorder.matching(lambda e: e["event_type"] == "commitment_status_changed"
                                 and e["data"]["commitment_id"] == made["id"])) == 4  # refusals publish nothing

    assert remote_error(rpc.commitments.get_commitment, str(uuid.uuid4())).exc_type == "NotFound"
    assert remote_error(rpc.commitments.set_status, EDITOR, str(uuid.uuid4()),
                        {"status": "kept", "evidence_url": "https://e.org"}).exc_type == "NotFound"


def test_scoreboard_and_listings(service, rpc):
    actor = make_actor(rpc, country="BE", locale="nl")
    other = make_actor(rpc, country="CH", locale="de")
    proposal, campaign = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    wanted = ["kept", "kept", "broken", "not_yet_rated", "in_the_works"]
    made = []
    for days_ago, status in enumerate(wanted):
        c = rpc.commitments.create_commitment(EDITOR, commitment_body(
            actor["id"], proposal_id=proposal, campaign_id=campaign if status == "kept" else None,
            made_at=(now - timedelta(days=10 + days_ago)).isoformat()))
        if status != "not_yet_rated":
            rpc.commitments.set_status(EDITOR, c["id"], {"status": status, "evidence_url": "https://example.org/x"})
        made.append(c)
    elsewhere = rpc.commitments.create_commitment(EDITOR, commitment_body(other["id"], proposal_id=proposal))

    detail = rpc.commitments.get_actor(actor["id"])
    # 5 commitments, 4 rated: kept 2/4, broken 1/4
    assert detail["scoreboard"] == {
        "total": 5, "by_status": {"not_yet_rated": 1, "in_the_works": 1, "stalled": 0, "kept": 2, "compromise": 0,
                                  "broken": 1},
        "kept_share": 0.5, "broken_share": 0.25}
    assert [c["id"] for c in detail["commitments"]] == [c["id"] for c in made[:CAP]]  # most recent first, capped
    assert [c["status"] for c in detail["commitments"]] == wanted[:CAP]

    def ids(**filters):
        result = rpc.commitments.list_commitments(filters)
        return [c["id"] for c in result["items"]], result["total"]

    assert ids(actor=actor["id"]) == ([c["id"] for c in made], 5)
    assert ids(actor=actor["id"], status="kept") == ([made[0]["id"], made[1]["id"]], 2)
    assert ids(actor=actor["id"], status="stalled") == ([], 0)
    assert ids(proposal=proposal) == ([elsewhere["id"]] + [c["id"] for c in made], 6)
    assert ids(campaign=campaign) == ([made[0]["id"], made[1]["id"]], 2)
    assert ids(proposal=proposal, country="ch") == ([elsewhere["id"]], 1)
    assert ids(proposal=proposal, country="BE")[1] == 5
    page = rpc.commitments.list_commitments({"actor": actor["id"], "per_page": 2, "page": 3})
    assert [c["id"] for c in page["items"]] == [made[4]["id"]] and page["total"] == 5
    item = rpc.commitments.list_commitments({"actor": actor["id"], "status": "broken"})["items"][0]
    assert item["actor"] == {"id": actor["id"], "name": actor["name"], "country": "BE"} and "timeline" not in item
    err = remote_error(rpc.commitments.list_commitments, {"status": "done"})
    assert err.exc_type == "ValidationFailed" and set(err.exc_args[0]) == {"status"}
    assert set(remote_error(rpc.commitments.list_commitments, {"per_page": 51}).exc_args[0]) == {"per_page"}


def test_actor_country_change_follows_to_its_commitments(service, rpc):
    actor = make_actor(rpc, country="FR")
    made = rpc.commitments.create_commitment(EDITOR, commitment_body(actor["id"]))
    rpc.commitments.update_actor(ADMIN, actor["id"], {"country": "LU", "locale": "fr"})
    assert rpc.commitments.get_commitment(made["id"])["country"] == "LU"
    assert rpc.commitments.list_commitments({"actor": actor["id"], "country": "LU"})["total"] == 1


# -- what commitments learns from lobbying ------------------------------------------------------------------
def publish_lobbying_event(amqp_uri, envelope, routing_key="official_committed", timeout=10.0):
    """Publish like lobbying's outbox relay does: JSON envelope on the durable topic
    exchange ``lobbying.events``; retried until the service's queue is bound."""
    connection = pika.BlockingConnection(pika_parameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.exchange_declare("lobbying.events", exchange_type="topic", durable=True)
        channel.confirm_delivery()
        deadline = time.monotonic() + timeout
        while True:
            try:
                channel.basic_publish(
                    "lobbying.events", routing_key, json.dumps(envelope).encode(),
                    pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                         delivery_mode=2, message_id=envelope["event_id"]),
                    mandatory=True)
                return
            except pika.exceptions.UnroutableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        connection.close()


def committed_envelope(actor_id, campaign_id, response_id=None, **overrides):
    data = {"response_id": response_id or str(uuid.uuid4()), "campaign_id": campaign_id,
            "proposal_id": str(uuid.uuid4()), "actor_id": actor_id,
            "statement": "Je m'engage à défendre cette proposition à l'Assemblée.",
            "responded_at": "2026-11-20T10:30:00+00:00", "responded_by": "official-user-7"}
    data.update(overrides)
    return make_envelope("lobbying", "official_committed", data)


def test_official_committed_creates_exactly_one_commitment(service, rpc, events, amqp_uri, db):
    recorder = events("commitments", ["commitment_made"])
    actor = make_actor(rpc, country="GB", locale="en")
    campaign = str(uuid.uuid4())
    envelope = committed_envelope(actor["id"], campaign)
    response_id = envelope["data"]["response_id"]
    resent = copy.deepcopy(envelope)
    resent["event_id"] = str(uuid.uuid4())  # the same response under a new event id
    for message in (envelope, envelope, resent):
        publish_lobbying_event(amqp_uri, message)

    def listed():
        return rpc.commitments.list_commitments({"campaign": campaign})

    result = poll(listed, lambda r: r["total"] >= 1)
    assert result["total"] == 1
    time.sleep(1.0)  # let every delivery be handled
    result = listed()
    assert result["total"] == 1
    item = result["items"][0]
    data = envelope["data"]
    assert (item["actor_id"], item["campaign_id"], item["proposal_id"], item["statement"]) == \
        (actor["id"], campaign, data["proposal_id"], data["statement"])
    assert item["status"] == "not_yet_rated" and item["source_response_id"] == response_id
    assert item["source_url"] is None and item["country"] == "GB"
    assert parse(item["made_at"]) == parse(data["responded_at"])
    detail = rpc.commitments.get_commitment(item["id"])
    assert [(e["status"], e["previous_status"], e["changed_by"]) for e in detail["timeline"]] == [
        ("not_yet_rated", None, "official-user-7")]
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM commitments WHERE source_response_id = :r"),
                            {"r": response_id}).scalar_one() == 1
        handled = conn.execute(sa.text("SELECT event_id FROM processed_events WHERE handler = :h AND event_id IN (:a, :b)"),
                               {"h": "commitments.on_official_committed", "a": envelope["event_id"],
                                "b": resent["event_id"]}).scalars().all()
    assert sorted(handled) == sorted([envelope["event_id"], resent["event_id"]])

    event = recorder.wait_for(lambda e: e["data"]["source_response_id"] == response_id)
    assert event["data"] == {
        "commitment_id": item["id"], "actor_id": actor["id"], "actor_name": actor["name"],
        "proposal_id": data["proposal_id"], "campaign_id": campaign, "country": "GB", "statement": data["statement"],
        "status": "not_yet_rated", "made_at": item["made_at"], "source_url": None, "source_response_id": response_id}
    time.sleep(0.5)
    assert len(recorder.matching(lambda e: e["data"]["source_response_id"] == response_id)) == 1

    # the official's commitment then counts on the actor's scoreboard, and can be rated
    assert rpc.commitments.get_actor(actor["id"])["scoreboard"]["by_status"]["not_yet_rated"] == 1
    rated = rpc.commitments.set_status(EDITOR, item["id"], {"status": "in_the_works",
                                                            "evidence_url": "https://example.org/bill"})
    assert rated["status"] == "in_the_works" and rated["source_response_id"] == response_id


def test_official_committed_unusable_events_are_dropped(service, rpc, amqp_uri):
    actor = make_actor(rpc)
    campaign = str(uuid.uuid4())
    publish_lobbying_event(amqp_uri, committed_envelope(str(uuid.uuid4()), campaign))  # unknown actor
    publish_lobbying_event(amqp_uri, committed_envelope(actor["id"], campaign, statement="   "))
    publish_lobbying_event(amqp_uri, committed_envelope(actor["id"], campaign, responded_at="not a date"))
    broken = committed_envelope(actor["id"], campaign)
    del broken["data"]["response_id"]
    publish_lobbying_event(amqp_uri, broken)
    good = committed_envelope(actor["id"], campaign)
    publish_lobbying_event(amqp_uri, good)
    result = poll(lambda: rpc.commitments.list_commitments({"campaign": campaign}), lambda r: r["total"] >= 1)
    time.sleep(1.0)
    result = rpc.commitments.list_commitments({"campaign": campaign})
    assert [c["source_response_id"] for c in result["items"]] == [good["data"]["response_id"]]
    assert rpc.commitments.ping() == {"service": "commitments", "status": "ok"}
