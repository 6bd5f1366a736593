"""Proposals service on the real broker and PostgreSQL.

The database is shared by every test of the run, so each test makes its own questions
(unique slugs) and its own users, and filter assertions only look at rows it created
or check properties every returned row must have.
"""
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from common.rpc_client import RemoteError
from services.proposals.service import ProposalsService

ARBRES = "Il faut planter des arbres dans les cours d'école"
ARBRES_BIS = "Il faut planter plus d'arbres dans les cours d'écoles"
TRANSPORTS = "Il faut baisser le prix des transports publics"


# -- helpers -----------------------------------------------------------------------------
def _uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _now():
    return datetime.now(timezone.utc)


def admin(uid=None):
    return {"user_id": uid or _uid("admin"), "roles": ["citizen", "admin"], "moderated_questions": []}


def citizen(uid=None):
    return {"user_id": uid or _uid("cit"), "roles": ["citizen"], "moderated_questions": []}


def moderator(*question_ids, uid=None):
    return {"user_id": uid or _uid("mod"), "roles": ["citizen", "moderator"],
            "moderated_questions": [str(q) for q in question_ids]}


def _question_data(**overrides):
    now = _now()
    data = {
        "slug": f"q-{uuid.uuid4().hex[:12]}",
        "title": "Comment rendre la ville plus verte ?",
        "country": "FR",
        "language": "fr",
        "scope": "national",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "votes_target": 1000,
    }
    data.update(overrides)
    return data


def _remote(call, *args, **kwargs):
    with pytest.raises(RemoteError) as err:
        call(*args, **kwargs)
    return err.value


@pytest.fixture
def proposals(run_service):
    run_service(ProposalsService)


@pytest.fixture
def db(db_urls):
    engine = sa.create_engine(db_urls["proposals"])
    yield engine
    engine.dispose()


@pytest.fixture
def make_question(rpc):
    def make(**overrides):
        return rpc.proposals.create_question(admin(), _question_data(**overrides))
    return make


@pytest.fixture
def submit(rpc):
    def do(question_id, content, author=None):
        return rpc.proposals.submit_proposal(author or citizen(), question_id, {"content": content})
    return do


def _row(db, proposal_id):
    with db.connect() as conn:
        return conn.execute(sa.text(
            "SELECT status, content, original_content, refusal_reason, tags, moderated_at, moderated_by,"
            " locked_by, locked_until FROM proposals WHERE id = :i"), {"i": proposal_id}).mappings().one()


def _outbox_count(db, proposal_id):
    with db.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM outbox WHERE payload LIKE :p"),
                            {"p": f"%{proposal_id}%"}).scalar_one()


def _queue_ids(result):
    return [p["id"] for g in result["groups"] for p in g["proposals"]]


# -- questions ---------------------------------------------------------------------------
@pytest.mark.parametrize("caller", [None, citizen(), moderator("whatever")], ids=["anonymous", "citizen", "moderator"])
def test_create_question_is_admin_only(proposals, rpc, caller, db):
    data = _question_data()
    err = _remote(rpc.proposals.create_question, caller, data)
    assert err.exc_type == "Forbidden"
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM questions WHERE slug = :s"),
                            {"s": data["slug"]}).scalar_one() == 0


def test_create_question_stores_it_and_reads_back_by_id_and_slug(proposals, rpc, events):
    recorder = events("proposals", ["question_created"])
    who = admin()
    data = _question_data(country="ch", language="IT", title="Come migliorare i trasporti?")
    question = rpc.proposals.create_question(who, data)

    assert question["slug"] == data["slug"]
    assert question["country"] == "CH" and question["language"] == "it"  # normalized case
    assert question["scope"] == "national" and question["votes_target"] == 1000
    assert question["status"] == "open"
    assert uuid.UUID(question["id"])
    assert datetime.fromisoformat(question["starts_at"]) == datetime.fromisoformat(data["starts_at"])
    assert rpc.proposals.get_question(question["id"]) == question
    assert rpc.proposals.get_question(data["slug"]) == dict(question, status="open")
    event = recorder.wait_for(lambda e: e["data"]["id"] == question["id"])
    assert event["event_type"] == "question_created" and event["data"]["slug"] == data["slug"]

    err = _remote(rpc.proposals.get_question, "no-such-question")
    assert err.exc_type == "NotFound"


@pytest.mark.parametrize("overrides,field", [
    ({"slug": "Bad Slug"}, "slug"),
    ({"slug": "ab"}, "slug"),
    ({"slug": "x" * 81}, "slug"),
    ({"country": "XX"}, "country"),
    ({"country": "FR", "language": "de"}, "language"),
    ({"country": "GB", "language": "fr"}, "language"),
    ({"scope": "galactic"}, "scope"),
    ({"title": "ab"}, "title"),
    ({"votes_target": 0}, "votes_target"),
    ({"starts_at": "2030-01-01T00:00:00"}, "starts_at"),  # naive
    ({"starts_at": "2030-01-02T00:00:00+00:00", "ends_at": "2030-01-01T00:00:00+00:00"}, "ends_at"),
    ({"starts_at": "2030-01-01T00:00:00+00:00", "ends_at": "2030-01-01T00:00:00+00:00"}, "ends_at"),
])
def test_bad_question_names_the_field(proposals, rpc, overrides, field):
    err = _remote(rpc.proposals.create_question, admin(), _question_data(**overrides))
    assert err.exc_type == "ValidationFailed"
    assert field in err.exc_args[0], err.exc_args


@pytest.mark.parametrize("country,language", [("CH", "it"), ("CH", "fr"), ("BE", "nl"), ("LU", "de"), ("GB", "en")])
def test_allowed_country_languages(proposals, make_question, country, language):
    question = make_question(country=country, language=language)
    assert (question["country"], question["language"]) == (country, language)


def test_duplicate_slug_is_a_conflict(proposals, rpc, make_question, db):
    first = make_question()
    err = _remote(rpc.proposals.create_question, admin(), _question_data(slug=first["slug"], title="Another one"))
    assert err.exc_type == "Conflict"
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, title FROM questions WHERE slug = :s"), {"s": first["slug"]}).all()
    assert [tuple(r) for r in rows] == [(first["id"], first["title"])]


