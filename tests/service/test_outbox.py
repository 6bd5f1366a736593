"""The transactional outbox (common/outbox.py, common/db.py, common/events.py) on the real
PostgreSQL, and the relay inside a nameko service (common/nameko_support.py) on the real broker."""
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from nameko.rpc import rpc as rpc_entrypoint

from common.config import derive_database_url
from common.db import ServiceStore, infra_tables, make_engine
from common.events import ENVELOPE_VERSION, make_envelope
from common.migrations import ensure_database
from common.nameko_support import Database
from common.outbox import OutboxRelay, add_to_outbox

METADATA = sa.MetaData()
infra_tables(METADATA)
WIDGETS = sa.Table(
    "widgets", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)


class PublishFailed(Exception):
    pass


@pytest.fixture(scope="module")
def store(pg_base_url):
    url = derive_database_url(pg_base_url, "outboxtest")
    ensure_database(url)
    store = ServiceStore("outboxtest", METADATA, url)
    METADATA.create_all(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def db(store):
    with store.engine.begin() as conn:
        for table in reversed(METADATA.sorted_tables):
            conn.execute(table.delete())
    return store


class Recorder:
    """A ``publish_many`` for OutboxRelay: records the messages it takes, refuses the
    messages listed in ``fail_on`` (1-based count over all calls) and what follows them in
    their batch, as a broker's nack or a dropped connection would."""

    def __init__(self, fail_on=()):
        self.calls = []
        self.attempt = 0
        self.fail_on = set(fail_on)

    def __call__(self, messages):
        for i, (source, event_type, payload, headers, event_id) in enumerate(messages):
            self.attempt += 1
            if self.attempt in self.fail_on:
                return i, PublishFailed(f"broker said no to message {self.attempt}")
            assert isinstance(payload, str) and json.loads(payload)["event_id"] == event_id  # the row's text
            self.calls.append({"source": source, "event_type": event_type, "payload": json.loads(payload),
                               "headers": headers})
            self.sent()
        return len(messages), None

    def sent(self):
        """Called after each message taken (a hook for tests)."""

    @property
    def event_ids(self):
        return [c["payload"]["event_id"] for c in self.calls]


def emit(store, n=1, event_type="widget_made", headers=None):
    """n events, each in its own committed transaction, in order; returns their envelopes."""
    envelopes = []
    for i in range(n):
        with store.unit_of_work(headers=headers) as uow:
            envelopes.append(uow.emit(event_type, {"i": i}))
    return envelopes


def rows(store):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(store.outbox).order_by(store.outbox.c.id)).all()


def count(store, table):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --------------------------------------------------------------------------
# Envelope
# --------------------------------------------------------------------------


def test_envelope_shape():
    envelope = make_envelope("accounts", "user_registered", {"user_id": "u-1"})
    assert set(envelope) == {"event_id", "event_type", "source", "version", "occurred_at", "data"}
    assert str(uuid.UUID(envelope["event_id"])) == envelope["event_id"]
    assert envelope["event_type"] == "user_registered" and envelope["source"] == "accounts"
    assert envelope["version"] == ENVELOPE_VERSION == 1
    assert datetime.fromisoformat(envelope["occurred_at"]).utcoffset() == timedelta(0)
    assert envelope["data"] == {"user_id": "u-1"}
    assert make_envelope("a", "b", {})["event_id"] != make_envelope("a", "b", {})["event_id"]
    json.dumps(envelope)


# --------------------------------------------------------------------------
# UnitOfWork.emit
# --------------------------------------------------------------------------


def test_emit_writes_the_event_in_the_same_transaction_as_the_change(db):
    woken = []
    with db.unit_of_work(on_events=lambda: woken.append(1), headers={"call_id_stack": ["gateway.r1"]}) as uow:
        uow.session.execute(WIDGETS.insert().values(id=1, name="first"))
        envelope = uow.emit("widget_made", {"id": 1})
        # not visible to anyone else before the commit: no separate (auto)commit of the event
        assert count(db, db.outbox) == 0 and count(db, WIDGETS) == 0
        assert woken == []
    assert uow.events == [envelope]
    assert woken == [1]
    assert count(db, WIDGETS) == 1
    [row] = rows(db)
    assert row.event_id == envelope["event_id"]
    assert row.source == "outboxtest" and row.event_type == "widget_made"
    assert json.loads(row.payload) == envelope
    assert envelope["source"] == "outboxtest" and envelope["data"] == {"id": 1}
    assert json.loads(row.headers) == {"call_id_stack": ["gateway.r1"]}
    assert row.published_at is None and row.attempts == 0
    assert row.created_at.tzinfo is not None


