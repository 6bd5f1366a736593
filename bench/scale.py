"""Figures 3 and 4: reads at scale.

3. A question with P accepted proposals (default 100,000) and V votes (default 10,000,000),
   bulk-loaded: ``GET /api/v1/questions/{id}/sequence`` and
   ``GET /api/v1/questions/{id}/proposals?sort=popular`` (first page) through the gateway.
4. N proposals (default 1,000,000) across three questions in fr, de and en:
   ``GET /api/v1/questions/{id}/proposals?q=<words>`` (full-text search) through the gateway.

Loading: the questions are created through the proposals service (RPC), so voting learns
them from the events as usual; the proposals and votes are then written with PostgreSQL
COPY directly into the proposals and voting databases (a load tool for a benchmark
platform, not a service reading another's tables). Votes are generated per proposal from
a true approval rate (``datagen.cast_vote``) and the voting copy of each proposal gets the
counts JSON and the score columns computed from exactly the votes loaded, with
``services.voting.scoring`` (``datagen.counts_of`` / ``score_columns``). Secondary indexes
are dropped before the COPY and recreated after it with their exact definitions (read from
the catalogue), then the tables are analysed: a bulk load, as an operator would do it.

Requests: open loop (bench/loadgen.py) at a low fixed rate, so the figure is the latency
of one request on an otherwise idle platform, repeated; p50/p95/p99 over all requests and
the spread of the per-round p95.
"""
from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

from bench.cluster import pg_connect
from bench.datagen import (QUESTIONS, SEARCH_TERMS, Seeder, copy_rows, deterministic_uuid, line, proposal_text,
                           score_columns)
from services.voting import scoring

ITEM_INDEX = {item: i for i, item in enumerate(scoring.ITEMS)}
N_ITEMS = len(scoring.ITEMS)
TAGS = [f"theme-{i:02d}" for i in range(100)]
READ_RATE = 4.0  # requests/s: light load, so the figure is one request's latency, not a queue


