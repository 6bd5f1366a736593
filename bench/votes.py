"""Figure 2: votes end to end.

``PUT /api/v1/proposals/{id}/vote`` through the gateway (gunicorn, 2 gevent workers; votes
arriving together are coalesced into ``voting.vote_batch`` calls, gateway/batching.py) ->
voting (nameko) -> PostgreSQL (the vote row, the proposal's counts and scores,
the question's sharded counter, the ``vote_cast`` outbox row, one transaction) -> the
outbox relay publishes ``vote_cast`` on ``voting.events``.

Load: bench/loadgen.py in its own process, open loop at a fixed rate. Every vote is a
first vote of an anonymous session on an accepted proposal of one of three open questions
(FR, DE, GB), carrying the sequence proposal key (so it is trusted and counted at the
three levels, the heaviest path); a session casts 12 votes on 12 distinct proposals.
Events: a queue bound to ``voting.events`` / ``vote_cast`` counts what was published,
and the voting outbox must be empty (every row published) at the end of each step.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.cluster import pg_connect
from bench.stats import percentile  # noqa: E402

COUNT_QUEUE = "bench.vote_cast"


# -- set-up ---------------------------------------------------------------------------------------
def seed(cluster, per_question: int = 100, progress=None) -> dict:
    """Three open questions with ``per_question`` accepted proposals each; returns
    {"questions": [...], "proposals": [ids]}."""
    import random

    from bench.datagen import QUESTIONS, Seeder, proposal_text
    from common.rpc_client import RpcClient

    rng = random.Random(7)
    tag = uuid.uuid4().hex[:6]
    with RpcClient(cluster.amqp_uri, timeout=20, pool_size=16) as rpc:
        seeder = Seeder(rpc, threads=12)
        questions, proposals = [], []
        for spec in QUESTIONS:
            q = seeder.question(spec, suffix=f"-{tag}")
            questions.append(q)
            authors = [str(uuid.uuid4()) for _ in range(max(12, per_question // 2))]
            items = [(authors[i % len(authors)], proposal_text(spec["language"], rng, i)) for i in range(per_question)]
            proposals += [p["id"] for p in seeder.proposals(q, items, progress=progress)]
        missing = 0
        for q in questions:
            try:
                seeder.wait_voting_knows(q["id"], per_question)
            except TimeoutError:  # an event was lost (see the report): vote on what voting knows
                missing += 1
        if missing:
            known = set().union(*(seeder.known_to_voting(q["id"]) for q in questions))
            missing = sum(1 for p in proposals if p not in known)
            proposals = [p for p in proposals if p in known]
    rng.shuffle(proposals)
    return {"questions": questions, "proposals": proposals, "unknown_to_voting": missing}


def bind_count_queue(cluster) -> None:
    import pika

    from common.rpc_client import pika_parameters

    with contextlib.closing(pika.BlockingConnection(pika_parameters(cluster.amqp_uri))) as conn:
        ch = conn.channel()
        ch.exchange_declare("voting.events", exchange_type="topic", durable=True)
        ch.queue_declare(COUNT_QUEUE, durable=False, arguments={"x-queue-mode": "lazy"})
        ch.queue_bind(COUNT_QUEUE, "voting.events", routing_key="vote_cast")


def _queue_count(conn, queue: str) -> tuple:
    q = conn.channel().queue_declare(queue, passive=True).method
    return q.message_count, q.consumer_count


class Monitor:
    """One PostgreSQL connection (to the voting database) and one broker connection, kept
    open for the whole figure: the database's connection slots are shared with the
    platform (and, on a shared machine, with others), so the bench does not reconnect."""

    def __init__(self, cluster):
        import pika

        from common.rpc_client import pika_parameters

        self.cluster = cluster
        self.db = pg_connect(cluster.dsn("voting"))
        self.db.autocommit = True
        self._connect_amqp = lambda: pika.BlockingConnection(pika_parameters(cluster.amqp_uri))
        self.amqp = self._connect_amqp()
        self.base = cluster.dsn("voting").rsplit("/", 1)[-1].rsplit("_", 1)[0]

    def sql(self, query, params=None):
        with self.db.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def pending_outbox(self) -> int:
        return self.sql("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0]

    def _broker(self, fn):
        """Run ``fn(connection)``; reconnect once if the idle connection was dropped."""
        try:
            return fn(self.amqp)
        except Exception:
            with contextlib.suppress(Exception):
                self.amqp.close()
            self.amqp = self._connect_amqp()
            return fn(self.amqp)

    def queue_count(self, queue: str) -> int:
        return self._broker(lambda conn: _queue_count(conn, queue)[0])

    def purge(self, queue: str) -> None:
        self._broker(lambda conn: conn.channel().queue_purge(queue))

    def backend_pids(self):
        """PostgreSQL processes serving this platform's databases, and the server's own
        background processes (checkpointer, WAL writer...)."""
        return [r[0] for r in self.sql(
            "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s OR backend_type <> 'client backend'",
            (self.base + "%",))]

    def close(self):
        for c in (self.db, self.amqp):
            with contextlib.suppress(Exception):
                c.close()


# -- one step -------------------------------------------------------------------------------------
def run_load(spec: dict, cpu_groups: dict | None = None) -> tuple[dict, dict | None]:
    """Run bench/loadgen.py in its own process with ``spec``; returns (result, cpu)."""
    from bench.procstat import CpuSampler

    with tempfile.TemporaryDirectory(prefix="civic-load-") as tmp:
        spec_path, out_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        proc = subprocess.Popen([sys.executable, "-m", "bench.loadgen", spec_path, out_path], cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=ROOT))
        sampler = None
        if cpu_groups is not None:
            groups = dict(cpu_groups)
            time.sleep(min(0.4, spec.get("start_delay", 0.5) * 0.8))  # the generator builds its requests first
            sampler = CpuSampler(groups).start()
        rc = proc.wait(spec["duration"] + spec.get("timeout", 10) + 600)
        cpu = sampler.stop() if sampler else None
        if rc != 0:
            raise RuntimeError(f"load generator failed ({rc})")
        with open(out_path) as f:
            return json.load(f), cpu


def summarize(result: dict, ok_statuses=(200,)) -> dict:
    """Latency percentiles from the due time over every request (errors included, with
    their latency; timeouts count as the timeout), and the achieved throughput."""
    lat, st, due = result["latency"], result["status"], result["due"]
    n = len(lat)
    ok = [i for i in range(n) if st[i] in ok_statuses]
    done_ok = [due[i] + lat[i] for i in ok]
    codes: dict = {}
    for s in st:
        codes[str(s)] = codes.get(str(s), 0) + 1
    window = max(result["duration"], max(done_ok) if done_ok else 0)
    return {
        "offered_rate": result["rate"], "duration": result["duration"], "requests": n, "ok": len(ok),
        "error_rate": 1 - len(ok) / n if n else 0.0, "statuses": codes, "client_errors": result["errors"],
        "throughput": len(ok) / window if window else 0.0,
        "p50": percentile(lat, 50), "p90": percentile(lat, 90), "p95": percentile(lat, 95),
        "p99": percentile(lat, 99), "p999": percentile(lat, 99.9), "max": max(lat) if lat else 0.0,
        "sent_late_p99": percentile(result["sent_late"], 99), "loadgen_cpu_s": result["cpu_seconds"],
        "finished": result["finished"], "loadgen_gc_pause_max": result.get("gc_pause_max"),
        "loadgen_client": f"{result.get('client', 'aiohttp')} on {result.get('loop', 'asyncio')}",
    }


def per_second(result: dict) -> dict:
    """Per second of the schedule: completions (200) per second and p99 of the requests due."""
    buckets_done: dict = {}
    buckets_lat: dict = {}
    for d, lat, s in zip(result["due"], result["latency"], result["status"]):
        buckets_lat.setdefault(int(d), []).append(lat)
        if s == 200:
            t = int(d + lat)
            buckets_done[t] = buckets_done.get(t, 0) + 1
    secs = sorted(set(buckets_lat) | set(buckets_done))
    return {"t": secs, "done": [buckets_done.get(t, 0) for t in secs],
            "p99": [percentile(buckets_lat[t], 99) if t in buckets_lat else None for t in secs]}


def wait_idle(monitor: Monitor, timeout: float = 60.0, settle: float = 2.0) -> float:
    """Until the voting RPC queue and the voting outbox are empty and no ``vote_cast`` has
    been published for ``settle`` seconds (requests the load generator gave up on may still
    be waiting in the gateway, out of the RPC queue's sight); returns the seconds waited."""
    t0 = time.monotonic()
    last, quiet_since = None, None
    while time.monotonic() - t0 < timeout:
        now = time.monotonic()
        published = monitor.queue_count(COUNT_QUEUE)
        if published != last:
            last, quiet_since = published, now
        if (now - quiet_since >= settle and monitor.queue_count("rpc-voting") == 0
                and monitor.pending_outbox() == 0):
            break
        time.sleep(0.2)
    return time.monotonic() - t0


def step(cluster, monitor: Monitor, seeded: dict, rate: float, duration: float, first: int, run: str,
         cpu_groups: dict | None, timeout: float = 10.0, connections: int = 800) -> dict:
    """One open-loop step at ``rate`` votes/s; then checks the events."""
    from bench.procstat import loadavg

    spec = {"kind": "votes", "api": cluster.api, "rate": rate, "duration": duration, "first": first, "run": run,
            "proposals": seeded["proposals"], "secret": cluster.env["VOTE_KEY_SECRET"], "trusted": True,
            "connections": connections, "timeout": timeout}
    monitor.purge(COUNT_QUEUE)
    load_before = loadavg()
    too_many = cluster.count_in_logs("voting", "too many clients")
    result, cpu = run_load(spec, cpu_groups)
    end = time.monotonic()
    summary = summarize(result)
    summary["loadavg_before"] = load_before
    # events: every 200 was a first vote ("cast"), so as many vote_cast events must arrive
    expected = summary["ok"]
    deadline = time.monotonic() + 60
    count = pending = 0
    while time.monotonic() < deadline:
        count, pending = monitor.queue_count(COUNT_QUEUE), monitor.pending_outbox()
        if count >= expected and pending == 0:
            break
        time.sleep(0.2)
    summary["db_connection_refusals"] = cluster.count_in_logs("voting", "too many clients") - too_many
    summary["events_expected"] = expected
    summary["events_published"] = count
    summary["outbox_pending_after"] = pending
    summary["outbox_drained_after_s"] = time.monotonic() - end
    summary["cpu"] = cpu
    if cpu:
        cpu["loadgen"] = result["cpu_seconds"]
        cpu["other"] = max(0.0, cpu["other"] - cpu["loadgen"])
        summary["cpu_ms_per_vote"] = {k: 1000 * v / max(1, expected) for k, v in cpu.items() if k not in ("wall",)}
    summary["series"] = per_second(result)
    wait_idle(monitor)
    return summary


def saturated(s: dict, p99_limit: float = 1.0) -> bool:
    """Past capacity: errors, a p99 over a second, or under 90 % of the offered rate done."""
    return s["error_rate"] > 0.01 or s["p99"] > p99_limit or s["throughput"] < 0.9 * s["offered_rate"]


# up to three times the target: past the first saturated step the sweep stops, and a capacity
# measured without one is only a lower bound (reported as such)
RATES = (25, 40, 60, 90, 135, 200, 300, 450, 675, 1000, 1500, 2000, 3000)
CEILING_RATES = (500, 1000, 1500, 2000, 3000)


def http_ceiling(cluster, duration: float, log=print) -> list:
    """Baseline measured in the same run: the gateway answering ``GET /healthz`` (no RPC,
    no database, no Redis) to the same load generator, rates stepped up until saturated.
    What any request costs on this machine before it does anything."""
    steps = []
    for rate in CEILING_RATES:
        spec = {"kind": "get", "urls": [f"{cluster.url}/healthz"], "rate": rate, "duration": duration,
                "connections": 800, "timeout": 10}
        result, cpu = run_load(spec, {"gateway": [cluster.procs["gateway"].pid]})
        summary = summarize(result)
        summary["cpu_ms_per_request"] = {"gateway": 1000 * cpu["gateway"] / max(1, summary["requests"]),
                                         "loadgen": 1000 * result["cpu_seconds"] / max(1, summary["requests"])}
        steps.append(summary)
        log(f"  HTTP ceiling, GET /healthz at {rate}/s: {summary['throughput']:.0f}/s, "
            f"p99 {summary['p99'] * 1000:.0f} ms")
        if saturated(summary, p99_limit=0.1):
            break
    return steps


def run(cluster, quick: bool = False, rates=None, consumers=(1, 2, 4), target_rate: float = 1000.0,
        sustained_duration: float | None = None, step_duration: float | None = None, force_sustained: bool = False,
        log=print) -> dict:
    """Rate sweeps (open loop, one step per rate, up to the first saturated step) with 1, 2
    and 4 voting processes, then a sustained run: ``target_rate`` for 60 s when the sweep
    says the platform can take it (or ``force_sustained``); otherwise the sustained run is
    at the highest rate that met the latency target, plus a short probe at ``target_rate``
    to show what happens there (a minute of 10x overload on a shared machine says nothing
    more than ten seconds of it)."""
    from tqdm import tqdm

    step_duration = step_duration or (5.0 if quick else 10.0)
    sustained_duration = sustained_duration or (15.0 if quick else 60.0)
    rates = list(rates or RATES)
    n_per_question = 40 if quick else 100
    with tqdm(total=3 * n_per_question, desc="seeding proposals", unit="proposal", leave=False) as bar:
        seeded = seed(cluster, per_question=n_per_question, progress=bar)
    bind_count_queue(cluster)
    ceiling = http_ceiling(cluster, 3.0 if quick else 5.0, log=log)
    monitor = Monitor(cluster)
    pg = monitor.backend_pids

    def groups():
        return {"gateway": [cluster.procs["gateway"].pid],
                "voting": [cluster.procs[k].pid for k in cluster.instances("voting")],
                "other services": [p.pid for k, p in cluster.procs.items()
                                   if k != "gateway" and not (k == "voting" or k.startswith("voting-"))],
                "postgresql": pg}

    counter = {"next": 0}

    def do_step(rate, duration, tag, **kw):
        s = step(cluster, monitor, seeded, rate, duration, counter["next"], tag, groups(), **kw)
        counter["next"] += int(rate * duration) + 1
        return s

    curves = {}
    for c in consumers:
        while len(cluster.instances("voting")) < c:
            cluster.add_instance("voting")
        cluster.wait_consumers("voting", c)
        time.sleep(2)  # the new processes' pools and first queries
        do_step(20, 2, f"w{c}-")  # warm-up, not reported
        curve = []
        for rate in rates:
            s = do_step(rate, step_duration, f"c{c}r{rate}-")
            curve.append(s)
            log(f"  votes, {c} voting process(es), offered {rate}/s: {s['throughput']:.0f}/s ok, "
                f"p50 {s['p50']*1000:.0f} ms, p99 {s['p99']*1000:.0f} ms, errors {s['error_rate']:.1%}, "
                f"vote_cast events {s['events_published']}/{s['events_expected']}")
            if saturated(s):
                break
        curves[c] = curve
    capacity = {c: max(s["throughput"] for s in curve) for c, curve in curves.items()}
    capacity_reached = {str(c): saturated(curve[-1]) for c, curve in curves.items()}  # else a lower bound
    meets = {c: max([s["offered_rate"] for s in curve if meets_target(s)] or [0]) for c, curve in curves.items()}
    best = max(capacity, key=lambda c: (meets[c], capacity[c]))
    while len(cluster.instances("voting")) > best:
        cluster.stop_proc(cluster.instances("voting")[-1])
    time.sleep(2)
    probe = None
    if force_sustained or capacity[best] >= 0.8 * target_rate:
        sustained_rate = target_rate
    else:
        sustained_rate = max(meets[best], rates[0])
        log(f"  votes: probe at the target, {target_rate:.0f}/s for {step_duration:.0f}s ({best} voting process(es))")
        probe = do_step(target_rate, step_duration, "probe-")
        log(f"    -> {probe['throughput']:.0f}/s ok, p99 {probe['p99']*1000:.0f} ms, errors {probe['error_rate']:.1%}")
        # the probe leaves calls the gateway gave up on queued for voting (they are still
        # executed): the sustained run starts once they are done, not on top of them
        waited = wait_idle(monitor, timeout=300)
        log(f"    (platform idle again after {waited:.0f} s)")
    log(f"  votes: sustained {sustained_rate:.0f}/s for {sustained_duration:.0f}s with {best} voting process(es)")
    sustained = do_step(sustained_rate, sustained_duration, "sustained-", connections=1000)
    log(f"    -> {sustained['throughput']:.0f}/s ok, p99 {sustained['p99']*1000:.0f} ms, "
        f"errors {sustained['error_rate']:.1%}")
    monitor.close()
    return {"curves": {str(c): v for c, v in curves.items()}, "capacity": {str(c): v for c, v in capacity.items()},
            "max_rate_meeting_target": {str(c): v for c, v in meets.items()}, "sustained": sustained,
            "capacity_reached": capacity_reached,
            "sustained_rate": sustained_rate, "sustained_consumers": best, "probe": probe,
            "step_duration": step_duration, "proposals": len(seeded["proposals"]), "target_rate": target_rate,
            "unknown_to_voting": seeded["unknown_to_voting"], "http_ceiling": ceiling,
            "target_met": sustained_rate >= target_rate and meets_target(sustained)}


def meets_target(s: dict, p99: float = 0.1) -> bool:
    """p99 under 100 ms, no error, the offered rate served, every vote_cast published."""
    return (s["p99"] < p99 and s["error_rate"] == 0 and s["throughput"] >= 0.95 * s["offered_rate"]
            and s["events_published"] >= s["events_expected"])


def plot(r: dict, path) -> None:
    from bench.report import plot_ready

    plt = plot_ready()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for c, curve in r["curves"].items():
        x = [s["offered_rate"] for s in curve]
        axes[0].plot(x, [s["throughput"] for s in curve], marker="o", label=f"{c} voting process(es)")
        axes[1].plot(x, [s["p99"] * 1000 for s in curve], marker="o", label=f"p99, {c} process(es)")
        axes[1].plot(x, [s["p50"] * 1000 for s in curve], marker=".", linestyle=":", label=f"p50, {c} process(es)")
    top = max(s["offered_rate"] for curve in r["curves"].values() for s in curve)
    axes[0].plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle="--", label="served = offered")
    axes[0].axhline(r["target_rate"], color="red", linewidth=0.8, linestyle="--", label="target")
    axes[0].set(xlabel="offered votes/s (open loop)", ylabel="votes/s served (200)", title="Throughput")
    axes[1].axhline(100, color="red", linewidth=0.8, linestyle="--", label="p99 target 100 ms")
    axes[1].set(xlabel="offered votes/s", ylabel="latency from due time (ms)", yscale="log", title="Latency")
    s = r["sustained"]["series"]
    ax = axes[2]
    ax.plot(s["t"], s["done"], color="tab:blue", label="votes/s served")
    ax.set(xlabel="seconds", ylabel="votes/s", title=f"Sustained run: {r['sustained_rate']:.0f}/s offered")
    ax2 = ax.twinx()
    ax2.plot(s["t"], [v * 1000 if v is not None else None for v in s["p99"]], color="tab:red", label="p99 (ms)")
    ax2.set(ylabel="p99 of the votes due that second (ms)", yscale="log")
    for a in axes[:2]:
        a.legend(fontsize=7)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cpu_row(s: dict) -> str:
    cpu = s.get("cpu_ms_per_vote") or {}
    keys = ("gateway", "voting", "postgresql", "rabbitmq", "other services", "loadgen", "other", "machine")
    return " / ".join(f"{cpu.get(k, 0):.1f}" for k in keys)