def test_question_status_follows_dates(proposals, make_question, rpc):
    now = _now()
    upcoming = make_question(starts_at=(now + timedelta(days=2)).isoformat(),
                             ends_at=(now + timedelta(days=9)).isoformat())
    open_ = make_question(starts_at=(now - timedelta(minutes=1)).isoformat(),
                          ends_at=(now + timedelta(days=1)).isoformat())
    finished = make_question(starts_at=(now - timedelta(days=9)).isoformat(),
                             ends_at=(now - timedelta(seconds=1)).isoformat())
    assert [upcoming["status"], open_["status"], finished["status"]] == ["upcoming", "open", "finished"]
    assert [rpc.proposals.get_question(q["id"])["status"] for q in (upcoming, open_, finished)] == [
        "upcoming", "open", "finished"]


def test_list_questions_filters_and_paginates(proposals, rpc, make_question):
    now = _now()
    mine = {
        "upcoming": make_question(country="LU", language="fr", starts_at=(now + timedelta(days=3)).isoformat(),
                                  ends_at=(now + timedelta(days=20)).isoformat()),
        "open": make_question(country="LU", language="de", starts_at=(now - timedelta(days=2)).isoformat(),
                              ends_at=(now + timedelta(days=20)).isoformat()),
        "finished": make_question(country="LU", language="fr", starts_at=(now - timedelta(days=20)).isoformat(),
                                  ends_at=(now - timedelta(days=1)).isoformat()),
    }
    other = make_question(country="BE", language="nl")
    ids = {q["id"]: status for status, q in mine.items()}

    everything = rpc.proposals.list_questions({"country": "lu", "per_page": 100})
    listed = [q["id"] for q in everything["items"]]
    assert set(ids) <= set(listed) and other["id"] not in listed
    assert all(q["country"] == "LU" for q in everything["items"])
    assert everything["total"] == len(everything["items"]) and everything["page"] == 1
    starts = [q["starts_at"] for q in everything["items"]]
    assert starts == sorted(starts, key=datetime.fromisoformat, reverse=True)  # newest start first

    for status in ("upcoming", "open", "finished"):
        page = rpc.proposals.list_questions({"country": "LU", "status": status, "per_page": 100})
        assert all(q["status"] == status and q["country"] == "LU" for q in page["items"])
        found = {q["id"] for q in page["items"]} & set(ids)
        assert found == {mine[status]["id"]}, status

    german = rpc.proposals.list_questions({"country": "LU", "language": "de", "per_page": 100})
    assert mine["open"]["id"] in {q["id"] for q in german["items"]}
    assert all(q["language"] == "de" for q in german["items"])

    # pagination: pages of one follow the full listing's order, total counts them all
    pages = [rpc.proposals.list_questions({"country": "LU", "page": n, "per_page": 1}) for n in (1, 2, 3)]
    assert all(len(p["items"]) == 1 and p["total"] == everything["total"] and p["per_page"] == 1 for p in pages)
    assert [p["items"][0]["id"] for p in pages] == listed[:3]
    beyond = rpc.proposals.list_questions({"country": "LU", "page": everything["total"] + 1, "per_page": 1})
    assert beyond["items"] == [] and beyond["total"] == everything["total"]

    for bad in ({"status": "closed"}, {"per_page": 0}, {"page": 0}):
        err = _remote(rpc.proposals.list_questions, bad)
        assert err.exc_type == "ValidationFailed" and set(bad) <= set(err.exc_args[0])


# -- submitting --------------------------------------------------------------------------
def test_submit_requires_login(proposals, rpc, make_question):
    question = make_question()
    for caller in (None, {}, {"user_id": None, "roles": ["admin"]}):
        err = _remote(rpc.proposals.submit_proposal, caller, question["id"], {"content": ARBRES})
        assert err.exc_type == "Forbidden"


@pytest.mark.parametrize("content", ["x" * 11, "x" * 141, "   Il faut ça    ", "", 42])
def test_submit_rejects_bad_content(proposals, rpc, make_question, content, db):
    question = make_question()
    err = _remote(rpc.proposals.submit_proposal, citizen(), question["id"], {"content": content})
    assert err.exc_type == "ValidationFailed"
    assert "content" in err.exc_args[0]
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM proposals WHERE question_id = :q"),
                            {"q": question["id"]}).scalar_one() == 0


@pytest.mark.parametrize("length", [12, 140])
def test_submit_accepts_boundary_lengths(proposals, submit, make_question, length):
    question = make_question()
    content = ("Il faut " + "a" * 200)[:length]
    result = submit(question["id"], "  " + content + "\n")
    assert result["proposal"]["content"] == content
    assert len(result["proposal"]["content"]) == length


def test_submit_normalizes_whitespace(proposals, submit, make_question):
    question = make_question()
    result = submit(question["id"], "  Il faut\tplanter \n\n des   arbres  ")
    assert result["proposal"]["content"] == "Il faut planter des arbres"


def test_submit_creates_a_pending_proposal_and_publishes_it(proposals, rpc, make_question, events, db):
    recorder = events("proposals", ["proposal_submitted"])
    question = make_question(country="BE", language="nl", title="Hoe maken we de stad groener?")
    author = citizen()
    result = rpc.proposals.submit_proposal(author, question["slug"], {"content": "We moeten meer bomen planten"})
    proposal = result["proposal"]

    assert proposal["status"] == "pending"
    assert proposal["question_id"] == question["id"]  # submitted by slug, stored by id
    assert proposal["author_id"] == author["user_id"]
    assert (proposal["country"], proposal["language"]) == ("BE", "nl")
    assert proposal["original_content"] is None and proposal["refusal_reason"] is None
    assert proposal["tags"] == [] and proposal["moderated_at"] is None
    assert result["likely_duplicates"] == []
    assert _row(db, proposal["id"])["status"] == "pending"

    event = recorder.wait_for(lambda e: e["data"]["proposal_id"] == proposal["id"])
    assert event["event_type"] == "proposal_submitted" and event["source"] == "proposals"
    data = event["data"]
    assert {k: data[k] for k in ("proposal_id", "question_id", "country", "language", "author_id", "content",
                                 "status")} == {
        "proposal_id": proposal["id"], "question_id": question["id"], "country": "BE", "language": "nl",
        "author_id": author["user_id"], "content": "We moeten meer bomen planten", "status": "pending"}