def test_rollback_leaves_neither_the_change_nor_the_event(db):
    woken = []
    with pytest.raises(RuntimeError, match="changed my mind"):
        with db.unit_of_work(on_events=lambda: woken.append(1)) as uow:
            uow.session.execute(WIDGETS.insert().values(id=2, name="never"))
            uow.emit("widget_made", {"id": 2})
            raise RuntimeError("changed my mind")
    assert count(db, WIDGETS) == 0
    assert count(db, db.outbox) == 0
    assert woken == []


def test_failed_commit_leaves_neither_the_change_nor_the_event(db):
    with db.unit_of_work() as uow:
        uow.session.execute(WIDGETS.insert().values(id=3, name="exists"))
    with pytest.raises(sa.exc.IntegrityError):
        with db.unit_of_work() as uow:
            uow.emit("widget_made", {"id": 3})
            uow.session.execute(WIDGETS.insert().values(id=3, name="duplicate"))
    assert count(db, WIDGETS) == 1
    assert count(db, db.outbox) == 0


def test_relay_is_woken_only_after_a_commit_with_events(db):
    woken = []
    with db.unit_of_work(on_events=lambda: woken.append(1)) as uow:
        uow.session.execute(WIDGETS.insert().values(id=4, name="quiet"))
    assert woken == []
    with db.unit_of_work(on_events=lambda: woken.append(1)) as uow:
        uow.emit("a", {})
        uow.emit("b", {})
    assert woken == [1]


def test_several_events_of_one_transaction_keep_their_order(db):
    with db.unit_of_work() as uow:
        envelopes = [uow.emit(f"step_{i}", {"i": i}) for i in range(50)]
    assert [r.event_id for r in rows(db)] == [e["event_id"] for e in envelopes]


# --------------------------------------------------------------------------
# OutboxRelay
# --------------------------------------------------------------------------


def test_relay_publishes_in_id_order_and_marks_rows(db):
    envelopes = emit(db, 5, headers={"call_id_stack": ["x.y.1"]})
    publish = Recorder()
    relay = OutboxRelay(db.engine, db.outbox, publish)
    assert relay.pending() == 5
    assert relay.relay_batch() == 5
    assert publish.event_ids == [e["event_id"] for e in envelopes]
    assert [c["payload"] for c in publish.calls] == envelopes
    assert all(c["source"] == "outboxtest" and c["event_type"] == "widget_made" for c in publish.calls)
    assert all(c["headers"] == {"call_id_stack": ["x.y.1"]} for c in publish.calls)
    assert all(r.published_at is not None and r.attempts == 0 for r in rows(db))
    assert relay.pending() == 0
    assert relay.relay_batch() == 0
    assert len(publish.calls) == 5


def test_relay_in_batches_keeps_the_order(db):
    envelopes = emit(db, 5)
    publish = Recorder()
    relay = OutboxRelay(db.engine, db.outbox, publish, batch_size=2)
    assert [relay.relay_batch() for _ in range(4)] == [2, 2, 1, 0]
    assert publish.event_ids == [e["event_id"] for e in envelopes]


def test_relay_only_sends_committed_events(db):
    publish = Recorder()
    relay = OutboxRelay(db.engine, db.outbox, publish)
    with db.unit_of_work() as uow:
        uow.emit("widget_made", {"i": 0})
        assert relay.relay_batch() == 0
    assert relay.relay_batch() == 1


