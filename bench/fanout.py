"""Figure 5: notification fan-out.

A proposal with N voters who agreed (logged-in users), all of them known to the
notifications service (recipients in fr/de/en; 10 % have asked for immediate e-mail for
this kind of news, so a delivery row is queued for them too). A
``lobbying.campaign_milestone_reached`` event about a campaign on that proposal is
published on the bus (as lobbying's outbox relay would); notifications fans it out to the
voters who agreed: ``voting.voters`` pages of 1,000 ids over RPC, one transaction per page
(one statement inserts the page's inbox rows and its deliveries, progress in ``fanouts``).
Measured: from the publish to the fan-out's ``done_at``, and the ``written`` count over
time. No SMTP server listens here: the sender (same process) finds the relay down and
retries later, so the queued deliveries cost it little while the next runs fan out.

The voters and recipients are bulk-loaded (COPY) into the voting and notifications
databases first: that is the state after N ``accounts.user_registered`` events and N
votes, built in seconds instead of hours.
"""
from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from datetime import datetime, timezone

from bench.cluster import pg_connect
from bench.datagen import LANGUAGE, copy_rows, deterministic_uuid, line, person


def load(cluster, n: int, progress=None) -> dict:

    rng = random.Random(5)
    proposal_id, question_id = str(uuid.uuid4()), str(uuid.uuid4())
    users = sorted(deterministic_uuid(f"fanout-{proposal_id}", i) for i in range(n))
    now = datetime.now(timezone.utc).isoformat()
    countries = list(LANGUAGE)
    with contextlib.closing(pg_connect(cluster.dsn("voting"))) as conn:
        copy_rows(conn, "votes", ("proposal_id", "question_id", "voter", "user_id", "key", "qualifications", "trusted",
                                  "sequence", "created_at", "updated_at"),
                  (line((proposal_id, question_id, f"u:{u}", u, "agree", "[]", True, True, now, now)) for u in users),
                  progress)
        conn.commit()
    with contextlib.closing(pg_connect(cluster.dsn("notifications"))) as conn:
        def recipients():
            for i, u in enumerate(users):
                p = person(countries[i % 3], rng, i)
                yield line((u, p["email"], p["display_name"], p["language"], p["country"], False, "[]", now))

        copy_rows(conn, "recipients", ("user_id", "email", "display_name", "language", "country", "is_moderator",
                                       "moderated_questions", "updated_at"), recipients(), progress)
        immediate = users[::10]
        copy_rows(conn, "preferences", ("user_id", "kind", "frequency", "updated_at"),
                  (line((u, "campaign_milestone_reached", "immediate", now)) for u in immediate))
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("ANALYZE recipients; ANALYZE preferences")
        conn.commit()
    with contextlib.closing(pg_connect(cluster.dsn("voting"))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ANALYZE votes")
    return {"proposal_id": proposal_id, "users": n, "immediate": len(users[::10])}


def publish(amqp_uri: str, source: str, event_type: str, data: dict) -> dict:
    import pika

    from common.events import make_envelope
    from common.rpc_client import pika_parameters

    envelope = make_envelope(source, event_type, data)
    with contextlib.closing(pika.BlockingConnection(pika_parameters(amqp_uri))) as conn:
        ch = conn.channel()
        ch.exchange_declare(f"{source}.events", exchange_type="topic", durable=True)
        ch.confirm_delivery()
        ch.basic_publish(f"{source}.events", event_type, json.dumps(envelope).encode(),
                         pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                              delivery_mode=2, message_id=envelope["event_id"]), mandatory=True)
    return envelope


def one_fanout(cluster, db, proposal_id: str, expected: int, timeout: float = 600.0) -> dict:
    """Publish one milestone event and follow its fan-out to the end."""
    campaign_id = str(uuid.uuid4())
    t_publish = time.time()
    envelope = publish(cluster.amqp_uri, "lobbying", "campaign_milestone_reached", {
        "campaign_id": campaign_id, "proposal_id": proposal_id, "country": "FR",
        "title": "Des trains de nuit partout", "milestone": 10000, "kind": "count", "supporters": 10000,
        "goal": 100000, "target_actor_ids": []})
    series = []
    deadline = time.monotonic() + timeout
    row = None
    with db.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT written, pages, extract(epoch from created_at), extract(epoch from done_at), last_error "
                        "FROM fanouts WHERE event_id = %s", (envelope["event_id"],))
            row = cur.fetchone()
            series.append((time.time() - t_publish, row[0] if row else 0))
            if row and row[3] is not None:
                break
            time.sleep(0.2)
        if row is None or row[3] is None:
            raise TimeoutError(f"fan-out not done after {timeout:.0f}s: {row}")
        cur.execute("SELECT count(*) FROM notifications WHERE event_id = %s", (envelope["event_id"],))
        notifications = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM deliveries d JOIN notifications n ON n.id = d.notification_id "
                    "WHERE n.event_id = %s", (envelope["event_id"],))
        deliveries = cur.fetchone()[0]
    written, pages, created, done, last_error = row
    created, done = float(created), float(done)
    return {"written": written, "pages": pages, "notifications": notifications, "deliveries": deliveries,
            "seconds_from_publish": done - t_publish, "seconds_in_fanout": done - created,
            "rate_from_publish": written / (done - t_publish), "rate_in_fanout": written / (done - created),
            "complete": notifications == expected, "last_error": last_error, "series": series}