def test_submit_on_a_question_that_is_not_open_is_a_conflict(proposals, rpc, make_question, db):
    now = _now()
    upcoming = make_question(starts_at=(now + timedelta(days=1)).isoformat(),
                             ends_at=(now + timedelta(days=5)).isoformat())
    finished = make_question(starts_at=(now - timedelta(days=5)).isoformat(),
                             ends_at=(now - timedelta(minutes=1)).isoformat())
    for question in (upcoming, finished):
        err = _remote(rpc.proposals.submit_proposal, citizen(), question["id"], {"content": ARBRES})
        assert err.exc_type == "Conflict", question["status"]
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM proposals WHERE question_id IN (:a, :b)"),
                            {"a": upcoming["id"], "b": finished["id"]}).scalar_one() == 0


def test_submit_on_unknown_question_is_not_found(proposals, rpc):
    err = _remote(rpc.proposals.submit_proposal, citizen(), str(uuid.uuid4()), {"content": ARBRES})
    assert err.exc_type == "NotFound"


# -- visibility --------------------------------------------------------------------------
def test_pending_proposal_is_visible_only_to_its_author_and_moderators(proposals, rpc, make_question, submit):
    question, elsewhere = make_question(), make_question()
    author = citizen()
    proposal = submit(question["id"], ARBRES, author)["proposal"]
    pid = proposal["id"]

    for caller in (author, moderator(question["id"]), admin()):
        assert rpc.proposals.get_proposal(pid, caller)["content"] == ARBRES
    for caller in (None, citizen(), moderator(elsewhere["id"]), {"user_id": None, "roles": ["admin"]}):
        err = _remote(rpc.proposals.get_proposal, pid, caller)
        assert err.exc_type == "NotFound", caller
    assert rpc.proposals.get_proposals([pid]) == []  # the batch read is public: accepted only

    rpc.proposals.accept_proposal(moderator(question["id"]), pid)
    for caller in (None, citizen(), moderator(elsewhere["id"])):
        assert rpc.proposals.get_proposal(pid, caller)["status"] == "accepted"
    assert [p["id"] for p in rpc.proposals.get_proposals([pid, "nope"])] == [pid]

    err = _remote(rpc.proposals.get_proposal, str(uuid.uuid4()), admin())
    assert err.exc_type == "NotFound"


def test_refused_proposal_stays_private(proposals, rpc, make_question, submit):
    question = make_question()
    author = citizen()
    pid = submit(question["id"], ARBRES, author)["proposal"]["id"]
    rpc.proposals.refuse_proposal(moderator(question["id"]), pid, {"reason": "off-topic"})
    assert rpc.proposals.get_proposal(pid, author)["refusal_reason"] == "off-topic"
    assert _remote(rpc.proposals.get_proposal, pid, citizen()).exc_type == "NotFound"
    assert _remote(rpc.proposals.get_proposal, pid, None).exc_type == "NotFound"


# -- moderation --------------------------------------------------------------------------
def test_moderation_rights(proposals, rpc, make_question, submit, db):
    question, elsewhere = make_question(), make_question()
    p1, p2, p3 = (submit(question["id"], f"Il faut faire la chose numéro {n}")["proposal"]["id"] for n in (1, 2, 3))
    outsider = moderator(elsewhere["id"])

    for call, args in ((rpc.proposals.accept_proposal, (p1,)),
                       (rpc.proposals.refuse_proposal, (p1, {"reason": "test"})),
                       (rpc.proposals.postpone_proposal, (p1,))):
        for caller in (outsider, citizen(), None, {"user_id": None, "roles": ["admin"]},
                       {"user_id": _uid(), "roles": ["citizen"], "moderated_questions": [question["id"]]}):
            err = _remote(call, caller, *args)
            assert err.exc_type == "Forbidden", (call, caller)
    assert _row(db, p1)["status"] == "pending"

    mod = moderator(question["id"])
    assert rpc.proposals.accept_proposal(mod, p1)["status"] == "accepted"
    assert rpc.proposals.refuse_proposal(mod, p2, {"reason": "partisan"})["status"] == "refused"
    assert rpc.proposals.postpone_proposal(mod, p3)["status"] == "postponed"
    row = _row(db, p1)
    assert row["moderated_by"] == mod["user_id"] and row["moderated_at"] is not None

    boss = admin()  # admins moderate every question without being assigned
    p4 = submit(elsewhere["id"], "Il faut faire la chose numéro 4")["proposal"]["id"]
    assert rpc.proposals.postpone_proposal(boss, p4)["status"] == "postponed"
    assert rpc.proposals.accept_proposal(boss, p4)["status"] == "accepted"
    assert _row(db, p4)["moderated_by"] == boss["user_id"]

    err = _remote(rpc.proposals.accept_proposal, boss, str(uuid.uuid4()))
    assert err.exc_type == "NotFound"


@pytest.mark.parametrize("data", [None, {}, {"reason": ""}, {"reason": "spam"}, {"reason": "Off-Topic"}])
def test_refuse_needs_a_known_reason(proposals, rpc, make_question, submit, db, data):
    question = make_question()
    pid = submit(question["id"], ARBRES)["proposal"]["id"]
    before = _row(db, pid)
    err = _remote(rpc.proposals.refuse_proposal, moderator(question["id"]), pid, data)
    assert err.exc_type == "ValidationFailed"
    assert "reason" in err.exc_args[0]
    assert _row(db, pid) == before


def test_illegal_transitions_change_nothing(proposals, rpc, make_question, submit, db):
    question = make_question()
    mod = moderator(question["id"])
    pid = submit(question["id"], ARBRES)["proposal"]["id"]
    rpc.proposals.accept_proposal(mod, pid, {"tags": ["nature"]})
    before = _row(db, pid)
    events_before = _outbox_count(db, pid)

    err = _remote(rpc.proposals.postpone_proposal, mod, pid)
    assert err.exc_type == "IllegalTransition" and "accepted" in err.value
    err = _remote(rpc.proposals.accept_proposal, mod, pid, {"content": "Il faut planter des chênes", "tags": ["x"]})
    assert err.exc_type == "IllegalTransition"
    assert _row(db, pid) == before
    assert _outbox_count(db, pid) == events_before

    # refused -> refused is illegal too; postponed -> postponed as well
    rpc.proposals.refuse_proposal(mod, pid, {"reason": "already-exists"})
    err = _remote(rpc.proposals.refuse_proposal, mod, pid, {"reason": "test"})
    assert err.exc_type == "IllegalTransition"
    assert _row(db, pid)["refusal_reason"] == "already-exists"
    other = submit(question["id"], TRANSPORTS)["proposal"]["id"]
    rpc.proposals.postpone_proposal(mod, other)
    assert _remote(rpc.proposals.postpone_proposal, mod, other).exc_type == "IllegalTransition"