def test_failed_publish_stops_the_batch_and_a_later_batch_sends_the_rest_in_order(db):
    envelopes = emit(db, 4)
    ids = [e["event_id"] for e in envelopes]
    failing = Recorder(fail_on={2})
    relay = OutboxRelay(db.engine, db.outbox, failing)
    with pytest.raises(PublishFailed):
        relay.relay_batch()
    assert failing.event_ids == ids[:1]
    state = [(r.event_id, r.published_at is not None, r.attempts) for r in rows(db)]
    assert state == [(ids[0], True, 0), (ids[1], False, 1), (ids[2], False, 0), (ids[3], False, 0)]

    still_failing = Recorder(fail_on={1})
    with pytest.raises(PublishFailed):
        OutboxRelay(db.engine, db.outbox, still_failing).relay_batch()
    assert [r.attempts for r in rows(db)] == [0, 2, 0, 0]

    working = Recorder()
    relay = OutboxRelay(db.engine, db.outbox, working)
    assert relay.relay_batch() == 3
    assert working.event_ids == ids[1:]
    assert all(r.published_at is not None for r in rows(db))
    assert relay.relay_batch() == 0


def test_a_batch_publisher_gets_the_whole_batch_and_only_what_it_confirmed_is_marked(db):
    envelopes = emit(db, 5, headers={"call_id_stack": ["x.y.1"]})
    ids = [e["event_id"] for e in envelopes]
    batches = []

    def publish_many(messages):  # the broker confirmed the first two, then refused
        batches.append(messages)
        return (2, PublishFailed("nack")) if len(batches) == 1 else (len(messages), None)

    relay = OutboxRelay(db.engine, db.outbox, publish_many)
    with pytest.raises(PublishFailed):
        relay.relay_batch()
    assert [m[4] for m in batches[0]] == ids  # the whole batch, in order, in one call
    assert [json.loads(m[2]) for m in batches[0]] == envelopes  # each row's JSON text
    assert batches[0][0][0] == "outboxtest" and batches[0][0][1] == "widget_made"
    assert batches[0][0][3] == {"call_id_stack": ["x.y.1"]}
    state = [(r.published_at is not None, r.attempts) for r in rows(db)]
    assert state == [(True, 0), (True, 0), (False, 1), (False, 0), (False, 0)]
    assert relay.relay_batch() == 3
    assert [m[4] for m in batches[1]] == ids[2:]
    assert relay.pending() == 0


def test_a_row_committed_after_higher_ids_were_sent_goes_at_the_next_full_scan(db):
    """Passes look above the highest id sent (the dead index entries below are not read
    again); a row whose transaction committed late, with a lower id, is found by the next
    scan from the start of the outbox."""
    publish = Recorder()
    relay = OutboxRelay(db.engine, db.outbox, publish, full_scan_interval=0.3)
    with db.unit_of_work() as late:
        late_event = late.emit("widget_made", {"i": "late"})
        late.flush()  # its id is taken now; the row commits after the next ones
        early = emit(db, 2)
        assert relay.relay_batch() == 2  # a full scan: the late row is not committed yet
    assert relay.relay_batch() == 0  # above the floor only: the late row is not seen yet
    time.sleep(0.35)
    assert relay.relay_batch() == 1
    assert publish.event_ids == [e["event_id"] for e in early] + [late_event["event_id"]]
    assert relay.pending() == 0


def test_passes_between_full_scans_read_only_above_what_was_sent(db):
    publish = Recorder()
    relay = OutboxRelay(db.engine, db.outbox, publish, batch_size=2, full_scan_interval=60)
    envelopes = emit(db, 5)
    assert [relay.relay_batch() for _ in range(4)] == [2, 2, 1, 0]
    more = emit(db, 1)
    assert relay.relay_batch() == 1
    assert publish.event_ids == [e["event_id"] for e in envelopes + more]


def test_two_relays_never_send_the_same_row(db):
    """Several instances of a service: rows one relay has claimed are skipped by the other."""
    envelopes = emit(db, 4)
    second = Recorder()
    # a relay that waited for the first one's locks would deadlock this test: fail instead
    other_engine = make_engine(db.url, connect_args={"options": "-c lock_timeout=2000"})
    second_relay = OutboxRelay(other_engine, db.outbox, second, batch_size=10)
    during = []

    class FirstPublish(Recorder):
        def sent(self):
            if len(self.calls) == 1:  # while the first relay holds its batch
                during.append(second_relay.relay_batch())

    first = FirstPublish()
    assert OutboxRelay(db.engine, db.outbox, first, batch_size=2).relay_batch() == 2
    assert first.event_ids == [e["event_id"] for e in envelopes[:2]]
    assert during == [2]
    assert second.event_ids == [e["event_id"] for e in envelopes[2:]]
    assert second_relay.relay_batch() == 0
    other_engine.dispose()