def run(cluster, quick: bool = False, recipients: int | None = None, repeats: int | None = None, log=print) -> dict:
    from tqdm import tqdm

    from bench.procstat import CpuSampler
    from bench.stats import Spread

    n = recipients or (20_000 if quick else 100_000)
    repeats = repeats or (2 if quick else 3)
    t0 = time.monotonic()
    with tqdm(total=2 * n, desc="loading voters and recipients (COPY)", unit="row", leave=False) as bar:
        loaded = load(cluster, n, bar)
    load_seconds = time.monotonic() - t0
    runs = []
    with contextlib.closing(pg_connect(cluster.dsn("notifications"))) as db:
        db.autocommit = True
        for i in range(repeats):
            sampler = CpuSampler({"notifications": [cluster.procs["notifications"].pid],
                                  "voting": [cluster.procs[k].pid for k in cluster.instances("voting")]}).start()
            r = one_fanout(cluster, db, loaded["proposal_id"], n)
            r["cpu"] = sampler.stop()
            runs.append(r)
            log(f"  fan-out {i + 1}/{repeats}: {r['written']:,} notifications in {r['seconds_from_publish']:.1f} s "
                f"({r['rate_from_publish']:,.0f}/s from the publish), {r['deliveries']:,} e-mail deliveries queued")
    rates = [r["rate_from_publish"] for r in runs]
    return {"recipients": n, "repeats": repeats, "load_seconds": load_seconds, "immediate": loaded["immediate"],
            "runs": runs, "rate": Spread.of(rates).as_dict(),
            "rate_in_fanout": Spread.of([r["rate_in_fanout"] for r in runs]).as_dict(),
            "target_met": Spread.of(rates).median >= 5000 and all(r["complete"] for r in runs)}


def render(r: dict, machine_text: str, wall: float) -> tuple[str, dict]:
    from bench.report import num, table, verdict

    rows = [[i + 1, f"{x['written']:,}", f"{x['deliveries']:,}", x["pages"], f"{x['seconds_from_publish']:.1f}",
             num(x["rate_from_publish"]), num(x["rate_in_fanout"]),
             f"{x['cpu']['notifications']:.1f} / {x['cpu']['voting']:.1f} / {x['cpu']['postgresql']:.1f} / "
             f"{x['cpu']['other']:.1f}"]
            for i, x in enumerate(r["runs"])]
    rate = r["rate"]
    text = "\n".join([
        "## 5. Notification fan-out", "",
        f"_`bench/fanout.py`, {r['date']}, {wall:.0f} s._ {machine_text}", "",
        f"A proposal with {r['recipients']:,} voters who agreed, all known to notifications (recipients in fr/de/en; "
        f"{r['immediate']:,} of them want immediate e-mail for this kind, so a delivery is queued for each), loaded "
        f"with COPY in {r['load_seconds']:.0f} s. A `lobbying.campaign_milestone_reached` event on that proposal is "
        "published on the bus; notifications fans it out (`voting.voters` pages of 1,000 over RPC, one transaction "
        "per page). Time from the publish to the fan-out's `done_at`; every recipient must have exactly one "
        "inbox row.", "",
        table(["run", "notifications", "e-mail deliveries", "pages", "seconds", "per s (from publish)",
               "per s (inside the fan-out)", "CPU s: notifications / voting / PostgreSQL / not ours"], rows), "",
        f"Median **{num(rate['median'])} notifications/s** (min {num(min(x['rate_from_publish'] for x in r['runs']))}, "
        f"max {num(max(x['rate_from_publish'] for x in r['runs']))}, {r['repeats']} runs); target >= 5,000/s: "
        f"{verdict(r['target_met'])}.",
    ])
    data = {"rate": rate["median"], "met": r["target_met"], "date": r["date"],
            "text": f"{num(rate['median'])}/s for {r['recipients']:,} recipients (median of {r['repeats']})"}
    return text, data