def test_failed_edit_on_accept_writes_nothing(proposals, rpc, make_question, submit, db):
    question = make_question()
    mod = moderator(question["id"])
    pid = submit(question["id"], ARBRES)["proposal"]["id"]
    before = _row(db, pid)
    err = _remote(rpc.proposals.accept_proposal, mod, pid, {"content": "trop court", "tags": ["nature"]})
    assert err.exc_type == "ValidationFailed" and "content" in err.exc_args[0]
    assert _row(db, pid) == before
    assert _outbox_count(db, pid) == 1  # only proposal_submitted


def test_accept_with_edit_keeps_the_original_and_publishes(proposals, rpc, make_question, submit, events, db):
    recorder = events("proposals", ["proposal_accepted"])
    question = make_question()
    mod = moderator(question["id"])
    pid = submit(question["id"], "il faut planter des arbres dans les cours decole")["proposal"]["id"]

    accepted = rpc.proposals.accept_proposal(mod, pid, {"content": f"  {ARBRES} ", "tags": ["nature", "école", "nature"]})
    assert accepted["status"] == "accepted"
    assert accepted["content"] == ARBRES
    assert accepted["original_content"] == "il faut planter des arbres dans les cours decole"
    assert accepted["tags"] == ["nature", "école"]
    assert accepted["moderated_at"] is not None
    row = _row(db, pid)
    assert (row["status"], row["content"], row["original_content"]) == (
        "accepted", ARBRES, "il faut planter des arbres dans les cours decole")
    assert sorted(row["tags"]) == ["nature", "école"]
    assert row["moderated_by"] == mod["user_id"]

    event = recorder.wait_for(lambda e: e["data"]["proposal_id"] == pid)
    data = event["data"]
    assert event["event_type"] == "proposal_accepted"
    assert data["status"] == "accepted" and data["content"] == ARBRES
    assert data["original_content"] == "il faut planter des arbres dans les cours decole"
    assert data["refusal_reason"] is None and data["moderator_id"] == mod["user_id"]
    assert sorted(data["tags"]) == ["nature", "école"]
    assert data["question_id"] == question["id"] and data["country"] == "FR" and data["language"] == "fr"


def test_accept_without_edit_has_no_original(proposals, rpc, make_question, submit):
    question = make_question()
    pid = submit(question["id"], ARBRES)["proposal"]["id"]
    accepted = rpc.proposals.accept_proposal(moderator(question["id"]), pid, {"content": ARBRES})
    assert accepted["content"] == ARBRES and accepted["original_content"] is None and accepted["tags"] == []


def test_refuse_and_postpone_events(proposals, rpc, make_question, submit, events):
    recorder = events("proposals", ["proposal_refused", "proposal_postponed", "proposal_accepted"])
    question = make_question()
    mod = moderator(question["id"])
    refused_id = submit(question["id"], ARBRES)["proposal"]["id"]
    postponed_id = submit(question["id"], TRANSPORTS)["proposal"]["id"]

    refused = rpc.proposals.refuse_proposal(mod, refused_id, {"reason": "multiple-ideas"})
    assert refused["status"] == "refused" and refused["refusal_reason"] == "multiple-ideas"
    postponed = rpc.proposals.postpone_proposal(mod, postponed_id)
    assert postponed["status"] == "postponed" and postponed["refusal_reason"] is None

    event = recorder.wait_for(lambda e: e["data"]["proposal_id"] == refused_id)
    assert event["event_type"] == "proposal_refused"
    assert event["data"]["status"] == "refused" and event["data"]["refusal_reason"] == "multiple-ideas"
    assert event["data"]["moderator_id"] == mod["user_id"]
    event = recorder.wait_for(lambda e: e["data"]["proposal_id"] == postponed_id)
    assert event["event_type"] == "proposal_postponed"
    assert event["data"]["status"] == "postponed" and event["data"]["refusal_reason"] is None

    # a moderator may revise a refusal: accepting clears the reason
    revised = rpc.proposals.accept_proposal(mod, refused_id)
    assert revised["status"] == "accepted" and revised["refusal_reason"] is None
    event = recorder.wait_for(lambda e: e["event_type"] == "proposal_accepted" and e["data"]["proposal_id"] == refused_id)
    assert event["data"]["refusal_reason"] is None
    # a postponed proposal can be accepted
    assert rpc.proposals.accept_proposal(mod, postponed_id)["status"] == "accepted"


# -- moderation queue --------------------------------------------------------------------
def test_queue_groups_by_author_oldest_first(proposals, rpc, make_question, submit):
    question = make_question()
    mod = moderator(question["id"])
    late, early = citizen("zz-" + _uid()), citizen("aa-" + _uid())  # author id order is the opposite
    l1 = submit(question["id"], "Il faut une première idée", late)["proposal"]["id"]
    e1 = submit(question["id"], "Il faut une deuxième idée", early)["proposal"]["id"]
    e2 = submit(question["id"], "Il faut une troisième idée", early)["proposal"]["id"]
    l2 = submit(question["id"], "Il faut une quatrième idée", late)["proposal"]["id"]
    done = submit(question["id"], "Il faut une idée déjà traitée", early)["proposal"]["id"]
    rpc.proposals.postpone_proposal(mod, done)

    queue = rpc.proposals.moderation_queue(mod, {"question": question["id"]})
    assert queue["lock_seconds"] == 15
    assert [g["author_id"] for g in queue["groups"]] == [late["user_id"], early["user_id"]]
    assert [[p["id"] for p in g["proposals"]] for g in queue["groups"]] == [[l1, l2], [e1, e2]]
    assert all(p["status"] == "pending" for p in queue["groups"][0]["proposals"])
    locked_until = datetime.fromisoformat(queue["groups"][0]["proposals"][0]["locked_until"])
    assert timedelta(seconds=13) < locked_until - _now() <= timedelta(seconds=15)

    # limit counts whole groups
    assert [g["author_id"] for g in rpc.proposals.moderation_queue(mod, {"question": question["id"], "limit": 1})[
        "groups"]] == [late["user_id"]]