def test_purge_removes_only_old_published_rows(db):
    emit(db, 3)
    relay = OutboxRelay(db.engine, db.outbox, Recorder(), batch_size=2, retention=timedelta(days=7))
    relay.relay_batch()  # rows 1 and 2 published, row 3 pending
    first_id = rows(db)[0].id
    with db.engine.begin() as conn:
        conn.execute(sa.update(db.outbox).where(db.outbox.c.id == first_id)
                     .values(published_at=sa.func.now() - sa.text("interval '8 days'")))
    assert relay.purge() == 1
    remaining = rows(db)
    assert len(remaining) == 2 and first_id not in [r.id for r in remaining]
    assert relay.pending() == 1


# --------------------------------------------------------------------------
# first_delivery
# --------------------------------------------------------------------------


def test_first_delivery_once_per_event_and_handler(db):
    event_id = str(uuid.uuid4())
    with db.unit_of_work() as uow:
        assert uow.first_delivery(event_id, "proposals.on_user_registered") is True
    with db.unit_of_work() as uow:
        assert uow.first_delivery(event_id, "proposals.on_user_registered") is False
        assert uow.first_delivery(event_id, "voting.on_user_registered") is True
        assert uow.first_delivery(str(uuid.uuid4()), "proposals.on_user_registered") is True
    with db.unit_of_work() as uow:
        assert uow.first_delivery(event_id, "voting.on_user_registered") is False


def test_repeat_in_the_same_transaction_keeps_the_transaction_usable(db):
    event_id = str(uuid.uuid4())
    with db.unit_of_work() as uow:
        assert uow.first_delivery(event_id, "h") is True
        uow.session.execute(WIDGETS.insert().values(id=10, name="effect"))
        assert uow.first_delivery(event_id, "h") is False
        uow.session.execute(WIDGETS.insert().values(id=11, name="after the duplicate"))
        uow.emit("handled", {"event_id": event_id})
    assert count(db, WIDGETS) == 2
    assert count(db, db.processed) == 1
    assert count(db, db.outbox) == 1


def test_rolled_back_transaction_does_not_keep_the_mark(db):
    event_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        with db.unit_of_work() as uow:
            assert uow.first_delivery(event_id, "h") is True
            uow.session.execute(WIDGETS.insert().values(id=20, name="effect"))
            raise RuntimeError("handler failed")
    assert count(db, db.processed) == 0
    with db.unit_of_work() as uow:  # the redelivery is handled
        assert uow.first_delivery(event_id, "h") is True
    with db.unit_of_work() as uow:
        assert uow.first_delivery(event_id, "h") is False


# --------------------------------------------------------------------------
# End to end: the relay inside a nameko service, through the real broker
# --------------------------------------------------------------------------

PROBE_METADATA = sa.MetaData()
infra_tables(PROBE_METADATA)


class OutboxProbe:
    name = "outboxprobe"
    db = Database("outboxprobe", PROBE_METADATA)

    @rpc_entrypoint
    def fire(self, data):
        with self.db() as uow:
            envelope = uow.emit("probe_happened", data)
        return envelope["event_id"]


@pytest.fixture
def probe_url(pg_base_url):
    url = derive_database_url(pg_base_url, "outboxprobe")
    ensure_database(url)
    engine = make_engine(url)
    PROBE_METADATA.create_all(engine)
    with engine.begin() as conn:
        for table in PROBE_METADATA.sorted_tables:
            conn.execute(table.delete())
    engine.dispose()
    return url