# -- indexes: drop for the load, recreate after -----------------------------------------------------
def secondary_indexes(conn, table: str) -> list:
    """[(drop statement, create statement)] for the table's constraints (primary key,
    unique) and other indexes, with their exact definitions from the catalogue."""
    out = []
    with conn.cursor() as cur:
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')", (table,))
        constraints = cur.fetchall()
        for name, definition in constraints:
            out.append((f'ALTER TABLE {table} DROP CONSTRAINT "{name}"',
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        cur.execute("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                    "WHERE c.conindid = x.indexrelid)", (table,))
        for name, definition in cur.fetchall():
            out.append((f'DROP INDEX "{name}"', definition))
    return out


@contextlib.contextmanager
def indexes_rebuilt(conn, table: str, timings: dict, keep=()):
    """Drop the table's indexes (except ``keep``), yield, recreate them all."""
    specs = [s for s in secondary_indexes(conn, table) if not any(k in s[0] for k in keep)]
    with conn.cursor() as cur:
        for drop, _ in specs:
            cur.execute(drop)
    conn.commit()
    yield
    t0 = time.monotonic()
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        for _, create in specs:
            cur.execute(create)
    conn.commit()
    timings[f"indexes {table}"] = time.monotonic() - t0


def analyze(dsn: str, tables) -> None:

    with contextlib.closing(pg_connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for t in tables:
                cur.execute(f"VACUUM (ANALYZE) {t}")


# -- figure 3: a big question ----------------------------------------------------------------------
def vote_counts(p: int, v: int, rng: random.Random) -> list:
    """Votes per proposal summing to about ``v``: most proposals near the mean, a long
    tail of popular ones (gamma, shape 1.2), and the newest 2 % still "new" (0-9 votes)."""
    mean = v / p
    raw = [rng.gammavariate(1.2, mean / 1.2) for _ in range(p)]
    new_from = int(p * 0.98)
    for i in range(new_from, p):
        raw[i] = rng.randrange(0, 10)
    scale = (v - sum(raw[new_from:])) / max(1e-9, sum(raw[:new_from]))
    return [max(1, int(round(x * scale))) if i < new_from else int(x) for i, x in enumerate(raw)]


def load_question(cluster, proposals: int, votes: int, budget: float, progress_factory, log=print) -> dict:
    """Create the question (RPC), then COPY its proposals (proposals and voting databases)
    and votes (voting). The votes are written in rounds (round j gives its j-th vote to every
    proposal that gets more than j) until all are written or the COPY has used half of
    ``budget`` seconds; the counts of each proposal are those of the votes written."""

    from common.rpc_client import RpcClient

    timings = {}
    rng = random.Random(11)
    t_start = time.monotonic()
    with RpcClient(cluster.amqp_uri, timeout=20) as rpc:
        seeder = Seeder(rpc)
        spec = dict(QUESTIONS[0], slug=f"grande-question-{uuid.uuid4().hex[:6]}",
                    title="Comment rendre nos villes plus vivables ? (question de charge)")
        question = seeder.question(spec)
    qid = question["id"]
    now = datetime.now(timezone.utc)
    ids = [deterministic_uuid(f"seq-{qid}", i) for i in range(proposals)]
    authors = [deterministic_uuid(f"author-{qid}", i) for i in range(max(1, int(proposals * 0.7)))]
    author_of = [authors[rng.randrange(len(authors))] for _ in range(proposals)]
    created = [now - timedelta(days=30) + timedelta(seconds=30 * 86400 * i / proposals) for i in range(proposals)]
    keywords = [[rng.choice(TAGS)] if rng.random() < 0.3 else [] for _ in range(proposals)]
    rates = [rng.betavariate(2, 5) for _ in range(proposals)]
    wanted = vote_counts(proposals, votes, rng)

    # proposals database: the content (read by get_proposals for every page served)
    with contextlib.closing(pg_connect(cluster.dsn("proposals"))) as conn:
        t0 = time.monotonic()
        with indexes_rebuilt(conn, "proposals", timings, keep=("proposals_pkey",)):
            with progress_factory(proposals, "proposals (proposals db)") as bar:
                load_proposals_rows(conn, qid, "FR", "fr", ids, author_of, created, keywords, rng, bar)
            conn.commit()
        timings["proposals db"] = time.monotonic() - t0
    analyze(cluster.dsn("proposals"), ["proposals"])

    # voting database: votes first (so the counts are those of the votes actually written)
    wait_for_question(cluster, qid)
    counts = [[0] * (3 * N_ITEMS) for _ in range(proposals)]
    written = 0
    with contextlib.closing(pg_connect(cluster.dsn("voting"))) as conn:
        t0 = time.monotonic()
        deadline = t0 + budget / 2
        with indexes_rebuilt(conn, "votes", timings):
            with progress_factory(votes, "votes (voting db, COPY)") as bar:
                gen = vote_lines(qid, ids, rates, wanted, counts, rng, deadline)
                copy_rows(conn, "votes", ("proposal_id", "question_id", "voter", "user_id", "key", "qualifications",
                                          "trusted", "sequence", "created_at", "updated_at"), gen, bar)
                written = gen_stats["written"]
                rounds = gen_stats["rounds"]
            conn.commit()
            timings["votes copy"] = time.monotonic() - t0
        t0 = time.monotonic()
        with indexes_rebuilt(conn, "proposals", timings, keep=("proposals_pkey",)):
            with progress_factory(proposals, "proposals (voting db)") as bar:
                copy_rows(conn, "proposals", ("id", "question_id", "author_id", "status", "status_at", "created_at",
                                              "accepted_at", "keywords", "counts", "votes_all", "votes_trusted",
                                              "votes_sequence", "top_score", "top_score_lb", "top_score_ub",
                                              "controversy_lb", "controversy_ub", "zone"),
                          voting_proposal_lines(qid, ids, author_of, created, keywords, counts), bar)
            conn.commit()
        with conn.cursor() as cur:
            trusted = sum(c[N_ITEMS + ITEM_INDEX[k]] for c in counts for k in scoring.KEYS)
            cur.execute("INSERT INTO question_counters (question_id, shard, votes) VALUES (%s, 0, %s) "
                        "ON CONFLICT (question_id, shard) DO UPDATE SET votes = EXCLUDED.votes", (qid, trusted))
            # the question's count of accepted proposals, as the proposal event handlers keep it
            cur.execute("INSERT INTO question_stats (question_id, accepted) VALUES (%s, %s) "
                        "ON CONFLICT (question_id) DO UPDATE SET accepted = EXCLUDED.accepted", (qid, proposals))
        conn.commit()
        timings["voting proposals"] = time.monotonic() - t0
    t0 = time.monotonic()
    analyze(cluster.dsn("voting"), ["votes", "proposals", "question_counters"])
    timings["vacuum analyze"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - t_start
    returning = [session_of(v) for v in range(0, 2000)]
    return {"question_id": qid, "proposals": proposals, "votes_wanted": votes, "votes": written,
            "complete": written >= sum(wanted), "rounds": rounds, "timings": timings,
            "returning_sessions": returning, "ids": ids}


gen_stats = {"written": 0, "rounds": 0}


def session_of(voter: int) -> str:
    return f"bench-voter-{voter:012d}"


def vote_lines(qid, ids, rates, wanted, counts, rng, deadline):
    """COPY lines of the votes, round by round (see ``load_question``). Voter of the j-th
    vote of proposal i: (j * P + i) // 12, so a voter has voted on 12 consecutive proposals
    (never twice on one), as after one sequence."""
    p = len(ids)
    now = datetime.now(timezone.utc).isoformat()
    rnd = rng.random
    suffixes = {}
    prefix = [f"{pid}\t{qid}\ts:" for pid in ids]
    order = sorted(range(p), key=lambda i: -wanted[i])  # proposals still voting in round j: a prefix
    alive = p
    j = 0
    written = 0
    gen_stats.update(written=0, rounds=0)
    agree_q = (("likeIt", 0.30, ITEM_INDEX["likeIt"]), ("doable", 0.20, ITEM_INDEX["doable"]),
               ("platitudeAgree", 0.03, ITEM_INDEX["platitudeAgree"]))
    disagree_q = (("noWay", 0.30, ITEM_INDEX["noWay"]), ("impossible", 0.10, ITEM_INDEX["impossible"]),
                  ("platitudeDisagree", 0.03, ITEM_INDEX["platitudeDisagree"]))
    neutral_q = (("doNotCare", 0.20, ITEM_INDEX["doNotCare"]), ("noOpinion", 0.10, ITEM_INDEX["noOpinion"]))
    ia, id_, ine = ITEM_INDEX["agree"], ITEM_INDEX["disagree"], ITEM_INDEX["neutral"]
    while True:
        while alive and wanted[order[alive - 1]] <= j:
            alive -= 1
        if not alive or time.monotonic() > deadline:
            break
        base = j * p
        for k in range(alive):
            i = order[k]
            r = rnd()
            if r < 0.1:
                key, ki, qs = "neutral", ine, neutral_q
            elif rnd() < rates[i]:
                key, ki, qs = "agree", ia, agree_q
            else:
                key, ki, qs = "disagree", id_, disagree_q
            quals = tuple(q for q in qs if rnd() < q[1])
            trusted = rnd() < 0.95
            seq = trusted and rnd() < 0.85
            c = counts[i]
            c[ki] += 1
            for q in quals:
                c[q[2]] += 1
            if trusted:
                c[N_ITEMS + ki] += 1
                for q in quals:
                    c[N_ITEMS + q[2]] += 1
                if seq:
                    c[2 * N_ITEMS + ki] += 1
                    for q in quals:
                        c[2 * N_ITEMS + q[2]] += 1
            sk = (key, quals, trusted, seq)
            suffix = suffixes.get(sk)
            if suffix is None:
                suffix = suffixes[sk] = (f"\t\\N\t{key}\t{json.dumps([q[0] for q in quals])}\t"
                                         f"{'t' if trusted else 'f'}\t{'t' if seq else 'f'}\t{now}\t{now}\n")
            yield f"{prefix[i]}bench-voter-{(base + i) // 12:012d}{suffix}"
            written += 1
        j += 1
        gen_stats.update(written=written, rounds=j)


def counts_json(c: list) -> dict:
    return {level: {item: c[li * N_ITEMS + ii] for item, ii in ITEM_INDEX.items()}
            for li, level in enumerate(("all", "trusted", "sequence"))}


def voting_proposal_lines(qid, ids, author_of, created, keywords, counts):
    for i, pid in enumerate(ids):
        cj = counts_json(counts[i])
        s = score_columns(cj)
        bounds = scoring.scores(cj["trusted"])
        at = created[i].isoformat()
        yield line((pid, qid, author_of[i], "accepted", at, at, at, json.dumps(keywords[i]),
                    json.dumps(cj, separators=(",", ":")), s["votes_all"], s["votes_trusted"], s["votes_sequence"],
                    repr(s["top_score"]), repr(s["top_score_lb"]), repr(bounds["top_score"].upper),
                    repr(s["controversy_lb"]), repr(bounds["controversy"].upper), s["zone"]))


def load_proposals_rows(conn, qid, country, lang, ids, author_of, created, keywords, rng, bar, serial0=0):
    """Proposals (accepted) into the proposals database, their ``search_vector`` computed by
    PostgreSQL (``to_tsvector`` with the question's language configuration), as the
    service writes it: COPY into a temporary table, then INSERT ... SELECT."""
    from services.proposals.persistence import search_config

    cfg = search_config(lang)
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS staging_proposals (id varchar(36), question_id varchar(36), "
                    "author_id varchar(36), content varchar(500), tags text, country varchar(2), "
                    "language varchar(5), created_at timestamptz) ON COMMIT DELETE ROWS")

    def lines():
        for i, pid in enumerate(ids):
            yield line((pid, qid, author_of[i], proposal_text(lang, rng, serial0 + i), json.dumps(keywords[i]),
                        country, lang, created[i].isoformat()))

    copy_rows(conn, "staging_proposals", ("id", "question_id", "author_id", "content", "tags", "country", "language",
                                          "created_at"), lines(), bar)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO proposals (id, question_id, author_id, content, status, tags, country, language, "
            "search_vector, created_at, moderated_at) "
            "SELECT id, question_id, author_id, content, 'accepted', tags::json, country, language, "
            f"to_tsvector('{cfg}'::regconfig, content), created_at, created_at FROM staging_proposals")


def wait_for_question(cluster, qid: str, timeout: float = 30.0) -> None:

    deadline = time.monotonic() + timeout
    with contextlib.closing(pg_connect(cluster.dsn("voting"))) as conn:
        conn.autocommit = True
        while time.monotonic() < deadline:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM questions WHERE id = %s", (qid,))
                if cur.fetchone():
                    return
            time.sleep(0.2)
    raise TimeoutError(f"voting did not learn question {qid}")


# -- measuring reads ------------------------------------------------------------------------------
def measure_reads(cluster, kinds: dict, rate: float, duration: float, rounds: int, log=print) -> dict:
    """``kinds``: name -> loadgen spec fields (urls, sessions). Each round runs every kind
    once (open loop at ``rate`` for ``duration`` s); returns per kind the percentiles over
    all requests and the spread of each round's p95."""
    from bench.stats import Spread, percentile
    from bench.votes import run_load, summarize

    out = {name: {"rounds": [], "latency": [], "status": {}} for name in kinds}
    for r in range(rounds):
        for name, extra in kinds.items():
            spec = dict({"kind": "get", "rate": rate, "duration": duration, "timeout": 10.0, "connections": 50,
                         "run": f"{name[:8]}{r}-{uuid.uuid4().hex[:6]}-"}, **extra)
            result, _ = run_load(spec, None)
            s = summarize(result)
            out[name]["rounds"].append(s["p95"])
            out[name]["latency"] += result["latency"]
            for k, v in s["statuses"].items():
                out[name]["status"][k] = out[name]["status"].get(k, 0) + v
            log(f"    {name}, round {r + 1}/{rounds}: p50 {s['p50'] * 1000:.1f} ms, p95 {s['p95'] * 1000:.1f} ms, "
                f"statuses {s['statuses']}")
    for name, o in out.items():
        lat = o.pop("latency")
        o.update({"n": len(lat), "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                  "max": max(lat) if lat else None, "round_p95": Spread.of(o["rounds"]).as_dict(),
                  "ok": o["status"].get("200", 0) == len(lat)})
    return out


def progress_factory(total, desc):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", leave=False, mininterval=1.0)


def run_sequence(cluster, quick: bool = False, proposals: int | None = None, votes: int | None = None,
                 load_budget: float | None = None, log=print) -> dict:
    import requests

    proposals = proposals or (20_000 if quick else 100_000)
    votes = votes or (300_000 if quick else 10_000_000)
    budget = load_budget or (60.0 if quick else 420.0)
    log(f"  sequence: loading a question with {proposals:,} proposals and up to {votes:,} votes (budget {budget:.0f} s)")
    loaded = load_question(cluster, proposals, votes, budget, progress_factory, log)
    log(f"  sequence: loaded {loaded['votes']:,} votes in {loaded['timings']['total']:.0f} s "
        f"({'all' if loaded['complete'] else 'cut by the time budget'})")
    qid = loaded["question_id"]
    api = cluster.api
    # sanity: a sequence of 12 distinct accepted proposals; a popular page sorted by score
    seq = requests.get(f"{api}/questions/{qid}/sequence", headers={"X-Session-Id": "sanity-check-session-0001"},
                       timeout=30).json()
    pop = requests.get(f"{api}/questions/{qid}/proposals", params={"sort": "popular"}, timeout=30).json()
    lbs = [i["score"]["top_score_lower_bound"] for i in pop["items"]]
    sanity = {"sequence_items": len(seq["items"]), "popular_items": len(pop["items"]), "popular_total": pop["total"],
              "popular_sorted": lbs == sorted(lbs, reverse=True)}
    kinds = {
        "sequence (new session)": {"urls": [f"{api}/questions/{qid}/sequence"], "sessions": "new"},
        "sequence (returning voter)": {"urls": [f"{api}/questions/{qid}/sequence"],
                                       "sessions": loaded["returning_sessions"]},
        "popular, first page": {"urls": [f"{api}/questions/{qid}/proposals?sort=popular"]},
    }
    rounds = 2 if quick else 3
    duration = 8.0 if quick else 10.0
    reads = measure_reads(cluster, kinds, READ_RATE, duration, rounds, log)
    seq_p95 = max(reads["sequence (new session)"]["p95"], reads["sequence (returning voter)"]["p95"])
    pop_p95 = reads["popular, first page"]["p95"]
    loaded.pop("ids")
    loaded.pop("returning_sessions")
    return {"load": loaded, "sanity": sanity, "reads": reads, "rate": READ_RATE, "duration": duration, "rounds": rounds,
            "sequence_p95": seq_p95, "popular_p95": pop_p95,
            "met_sequence": seq_p95 < 0.030 and all(r["ok"] for k, r in reads.items() if k.startswith("sequence")),
            "met_popular": pop_p95 < 0.020 and reads["popular, first page"]["ok"]}


def _reads_table(reads: dict) -> str:
    from bench.report import ms, table

    rows = []
    for name, r in reads.items():
        rows.append([name, r["n"], ms(r["p50"]), ms(r["p95"]), ms(r["p99"]), ms(r["max"]),
                     f"{ms(min(r['rounds']))} - {ms(max(r['rounds']))}",
                     ", ".join(f"{k}: {v}" for k, v in sorted(r["status"].items()))])
    return table(["request", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms", "p95 per round (min - max)",
                  "statuses"], rows)


def render_sequence(r: dict, machine_text: str, wall: float) -> tuple[str, dict]:
    from bench.report import ms, verdict

    ld = r["load"]
    t = ld["timings"]
    extrapolation = ""
    if not ld["complete"]:
        extrapolation = (
            f" **The load was cut by its time budget at {ld['votes']:,} of {ld['votes_wanted']:,} votes** "
            f"({ld['rounds']} rounds); the reads below are for that size. What grows with the votes: the `votes` "
            "table (the sequence query's anti-join probes the (proposal_id, voter) index per candidate, a B-tree "
            "lookup whose depth grows with log(votes)); the counts and scores are per-proposal columns, so the "
            "popular page does not depend on the number of votes.")
    text = "\n".join([
        "## 3. Sequence and rankings at scale", "",
        f"_`bench/scale.py`, {r['date']}, {wall:.0f} s._ {machine_text}", "",
        f"One open question with **{ld['proposals']:,} accepted proposals and {ld['votes']:,} votes** "
        f"(wanted: {ld['votes_wanted']:,}), loaded with COPY into the proposals and voting databases in "
        f"{t['total']:.0f} s (votes COPY {t.get('votes copy', 0):.0f} s, their indexes rebuilt in "
        f"{t.get('indexes votes', 0):.0f} s, VACUUM ANALYZE {t.get('vacuum analyze', 0):.0f} s). Votes per proposal: "
        "gamma-distributed around the mean, the newest 2 % with 0-9 votes (still \"new\" for the sequence); each "
        "vote drawn from the proposal's true approval rate; the voting copy of each proposal holds the counts and "
        "scores computed (`services.voting.scoring`) from exactly the votes loaded." + extrapolation, "",
        f"Reads through the gateway, open loop at {r['rate']:.0f} requests/s ({r['rounds']} rounds of "
        f"{r['duration']:.0f} s per kind): a sequence for a new anonymous session, for a returning voter "
        "(one who has voted on 12 proposals), and the first page (20) of `?sort=popular`. Sanity: a sequence had "
        f"{r['sanity']['sequence_items']} items; the popular page {r['sanity']['popular_items']} items of "
        f"{r['sanity']['popular_total']:,}, sorted: {r['sanity']['popular_sorted']}.", "",
        _reads_table(r["reads"]), "",
        f"- sequence p95 (worse of the two kinds): **{ms(r['sequence_p95'])} ms**; target < 30 ms: "
        f"{verdict(r['met_sequence'])}",
        f"- popular first page p95: **{ms(r['popular_p95'])} ms**; target < 20 ms: {verdict(r['met_popular'])}",
    ])
    size = f"{ld['proposals']:,} proposals, {ld['votes']:,} votes"
    data = {"met_sequence": r["met_sequence"], "met_popular": r["met_popular"], "date": r["date"],
            "sequence_text": f"p95 {ms(r['sequence_p95'])} ms ({size})",
            "popular_text": f"p95 {ms(r['popular_p95'])} ms ({size})"}
    return text, data


# -- figure 4: search -------------------------------------------------------------------------------
def load_search(cluster, total: int, log=print) -> dict:
    """Three open questions (FR/fr, DE/de, GB/en) with ``total`` accepted proposals in all."""

    from common.rpc_client import RpcClient

    timings = {}
    rng = random.Random(13)
    t_start = time.monotonic()
    questions = []
    with RpcClient(cluster.amqp_uri, timeout=20) as rpc:
        seeder = Seeder(rpc)
        for spec in QUESTIONS:
            questions.append(seeder.question(spec, suffix=f"-search-{uuid.uuid4().hex[:6]}"))
    per = total // len(questions)
    now = datetime.now(timezone.utc)
    with contextlib.closing(pg_connect(cluster.dsn("proposals"))) as conn:
        with indexes_rebuilt(conn, "proposals", timings):
            for q in questions:
                ids = [deterministic_uuid(f"search-{q['id']}", i) for i in range(per)]
                authors = [deterministic_uuid(f"search-author-{q['id']}", i) for i in range(per // 2 + 1)]
                author_of = [authors[rng.randrange(len(authors))] for _ in range(per)]
                created = [now - timedelta(days=60) + timedelta(seconds=60 * 86400 * i / per) for i in range(per)]
                keywords = [[rng.choice(TAGS)] if rng.random() < 0.3 else [] for _ in range(per)]
                t0 = time.monotonic()
                with progress_factory(per, f"proposals in {q['language']} (COPY + to_tsvector)") as bar:
                    load_proposals_rows(conn, q["id"], q["country"], q["language"], ids, author_of, created,
                                        keywords, rng, bar)
                conn.commit()
                timings[f"rows {q['language']}"] = time.monotonic() - t0
    t0 = time.monotonic()
    analyze(cluster.dsn("proposals"), ["proposals"])
    timings["vacuum analyze"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - t_start
    return {"questions": questions, "per_question": per, "total": per * len(questions), "timings": timings}


def run_search(cluster, quick: bool = False, proposals: int | None = None, log=print) -> dict:
    import requests
    from urllib.parse import quote

    total = proposals or (60_000 if quick else 1_000_000)
    log(f"  search: loading {total:,} proposals in fr/de/en")
    loaded = load_search(cluster, total, log)
    log(f"  search: loaded in {loaded['timings']['total']:.0f} s")
    api = cluster.api
    urls, matches, inexact = [], {}, 0
    for q in loaded["questions"]:
        for term in SEARCH_TERMS[q["language"]]:
            url = f"{api}/questions/{q['id']}/proposals?q={quote(term)}"
            urls.append(url)
    random.Random(3).shuffle(urls)
    # sanity and selectivity: each query's total
    for url in urls:
        body = requests.get(url, timeout=30).json()
        matches[url] = body["total"]
        inexact += body.get("total_exact") is False  # a capped count: a lower bound
    kinds = {"full-text search, first page": {"urls": urls}}
    rounds = 2 if quick else 3
    duration = 8.0 if quick else 10.0
    reads = measure_reads(cluster, kinds, READ_RATE, duration, rounds, log)
    r = reads["full-text search, first page"]
    totals = sorted(matches.values())
    return {"load": loaded, "reads": reads, "queries": len(urls), "matches_min": totals[0],
            "matches_median": totals[len(totals) // 2], "matches_max": totals[-1], "inexact": inexact, "rate": READ_RATE,
            "duration": duration, "rounds": rounds, "p95": r["p95"], "met": r["p95"] < 0.050 and r["ok"]}


def render_search(r: dict, machine_text: str, wall: float) -> tuple[str, dict]:
    from bench.report import ms, verdict

    ld = r["load"]
    text = "\n".join([
        "## 4. Proposal search", "",
        f"_`bench/scale.py`, {r['date']}, {wall:.0f} s._ {machine_text}", "",
        f"**{ld['total']:,} accepted proposals** in three open questions (FR/fr, DE/de, GB/en; {ld['per_question']:,} "
        f"each), generated in each language (`bench/datagen.py`) and loaded with COPY, their `search_vector` computed "
        f"by PostgreSQL with the question's text-search configuration, indexes rebuilt after the load: "
        f"{ld['timings']['total']:.0f} s. Queries: {r['queries']} (10 per language, one or two words such as "
        f"\"logements sociaux\", \"Nahverkehr\", \"night trains\") through `GET /api/v1/questions/{{id}}/proposals?q=`; "
        f"matches per query (the API's `total`): {r['matches_min']:,} to {r['matches_max']:,} (median "
        f"{r['matches_median']:,}; {r.get('inexact', 0)} of the {r['queries']} counts capped, so lower bounds). The "
        f"service ranks (`ts_rank`) the matches among the question's 10,000 most recent proposals, then lists older "
        f"matches newest first, and counts those up to 1,000 (`total_exact` false beyond), all in one query "
        f"(services/proposals/README.md). Open loop at {r['rate']:.0f} "
        f"requests/s, {r['rounds']} rounds of {r['duration']:.0f} s.", "",
        _reads_table(r["reads"]), "",
        f"p95 **{ms(r['p95'])} ms**; target < 50 ms: {verdict(r['met'])}.",
    ])
    data = {"met": r["met"], "date": r["date"], "p95_ms": r["p95"] * 1000,
            "text": f"p95 {ms(r['p95'])} ms ({ld['total']:,} proposals)"}
    return text, data