def test_a_prolific_author_does_not_crowd_out_the_others(proposals, rpc, make_question, submit):
    question = make_question()
    mod = moderator(question["id"])
    prolific, other = citizen(), citizen()
    heavy = [submit(question["id"], f"Il faut faire la proposition {n}", prolific)["proposal"]["id"]
             for n in range(41)]
    light = submit(question["id"], "Il faut une proposition isolée", other)["proposal"]["id"]

    queue = rpc.proposals.moderation_queue(mod, {"question": question["id"]})
    groups = {g["author_id"]: [p["id"] for p in g["proposals"]] for g in queue["groups"]}
    assert [g["author_id"] for g in queue["groups"]] == [prolific["user_id"], other["user_id"]]
    assert groups[prolific["user_id"]] == heavy[:20]  # at most 20 per author, the oldest
    assert groups[other["user_id"]] == [light]


def test_queue_accepts_a_question_slug(proposals, rpc, make_question, submit):
    question, other = make_question(), make_question()
    pid = submit(question["id"], ARBRES)["proposal"]["id"]
    assert _queue_ids(rpc.proposals.moderation_queue(moderator(question["id"]), {"question": question["slug"]})) == [pid]
    err = _remote(rpc.proposals.moderation_queue, moderator(other["id"]), {"question": question["slug"]})
    assert err.exc_type == "Forbidden"


def test_queue_covers_only_assigned_questions(proposals, rpc, make_question, submit):
    mine, other, third = make_question(), make_question(), make_question()
    mod = moderator(mine["id"], third["id"])
    in_mine = submit(mine["id"], "Il faut une idée pour la mienne")["proposal"]["id"]
    in_third = submit(third["id"], "Il faut une idée pour la troisième")["proposal"]["id"]
    in_other = submit(other["id"], "Il faut une idée pour l'autre")["proposal"]["id"]

    ids = _queue_ids(rpc.proposals.moderation_queue(mod))
    assert sorted(ids) == sorted([in_mine, in_third])
    assert in_other not in ids
    assert _queue_ids(rpc.proposals.moderation_queue(mod, {"question": third["id"]})) == [in_third]

    err = _remote(rpc.proposals.moderation_queue, mod, {"question": other["id"]})
    assert err.exc_type == "Forbidden"
    for caller in (citizen(), None, moderator()):
        err = _remote(rpc.proposals.moderation_queue, caller)
        assert err.exc_type == "Forbidden", caller
    err = _remote(rpc.proposals.moderation_queue, citizen(), {"question": mine["id"]})
    assert err.exc_type == "Forbidden"
    # an admin may ask for any question
    assert _queue_ids(rpc.proposals.moderation_queue(admin(), {"question": other["id"]})) == [in_other]


def test_queue_lock_keeps_other_moderators_away(proposals, rpc, make_question, submit, db):
    question = make_question()
    a, b = moderator(question["id"]), moderator(question["id"])
    p1 = submit(question["id"], ARBRES)["proposal"]["id"]
    p2 = submit(question["id"], TRANSPORTS)["proposal"]["id"]

    assert sorted(_queue_ids(rpc.proposals.moderation_queue(a, {"question": question["id"]}))) == sorted([p1, p2])
    row = _row(db, p1)
    assert row["locked_by"] == a["user_id"] and row["locked_until"] > _now()

    assert _queue_ids(rpc.proposals.moderation_queue(b, {"question": question["id"]})) == []
    assert _queue_ids(rpc.proposals.moderation_queue(b)) == []
    before = _row(db, p1)
    err = _remote(rpc.proposals.accept_proposal, b, p1)
    assert err.exc_type == "Locked"
    assert _row(db, p1) == before
    for call, args in ((rpc.proposals.refuse_proposal, (p1, {"reason": "test"})),
                       (rpc.proposals.postpone_proposal, (p1,))):
        assert _remote(call, b, *args).exc_type == "Locked"

    # the lock holder sees them again (renewing the lock) and moderates
    assert sorted(_queue_ids(rpc.proposals.moderation_queue(a, {"question": question["id"]}))) == sorted([p1, p2])
    accepted = rpc.proposals.accept_proposal(a, p1)
    assert accepted["status"] == "accepted"
    row = _row(db, p1)
    assert row["locked_by"] is None and row["locked_until"] is None

    # once a's lock on p2 expires, b gets it
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE proposals SET locked_until = :t WHERE id = :i"),
                     {"t": _now() - timedelta(seconds=1), "i": p2})
    assert _queue_ids(rpc.proposals.moderation_queue(b, {"question": question["id"]})) == [p2]
    assert _row(db, p2)["locked_by"] == b["user_id"]
    assert _remote(rpc.proposals.postpone_proposal, a, p2).exc_type == "Locked"
    assert rpc.proposals.postpone_proposal(b, p2)["status"] == "postponed"


def test_lock_duration_is_configurable(run_service, rpc, make_question, submit):
    run_service(ProposalsService, {"PROPOSALS": {"lock_seconds": 1}})
    question = make_question()
    a, b = moderator(question["id"]), moderator(question["id"])
    pid = submit(question["id"], ARBRES)["proposal"]["id"]
    queue = rpc.proposals.moderation_queue(a, {"question": question["id"]})
    assert queue["lock_seconds"] == 1 and _queue_ids(queue) == [pid]
    assert _queue_ids(rpc.proposals.moderation_queue(b, {"question": question["id"]})) == []
    assert _remote(rpc.proposals.accept_proposal, b, pid).exc_type == "Locked"
    time.sleep(1.2)
    assert rpc.proposals.accept_proposal(b, pid)["status"] == "accepted"