def published_at(url, event_id, timeout=5.0):
    engine = sa.create_engine(url)
    outbox = PROBE_METADATA.tables["outbox"]
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                value = conn.execute(sa.select(outbox.c.published_at).where(outbox.c.event_id == event_id)).scalar_one()
            if value is not None or time.monotonic() > deadline:
                return value
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_event_reaches_the_bus_with_its_id_and_is_marked_published(run_service, rpc, events, probe_url):
    recorder = events("outboxprobe")
    run_service(OutboxProbe, {"DATABASE_URLS": {"outboxprobe": probe_url}})
    event_id = rpc.outboxprobe.fire({"n": 1, "text": "héllo"})
    event = recorder.wait_for(lambda e: e["event_id"] == event_id, timeout=10)
    assert event["event_type"] == "probe_happened" and event["_routing_key"] == "probe_happened"
    assert event["source"] == "outboxprobe" and event["version"] == 1
    assert event["data"] == {"n": 1, "text": "héllo"}
    stack = event["_headers"]["nameko.call_id_stack"]
    assert any(call_id.startswith("outboxprobe.fire.") for call_id in stack)
    assert published_at(probe_url, event_id) is not None
    time.sleep(0.5)
    assert len(recorder.matching(lambda e: e["event_id"] == event_id)) == 1


def test_commit_wakes_the_relay_without_waiting_for_the_poll(run_service, rpc, events, probe_url):
    recorder = events("outboxprobe")
    run_service(OutboxProbe, {"DATABASE_URLS": {"outboxprobe": probe_url}, "OUTBOX_POLL_INTERVAL": 60})
    time.sleep(0.3)  # the relay's first scan is done: from now on it only moves when woken
    for n in range(3):
        started = time.monotonic()
        event_id = rpc.outboxprobe.fire({"n": n})
        recorder.wait_for(lambda e: e["event_id"] == event_id, timeout=3)
        assert time.monotonic() - started < 3


def test_events_of_concurrent_transactions_are_relayed_together(run_service, rpc, events, probe_url):
    """The relay waits OUTBOX_RELAY_LINGER after a wake-up, so the events committed meanwhile
    go in the same pass (one claim, one mark: the same published_at), in commit order."""
    recorder = events("outboxprobe")
    run_service(OutboxProbe, {"DATABASE_URLS": {"outboxprobe": probe_url}, "OUTBOX_POLL_INTERVAL": 60,
                              "OUTBOX_RELAY_LINGER": 2.0})
    warm_up = rpc.outboxprobe.fire({"n": -1})  # relayed after a linger: the relay is then idle
    recorder.wait_for(lambda e: e["event_id"] == warm_up, timeout=10)
    with ThreadPoolExecutor(max_workers=4) as pool:  # four transactions at once
        fired = list(pool.map(lambda n: rpc.outboxprobe.fire({"n": n}), range(4)))
    for event_id in fired:
        recorder.wait_for(lambda e, eid=event_id: e["event_id"] == eid, timeout=10)
    received = [e["event_id"] for e in recorder.all if e["event_type"] == "probe_happened" and e["event_id"] != warm_up]
    assert sorted(received) == sorted(fired) and len(received) == 4
    assert len({published_at(probe_url, event_id) for event_id in fired}) == 1


def test_a_graceful_stop_sends_the_pending_events_first(run_service, rpc, events, probe_url):
    """Stopping during the relay's linger: the stopping instance sends what is pending
    (a redeploy does not leave events to wait for the next instance)."""
    recorder = events("outboxprobe")
    container = run_service(OutboxProbe, {"DATABASE_URLS": {"outboxprobe": probe_url}, "OUTBOX_POLL_INTERVAL": 60,
                                          "OUTBOX_RELAY_LINGER": 30})
    time.sleep(0.3)  # the first scan is done; the next wake-up lingers 30 s
    event_id = rpc.outboxprobe.fire({"n": 1})
    started = time.monotonic()
    container.stop()
    assert time.monotonic() - started < 5
    assert published_at(probe_url, event_id, timeout=0) is not None
    recorder.wait_for(lambda e: e["event_id"] == event_id, timeout=5)


def test_rows_left_unpublished_are_sent_when_the_service_starts(run_service, events, probe_url):
    recorder = events("outboxprobe")
    store = ServiceStore("outboxprobe", PROBE_METADATA, probe_url)
    try:
        envelopes = emit(store, 3, event_type="left_behind")
    finally:
        store.dispose()
    run_service(OutboxProbe, {"DATABASE_URLS": {"outboxprobe": probe_url}})
    for envelope in envelopes:
        recorder.wait_for(lambda e, eid=envelope["event_id"]: e["event_id"] == eid, timeout=10)
    received = [e["event_id"] for e in recorder.all if e["event_type"] == "left_behind"]
    assert received == [e["event_id"] for e in envelopes]
    assert all(published_at(probe_url, e["event_id"]) is not None for e in envelopes)