def render(r: dict, machine_text: str, wall: float, png: str) -> tuple[str, dict]:
    from bench.report import ms, num, table, verdict

    rows = []
    for c, curve in r["curves"].items():
        for s in curve:
            err = f"{s['error_rate']:.1%}"
            if s.get("db_connection_refusals"):
                err += f" ({s['db_connection_refusals']} refused by PostgreSQL: too many clients)"
            rows.append([c, num(s["offered_rate"]), num(s["throughput"]), ms(s["p50"], 0), ms(s["p95"], 0),
                         ms(s["p99"], 0), err, f"{s['events_published']:,} / {s['events_expected']:,}",
                         _cpu_row(s)])
    cap = r["capacity"]
    reached = r["capacity_reached"]
    scaling = ", ".join(f"{c} process(es): {'' if reached[c] else 'at least '}{num(v)} votes/s"
                        for c, v in cap.items())
    base = cap.get("1") or 1
    ratios = ", ".join(f"{c}: {v / base:.2f}x" for c, v in cap.items())
    s = r["sustained"]
    lines = [
        "## 2. Votes end to end", "",
        f"_`bench/votes.py`, {r['date']}, {wall:.0f} s._ {machine_text}", "",
        "`PUT /api/v1/proposals/{id}/vote` through the gateway (gunicorn, 2 gevent workers; votes arriving "
        "together are coalesced into `voting.vote_batch` calls, one batch in flight per worker, one transaction per "
        "batch, the batch's rate limits counted in one Redis call, `gateway/batching.py`) "
        "-> voting -> PostgreSQL (vote rows, the proposals' counts and scores, the question's counter and the "
        "outbox rows in one transaction) -> the outbox relay publishes one `vote_cast` per vote (a pass's events "
        "back to back, confirms awaited once). Every vote is the first vote of an anonymous "
        "session (12 per session) carrying the sequence's proposal key (trusted: the heaviest path), on "
        f"{r['proposals']} accepted proposals of three open questions (FR, DE, GB). Rate limits raised by "
        "environment (`VOTE_RATE_PER_IP`, `VOTE_RATE_PER_VOTER`), as the issue allows." +
        (f" ({r['unknown_to_voting']} accepted proposal(s) never reached voting: their `proposal_accepted` event was "
         "dead-lettered, see the report's causes; the votes went to the others.)" if r.get("unknown_to_voting") else ""),
        "",
        "Load generator: `bench/loadgen.py`, a separate process "
        f"({r['sustained'].get('loadgen_client', 'aiohttp on asyncio')}: its own HTTP/1.1 keep-alive client on "
        "asyncio Protocols, requests serialised before the run, ~0.06-0.08 ms of CPU per vote where aiohttp took "
        "~0.3 on the same two cores; up to 800-1,000 connections), **open loop**: request *i* is sent at t0 + i/rate whatever the previous ones did, and its "
        "latency is measured from that due time, so queueing in the generator or the platform counts "
        "(no coordinated omission). Its own pauses would count as the platform's latency: the prepared "
        "requests are frozen out of Python's full garbage collections and finished requests are not kept, and its "
        "longest collection pause is reported with the sustained run. The platform's processes freeze their "
        "startup objects the same way (`gc.freeze()`). A request not answered 10 s after its due time is an "
        "error. Rates are "
        f"stepped up ({r['step_duration']:.0f} s per step) until the first saturated step (errors > 1 %, "
        "p99 > 1 s or under 90 % of the offered rate served). Events: a queue bound to `voting.events` / "
        "`vote_cast` counts the published events, and the voting outbox must be empty after each step.", "",
        table(["voting processes", "offered /s", "served /s", "p50 ms", "p95 ms", "p99 ms", "errors",
               "vote_cast published / votes", "CPU ms per vote: gateway / voting / PostgreSQL / RabbitMQ / "
               "other services / load generator / not ours / whole machine"], rows), "",
        f"Capacity (best served rate in the sweep): {scaling}; relative to 1 process: {ratios}"
        + ("" if all(reached.values()) else
           " (\"at least\": the sweep's last rate did not saturate that configuration, so the ratio says nothing "
           "of its limit)") + ". Highest offered "
        f"rate meeting p99 < 100 ms with no error: " +
        ", ".join(f"{c} process(es): {num(v)}/s" for c, v in r["max_rate_meeting_target"].items()) + ".", "",
    ]
    ceiling = r.get("http_ceiling") or []
    if ceiling:
        ok = [c for c in ceiling if meets_target(dict(c, events_published=0, events_expected=0))]
        best = ok[-1] if ok else ceiling[0]
        cpu = best["cpu_ms_per_request"]
        lines += [
            "**Baseline, same run: the HTTP ceiling.** The same load generator against the gateway's `GET /healthz` "
            "(no RPC, no database, no Redis): " + ", ".join(
                f"{num(c['offered_rate'])}/s offered -> {num(c['throughput'])}/s, p99 {ms(c['p99'], 0)} ms"
                for c in ceiling) +
            f". At {num(best['offered_rate'])}/s a bare request costs {cpu['gateway']:.2f} ms of gateway CPU and "
            f"{cpu['loadgen']:.2f} ms in the load generator: {cpu['gateway'] + cpu['loadgen']:.2f} ms of the "
            f"2 ms per vote that 1,000 votes/s leave on two cores, before the vote is parsed, rate-limited, "
            "sent to voting, written and published.", ""]
    if r.get("probe"):
        p = r["probe"]
        lines += [f"Probe at the target rate ({num(r['target_rate'])} votes/s offered for {r['step_duration']:.0f} s, "
                  f"{r['sustained_consumers']} voting process(es)): {num(p['throughput'])}/s served, p50 "
                  f"{ms(p['p50'], 0)} ms, p99 {ms(p['p99'], 0)} ms, errors {p['error_rate']:.1%} "
                  f"(statuses {p['statuses']}).", ""]
    lines += [
        f"Sustained run: **{num(r['sustained_rate'])} votes/s offered for {s['duration']:.0f} s** with "
        f"{r['sustained_consumers']} voting process(es): {num(s['throughput'])}/s served, p50 {ms(s['p50'], 0)} ms, "
        f"p95 {ms(s['p95'], 0)} ms, **p99 {ms(s['p99'], 0)} ms**, max {ms(s['max'], 0)} ms, errors "
        f"{s['error_rate']:.2%}; `vote_cast` events published: {s['events_published']:,} for "
        f"{s['events_expected']:,} votes (outbox empty {s['outbox_drained_after_s']:.1f} s after the last "
        f"request). CPU ms per vote: {_cpu_row(s)}."
        + (f" The load generator's longest garbage-collection pause: {ms(s['loadgen_gc_pause_max'], 0)} ms."
           if s.get("loadgen_gc_pause_max") is not None else ""), "",
        f"Target (>= {num(r['target_rate'])} votes/s for 60 s, p99 < 100 ms): {verdict(r['target_met'])}.", "",
        f"![votes: throughput and latency against offered rate]({png})",
    ]
    data = {"capacity": cap, "capacity_reached": reached, "max_rate_meeting_target": r["max_rate_meeting_target"],
            "sustained_rate": r["sustained_rate"], "sustained_p99_ms": s["p99"] * 1000,
            "sustained_served": s["throughput"], "met": r["target_met"], "date": r["date"]}
    return "\n".join(lines), data