# -- listing and search ------------------------------------------------------------------
def test_list_proposals_only_accepted_newest_first(proposals, rpc, make_question, submit):
    question = make_question()
    mod = moderator(question["id"])
    ids = [submit(question["id"], f"Il faut faire la proposition {n}")["proposal"]["id"] for n in range(5)]
    for pid in (ids[3], ids[0], ids[2]):  # acceptance order differs from submission order
        rpc.proposals.accept_proposal(mod, pid)
    rpc.proposals.refuse_proposal(mod, ids[1], {"reason": "test"})  # ids[4] stays pending

    everything = rpc.proposals.list_proposals(question["id"])
    assert [p["id"] for p in everything["items"]] == [ids[3], ids[2], ids[0]]
    assert everything["total"] == 3 and everything["page"] == 1 and everything["per_page"] == 20
    assert all(p["status"] == "accepted" for p in everything["items"])

    first = rpc.proposals.list_proposals(question["slug"], {"per_page": 2})
    second = rpc.proposals.list_proposals(question["id"], {"per_page": 2, "page": 2})
    assert [p["id"] for p in first["items"]] == [ids[3], ids[2]] and first["total"] == 3
    assert [p["id"] for p in second["items"]] == [ids[0]] and second["total"] == 3

    assert rpc.proposals.list_proposals(make_question()["id"]) == {
        "items": [], "total": 0, "total_exact": True, "page": 1, "per_page": 20}
    assert _remote(rpc.proposals.list_proposals, "no-such-question").exc_type == "NotFound"
    err = _remote(rpc.proposals.list_proposals, question["id"], {"per_page": 101})
    assert err.exc_type == "ValidationFailed" and "per_page" in err.exc_args[0]


def test_french_full_text_search_stems(proposals, rpc, make_question, submit):
    question = make_question()
    mod = moderator(question["id"])
    arbres = submit(question["id"], ARBRES)["proposal"]["id"]
    transports = submit(question["id"], TRANSPORTS)["proposal"]["id"]
    pending = submit(question["id"], "Il faut protéger les arbres des parcs")["proposal"]["id"]
    for pid in (arbres, transports):
        rpc.proposals.accept_proposal(mod, pid)

    found = rpc.proposals.list_proposals(question["id"], {"q": "arbre"})
    assert [p["id"] for p in found["items"]] == [arbres] and found["total"] == 1  # not the pending one
    assert pending not in [p["id"] for p in found["items"]]
    assert [p["id"] for p in rpc.proposals.list_proposals(question["id"], {"q": "transport public"})["items"]] == [
        transports]
    assert rpc.proposals.list_proposals(question["id"], {"q": "vélo"})["total"] == 0
    assert rpc.proposals.list_proposals(question["id"], {"q": "   "})["total"] == 2  # blank query lists all

    # the search follows an edit made on acceptance
    edited = submit(question["id"], "Il faut des pistes pour les vélos")["proposal"]["id"]
    rpc.proposals.accept_proposal(mod, edited, {"content": "Il faut des pistes cyclables pour les vélos"})
    assert [p["id"] for p in rpc.proposals.list_proposals(question["id"], {"q": "cyclable"})["items"]] == [edited]


def test_english_full_text_search_stems(proposals, rpc, make_question, submit):
    question = make_question(country="GB", language="en", title="How can we make cities greener?")
    mod = moderator(question["id"])
    trees = submit(question["id"], "We should plant more trees in city parks")["proposal"]["id"]
    buses = submit(question["id"], "We should make buses free for students")["proposal"]["id"]
    for pid in (trees, buses):
        rpc.proposals.accept_proposal(mod, pid)
    assert [p["id"] for p in rpc.proposals.list_proposals(question["id"], {"q": "planting tree"})["items"]] == [trees]
    assert [p["id"] for p in rpc.proposals.list_proposals(question["id"], {"q": "student"})["items"]] == [buses]
    assert rpc.proposals.list_proposals(question["id"], {"q": "bicycles"})["total"] == 0


def test_search_ranks_the_recent_window_then_lists_older_matches(run_service, rpc, make_question, submit, db):
    """Bounded search: relevance among the `search_rank_window` most recent proposals, then
    older matches newest first; older matches counted up to `search_count_cap`."""
    run_service(ProposalsService, {"PROPOSALS": {"search_rank_window": 4, "search_count_cap": 2}})
    question = make_question()
    mod = moderator(question["id"])
    texts = ["Il faut des arbres et encore des arbres en ville",  # 0: oldest, the most relevant
             "Il faut des arbres dans les cours",                  # 1
             "Il faut baisser le prix des transports",             # 2: no match
             "Il faut des arbres le long des routes",              # 3
             "Il faut planter des arbres et des arbres partout",   # 4: recent and relevant
             "Il faut des arbres près des écoles",                 # 5
             "Il faut des bancs publics",                          # 6: no match
             "Il faut des arbres sur les places"]                  # 7: newest
    ids = []
    for n, text in enumerate(texts):
        ids.append(submit(question["id"], text)["proposal"]["id"])
        rpc.proposals.accept_proposal(mod, ids[-1])
    with db.begin() as conn:  # distinct, increasing creation times
        for n, pid in enumerate(ids):
            conn.execute(sa.text("UPDATE proposals SET created_at = :t WHERE id = :i"),
                         {"t": _now() - timedelta(hours=len(ids) - n), "i": pid})

    found = rpc.proposals.list_proposals(question["id"], {"q": "arbres"})
    order = [ids.index(p["id"]) for p in found["items"]]
    # window = the 4 most recent (4, 5, 6, 7): 4 first (two "arbres"), then 7, 5 (newest first);
    # then the older matches newest first: 3, 1, 0 — 0 is not ranked first although it is relevant
    assert order == [4, 7, 5, 3, 1, 0]
    assert found["total"] == 3 + 2 and found["total_exact"] is False  # older ones counted up to 2
    # pages follow the same order, across the window's edge
    pages = [rpc.proposals.list_proposals(question["id"], {"q": "arbres", "per_page": 2, "page": n})
             for n in (1, 2, 3, 4)]
    assert [ids.index(p["id"]) for page in pages for p in page["items"]] == order
    assert pages[3]["items"] == [] and pages[3]["total"] == 5

    rare = rpc.proposals.list_proposals(question["id"], {"q": "routes"})  # only an older match
    assert [p["id"] for p in rare["items"]] == [ids[3]] and (rare["total"], rare["total_exact"]) == (1, True)
    assert rpc.proposals.list_proposals(question["id"], {"q": "bancs"})["total"] == 1  # in the window
    plain = rpc.proposals.list_proposals(question["id"])  # no search: exact, newest first
    assert [p["id"] for p in plain["items"]] == ids[::-1] and plain["total_exact"] is True