def test_add_to_outbox_without_headers_stores_an_empty_object(db):
    with db.unit_of_work() as uow:
        add_to_outbox(uow.session, db.outbox, make_envelope("outboxtest", "bare", {}))
    assert json.loads(rows(db)[0].headers) == {}


def test_a_unit_of_work_writes_its_events_together_in_emission_order(db):
    statements = []

    def count_inserts(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count_inserts)
    try:
        with db.unit_of_work() as uow:
            uow.session.execute(WIDGETS.insert().values(id=1, name="w"))
            emitted = [uow.emit("widget_made", {"n": n})["event_id"] for n in range(5)]
            assert rows(db) == []  # nothing visible before the commit
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count_inserts)
    assert len(statements) == 1
    assert [r.event_id for r in sorted(rows(db), key=lambda r: r.id)] == emitted


def test_events_of_a_failed_unit_of_work_are_not_written(db):
    with pytest.raises(sa.exc.IntegrityError):
        with db.unit_of_work() as uow:
            uow.session.execute(WIDGETS.insert().values(id=1, name="w"))
            uow.emit("widget_made", {})
            uow.session.execute(WIDGETS.insert().values(id=1, name="again"))  # duplicate key
    assert rows(db) == []
    assert count(db, WIDGETS) == 0


def test_an_outbox_write_failing_at_commit_rolls_the_change_back(db):
    with db.unit_of_work() as uow:
        first = uow.emit("widget_made", {})
    with pytest.raises(sa.exc.IntegrityError):
        with db.unit_of_work() as uow:
            uow.session.execute(WIDGETS.insert().values(id=1, name="w"))
            uow.emit("widget_made", {})
            uow._rows[-1]["event_id"] = first["event_id"]  # an id already in the outbox: unique violation
    assert [r.event_id for r in rows(db)] == [first["event_id"]]
    assert count(db, WIDGETS) == 0


def test_each_event_goes_out_with_the_headers_of_its_own_transaction(db):
    """nameko_support.Database turns a relay pass's rows into events: nameko's header
    prefix, the event id as message id, each row's own headers (rows of one transaction
    share them)."""
    import types

    envelopes = (emit(db, 2, headers={"call_id_stack": ["a.x.1"]}) + emit(db, 1, headers={"call_id_stack": ["b.y.2"]})
                 + emit(db, 2, headers={"call_id_stack": ["a.x.1"]}))
    sent = []
    provider = Database.__new__(Database)
    provider._exchanges = {}
    provider._publisher = types.SimpleNamespace(publish_many=lambda batch: (sent.extend(batch), (len(batch), None))[1])
    assert OutboxRelay(db.engine, db.outbox, provider._publish_many).relay_batch() == 5
    assert [m[4] for m in sent] == [e["event_id"] for e in envelopes]
    assert [json.loads(m[2]) for m in sent] == envelopes
    assert {m[0].name for m in sent} == {"outboxtest.events"} and {m[1] for m in sent} == {"widget_made"}
    stacks = [m[3] for m in sent]
    assert stacks == [{"nameko.call_id_stack": ["a.x.1"]}] * 2 + [{"nameko.call_id_stack": ["b.y.2"]}] + \
        [{"nameko.call_id_stack": ["a.x.1"]}] * 2


def test_the_relay_on_sqlite_development_databases(tmp_path):
    """SQLite (development runs): the Core statements, in batches, in order, each row once."""
    sqlite = ServiceStore("outboxtest", METADATA, f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    METADATA.create_all(sqlite.engine)
    try:
        envelopes = emit(sqlite, 3) + emit(sqlite, 3, headers={"call_id_stack": ["x.y.1"]})
        publish = Recorder()
        relay = OutboxRelay(sqlite.engine, sqlite.outbox, publish, batch_size=4)
        assert [relay.relay_batch() for _ in range(3)] == [4, 2, 0]
        assert publish.event_ids == [e["event_id"] for e in envelopes] and relay.pending() == 0
        assert [c["headers"] for c in publish.calls] == [{}] * 3 + [{"call_id_stack": ["x.y.1"]}] * 3
    finally:
        sqlite.dispose()