def test_search_within_the_window_is_exact(proposals, rpc, make_question, submit):
    question = make_question()
    mod = moderator(question["id"])
    a = submit(question["id"], "Il faut des arbres et encore des arbres")["proposal"]["id"]
    b = submit(question["id"], "Il faut des arbres en ville")["proposal"]["id"]
    for pid in (a, b):
        rpc.proposals.accept_proposal(mod, pid)
    found = rpc.proposals.list_proposals(question["id"], {"q": "arbre"})
    assert [p["id"] for p in found["items"]] == [a, b]  # relevance first: a is older but ranks higher
    assert (found["total"], found["total_exact"]) == (2, True)


# -- likely duplicates -------------------------------------------------------------------
def test_likely_duplicates_on_submit_and_in_the_queue(proposals, rpc, make_question, submit):
    question, elsewhere = make_question(), make_question()
    mod = moderator(question["id"])
    original = submit(question["id"], ARBRES)["proposal"]["id"]
    rpc.proposals.accept_proposal(mod, original)
    # the same text in another question is not a duplicate
    rpc.proposals.accept_proposal(admin(), submit(elsewhere["id"], ARBRES)["proposal"]["id"])

    result = submit(question["id"], ARBRES_BIS)
    dups = result["likely_duplicates"]
    assert [d["id"] for d in dups] == [original]
    assert dups[0]["content"] == ARBRES
    assert 0.3 < dups[0]["score"] <= 1.0

    unrelated = submit(question["id"], TRANSPORTS)
    assert unrelated["likely_duplicates"] == []

    queue = rpc.proposals.moderation_queue(mod, {"question": question["id"]})
    items = {p["id"]: p for g in queue["groups"] for p in g["proposals"]}
    assert set(items) == {result["proposal"]["id"], unrelated["proposal"]["id"]}
    assert [d["id"] for d in items[result["proposal"]["id"]]["likely_duplicates"]] == [original]
    assert items[result["proposal"]["id"]]["likely_duplicates"][0]["score"] == dups[0]["score"]
    assert items[unrelated["proposal"]["id"]]["likely_duplicates"] == []


def test_duplicate_threshold_is_configurable(run_service, rpc, make_question, submit):
    run_service(ProposalsService, {"PROPOSALS": {"duplicate_min_score": 0.2}})
    question = make_question()
    original = submit(question["id"], ARBRES)["proposal"]["id"]
    rpc.proposals.accept_proposal(moderator(question["id"]), original)
    # TRANSPORTS shares "Il faut ... des" with ARBRES: trigram similarity ~0.24, under 0.3 but over 0.2
    dups = submit(question["id"], TRANSPORTS)["likely_duplicates"]
    assert [d["id"] for d in dups] == [original]
    assert 0.2 <= dups[0]["score"] < 0.3


def test_ping(proposals, rpc):
    assert rpc.proposals.ping() == {"service": "proposals", "status": "ok"}


def test_queue_sizes_count_pending_proposals_per_question(run_service, rpc):
    run_service(ProposalsService)
    now = datetime.now(timezone.utc)
    admin = {"user_id": "qs-admin", "roles": ["citizen", "admin"], "moderated_questions": []}
    questions = [rpc.proposals.create_question(admin, {
        "slug": f"qs-{uuid.uuid4().hex[:8]}", "title": "Queue sizes", "country": "FR", "language": "fr",
        "scope": "local", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat()}) for _ in range(2)]
    author = {"user_id": "qs-author", "roles": ["citizen"]}
    ids = [rpc.proposals.submit_proposal(author, questions[0]["id"], {"content": f"Il faut tester la file {i}"})
           ["proposal"]["id"] for i in range(3)]
    rpc.proposals.accept_proposal(admin, ids[0], {})
    sizes = rpc.proposals.queue_sizes([q["id"] for q in questions])
    assert sizes == {questions[0]["id"]: 2}
    assert rpc.proposals.queue_sizes()[questions[0]["id"]] == 2


# -- client helpers: scope filter, prefix, countries -------------------------------------
def test_list_questions_filters_by_scope(proposals, rpc, make_question):
    local = make_question(country="CH", language="it", scope="local")
    european = make_question(country="CH", language="it", scope="european")
    for scope, mine in (("local", local), ("european", european)):
        page = rpc.proposals.list_questions({"country": "CH", "language": "it", "scope": scope, "per_page": 100})
        ids = {q["id"] for q in page["items"]}
        assert mine["id"] in ids and ({local["id"], european["id"]} - {mine["id"]}).isdisjoint(ids)
        assert all(q["scope"] == scope for q in page["items"]) and page["total"] == len(page["items"])
    err = _remote(rpc.proposals.list_questions, {"scope": "regional"})
    assert err.exc_type == "ValidationFailed" and list(err.exc_args[0]) == ["scope"]


def test_questions_carry_the_proposal_prefix_and_lengths(proposals, rpc, make_question, events):
    recorder = events("proposals", ["question_created"])
    created = make_question(country="DE", language="de", title="Wie wird die Stadt grüner?")
    assert created["proposal_prefix"] == "Man sollte"
    got = rpc.proposals.get_question(created["slug"])
    assert (got["proposal_prefix"], got["proposal_min_length"], got["proposal_max_length"]) == ("Man sollte", 12, 140)
    listed = {q["id"]: q for q in rpc.proposals.list_questions({"country": "DE", "per_page": 100})["items"]}
    assert listed[created["id"]]["proposal_prefix"] == "Man sollte"
    assert rpc.proposals.get_question(make_question(country="GB", language="en")["id"])["proposal_prefix"] == "We should"
    # the event keeps its contract: no client helpers in it
    event = recorder.wait_for(lambda e: e["data"]["id"] == created["id"])
    assert "proposal_prefix" not in event["data"]


def test_lengths_follow_the_configuration(run_service, rpc, make_question):
    run_service(ProposalsService, {"PROPOSALS": {"min_length": 20, "max_length": 200}})
    got = rpc.proposals.get_question(make_question()["id"])
    assert (got["proposal_min_length"], got["proposal_max_length"]) == (20, 200)


def test_list_countries(proposals, rpc):
    countries = {c["country"]: c for c in rpc.proposals.list_countries()}
    assert set(countries) == {"FR", "DE", "GB", "BE", "CH", "LU"}
    assert countries["CH"] == {"country": "CH", "languages": ["de", "fr", "it"], "default_language": "de"}
    assert countries["BE"]["default_language"] == "nl"


# -- my proposals --------------------------------------------------------------------------
def test_my_proposals_every_status_newest_first(proposals, rpc, make_question, submit):
    question, other = make_question(), make_question(title="Comment mieux se déplacer ?")
    me, someone = citizen(), citizen()
    mod = admin()
    ids = [submit(question["id"], f"Il faut faire la proposition {n}", me)["proposal"]["id"] for n in range(4)]
    elsewhere = submit(other["id"], "Il faut proposer ailleurs aussi", me)["proposal"]["id"]
    submit(question["id"], "Il faut une proposition d'un autre", someone)
    rpc.proposals.accept_proposal(mod, ids[0])
    rpc.proposals.refuse_proposal(mod, ids[1], {"reason": "off-topic"})
    rpc.proposals.postpone_proposal(mod, ids[2])

    page = rpc.proposals.my_proposals(me)
    assert [p["id"] for p in page["items"]] == [elsewhere, ids[3], ids[2], ids[1], ids[0]]
    assert page["total"] == 5 and page["page"] == 1 and page["per_page"] == 20
    by_id = {p["id"]: p for p in page["items"]}
    assert [by_id[i]["status"] for i in ids] == ["accepted", "refused", "postponed", "pending"]
    assert by_id[ids[1]]["refusal_reason"] == "off-topic" and by_id[ids[0]]["refusal_reason"] is None
    assert by_id[elsewhere]["question_title"] == "Comment mieux se déplacer ?"
    assert by_id[ids[0]]["question_slug"] == question["slug"] and by_id[ids[0]]["question_id"] == question["id"]
    assert all(p["author_id"] == me["user_id"] for p in page["items"])

    second = rpc.proposals.my_proposals(me, {"per_page": 2, "page": 2})
    assert [p["id"] for p in second["items"]] == [ids[2], ids[1]] and second["total"] == 5
    refused = rpc.proposals.my_proposals(me, {"status": "refused"})
    assert [p["id"] for p in refused["items"]] == [ids[1]] and refused["total"] == 1
    on_other = rpc.proposals.my_proposals(me, {"question": other["slug"]})
    assert [p["id"] for p in on_other["items"]] == [elsewhere]
    assert rpc.proposals.my_proposals(citizen()) == {"items": [], "total": 0, "page": 1, "per_page": 20}


def test_my_proposals_unhappy_paths(proposals, rpc):
    for caller in (None, {}, {"user_id": None, "roles": ["admin"]}):
        assert _remote(rpc.proposals.my_proposals, caller).exc_type == "Forbidden"
    for bad in ({"status": "lost"}, {"per_page": 101}, {"page": 0}):
        err = _remote(rpc.proposals.my_proposals, citizen(), bad)
        assert err.exc_type == "ValidationFailed" and list(err.exc_args[0]) == list(bad)
    assert _remote(rpc.proposals.my_proposals, citizen(), {"question": "no-such-question"}).exc_type == "NotFound"


# -- similar proposals (dry run of the duplicate check) --------------------------------
def test_similar_shows_accepted_and_counts_pending_for_citizens(proposals, rpc, make_question, submit):
    question = make_question()
    author, other = citizen(), citizen()
    mod = moderator(question["id"])
    accepted = submit(question["id"], ARBRES, other)["proposal"]["id"]
    rpc.proposals.accept_proposal(mod, accepted)
    theirs = submit(question["id"], "Il faut planter des arbres dans toutes les cours d'école", other)["proposal"]["id"]
    mine = submit(question["id"], "Il faut planter des arbres dans nos cours d'école", author)["proposal"]["id"]
    refused = submit(question["id"], "Il faut planter des arbres dans les cours des écoles", other)["proposal"]["id"]
    rpc.proposals.refuse_proposal(mod, refused, {"reason": "test"})
    submit(question["id"], TRANSPORTS, other)  # pending, not similar

    draft = {"content": ARBRES_BIS}
    anonymous = rpc.proposals.similar_proposals(None, question["id"], draft)
    assert [(d["id"], d["status"]) for d in anonymous["likely_duplicates"]] == [(accepted, "accepted")]
    assert anonymous["likely_duplicates"][0]["content"] == ARBRES
    assert anonymous["pending_similar"] == 2  # theirs and mine: counted, not shown

    as_author = rpc.proposals.similar_proposals(author, question["slug"], draft)
    shown = {d["id"]: d for d in as_author["likely_duplicates"]}
    assert set(shown) == {accepted, mine} and shown[mine]["status"] == "pending"
    assert as_author["pending_similar"] == 1  # theirs
    scores = [d["score"] for d in as_author["likely_duplicates"]]
    assert scores == sorted(scores, reverse=True) and all(0.3 <= s <= 1 for s in scores)

    as_moderator = rpc.proposals.similar_proposals(mod, question["id"], draft)
    assert {d["id"] for d in as_moderator["likely_duplicates"]} == {accepted, mine, theirs}  # never refused ones
    assert as_moderator["pending_similar"] == 0
    # a moderator of another question is a citizen here
    assert rpc.proposals.similar_proposals(moderator("elsewhere"), question["id"], draft)["pending_similar"] == 2

    # the same score as the duplicate check at submission
    submitted = submit(question["id"], ARBRES_BIS, citizen())["likely_duplicates"]
    assert submitted == [{k: d[k] for k in ("id", "content", "score")} for d in anonymous["likely_duplicates"]]
    assert rpc.proposals.similar_proposals(None, question["id"], {"content": "Il faut réduire le bruit la nuit"}) == {
        "likely_duplicates": [], "pending_similar": 0}


def test_similar_unhappy_paths(proposals, rpc, make_question):
    question = make_question()
    for data in ({}, {"content": None}, {"content": "trop court"}, {"content": "x" * 141}):
        err = _remote(rpc.proposals.similar_proposals, None, question["id"], data)
        assert err.exc_type == "ValidationFailed" and list(err.exc_args[0]) == ["content"], data
    err = _remote(rpc.proposals.similar_proposals, None, "no-such-question", {"content": ARBRES})
    assert err.exc_type == "NotFound"
