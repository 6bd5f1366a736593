"""Figure 6: the real-time stream with many clients.

N clients (default 1,000) hold ``GET /api/v1/stream`` open through the gateway (gunicorn,
2 gevent workers): one asyncio process with raw sockets (HTTP/1.1, the response read as it
comes, event ids picked from the ``id:`` lines), started as ``python -m bench.stream
clients <url> <n> <expected events> <out.json>``. Once every client has its ``: connected``
line, the benchmark publishes K ``commitments.commitment_made`` envelopes on the bus (as
commitments' outbox relay would), one every ``interval`` seconds, and each delivery's
latency is its arrival time at the client minus the publish time (same machine, same
clock).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ID_LINE = re.compile(rb"(?:^|\n)id: ([0-9a-f-]{36})\n")


# -- the clients' process -----------------------------------------------------------------------
async def _client(host, port, path, arrivals: dict, connected: asyncio.Event, counter: dict, expected: int,
                  done: asyncio.Event):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                 f"Cache-Control: no-cache\r\n\r\n".encode())
    await writer.drain()
    buf = b""
    seen = 0
    is_connected = False
    try:
        while seen < expected:
            chunk = await reader.read(65536)
            if not chunk:
                break
            now = time.time()
            buf += chunk
            if not is_connected and b": connected" in buf:
                is_connected = True
                counter["connected"] += 1
                if counter["connected"] == counter["n"]:
                    connected.set()
            cut = buf.rfind(b"\n")
            if cut == -1:
                continue
            for m in ID_LINE.finditer(buf, 0, cut + 1):
                arrivals.setdefault(m.group(1).decode(), now)
                seen = len(arrivals)
            buf = buf[cut:]  # keep the last newline: an "id:" line starts after one
    finally:
        counter["finished"] += 1
        if counter["finished"] == counter["n"]:
            done.set()
        writer.close()


async def clients_main(url: str, n: int, expected: int, out: str, timeout: float) -> None:
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port, parts.path + (f"?{parts.query}" if parts.query else "")
    arrivals = [dict() for _ in range(n)]
    connected, done = asyncio.Event(), asyncio.Event()
    counter = {"n": n, "connected": 0, "finished": 0}
    t0 = time.time()
    tasks = []
    for i in range(n):  # connect in batches, as real clients would not all arrive in one tick
        tasks.append(asyncio.ensure_future(_client(host, port, path, arrivals[i], connected, counter, expected, done)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(connected.wait(), 60)
    print(f"READY {counter['connected']} {time.time() - t0:.2f}", flush=True)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(done.wait(), timeout)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = sum(1 for t in tasks if t.cancelled() is False and t.exception() is not None)
    with open(out, "w") as f:
        json.dump({"arrivals": arrivals, "connected": counter["connected"], "errors": errors,
                   "connect_seconds": None}, f)


# -- the benchmark ------------------------------------------------------------------------------
def publish_events(amqp_uri: str, k: int, interval: float) -> list:
    """Publish k commitment_made envelopes; returns [(event_id, publish time)]."""
    import pika

    from common.events import make_envelope
    from common.rpc_client import pika_parameters

    out = []
    with contextlib.closing(pika.BlockingConnection(pika_parameters(amqp_uri))) as conn:
        ch = conn.channel()
        ch.exchange_declare("commitments.events", exchange_type="topic", durable=True)
        for i in range(k):
            envelope = make_envelope("commitments", "commitment_made", {
                "commitment_id": str(uuid.uuid4()), "actor_id": str(uuid.uuid4()), "actor_name": "Camille Exemple",
                "proposal_id": None, "campaign_id": None, "country": "FR", "kind": "vote_for",
                "text": f"Je voterai pour le texte n° {i}", "made_at": None})
            body = json.dumps(envelope).encode()
            t = time.time()
            ch.basic_publish("commitments.events", "commitment_made", body, pika.BasicProperties(
                content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                message_id=envelope["event_id"]))
            out.append((envelope["event_id"], t))
            conn.process_data_events(0)
            time.sleep(interval)
    return out


def run(cluster, quick: bool = False, clients: int = 1000, events: int | None = None, interval: float = 0.5,
        log=print) -> dict:
    from bench.procstat import CpuSampler
    from bench.stats import percentile

    k = events or (6 if quick else 20)
    with tempfile.TemporaryDirectory(prefix="civic-sse-") as tmp:
        out = os.path.join(tmp, "arrivals.json")
        proc = subprocess.Popen([sys.executable, "-m", "bench.stream", "clients", f"{cluster.api}/stream", str(clients),
                                 str(k), out, str(k * interval + 30)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONPATH=ROOT))
        ready = proc.stdout.readline().split()
        if not ready or ready[0] != "READY":
            proc.kill()
            raise RuntimeError(f"SSE clients did not start: {ready}")
        n_connected, connect_seconds = int(ready[1]), float(ready[2])
        log(f"  stream: {n_connected} clients connected in {connect_seconds:.1f} s")
        time.sleep(1.0)
        idle = CpuSampler({"gateway": [cluster.procs["gateway"].pid], "clients": [proc.pid]}).start()
        time.sleep(3.0)
        idle_cpu = idle.stop()
        sampler = CpuSampler({"gateway": [cluster.procs["gateway"].pid], "clients": [proc.pid]}).start()
        published = publish_events(cluster.amqp_uri, k, interval)
        time.sleep(1.0)
        cpu = sampler.stop()
        proc.wait(k * interval + 90)
        with open(out) as f:
            got = json.load(f)
    latencies, per_event, missing = [], [], 0
    for event_id, t_pub in published:
        lat = [a[event_id] - t_pub for a in got["arrivals"] if event_id in a]
        missing += clients - len(lat)
        latencies += lat
        per_event.append({"received": len(lat), "p50": percentile(lat, 50), "p99": percentile(lat, 99),
                          "max": max(lat) if lat else None})
    p99 = percentile(latencies, 99)
    return {"clients": clients, "connected": n_connected, "connect_seconds": connect_seconds, "events": k,
            "interval": interval, "deliveries": len(latencies), "missing": missing,
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": p99,
            "max": max(latencies) if latencies else None, "per_event": per_event, "cpu": cpu, "idle_cpu": idle_cpu,
            "latencies_sample": sorted(latencies)[:: max(1, len(latencies) // 2000)],
            "target_met": n_connected == clients and missing == 0 and p99 < 1.0}


def plot(r: dict, path) -> None:
    from bench.report import plot_ready

    plt = plot_ready()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    lat = [x * 1000 for x in r["latencies_sample"]]
    axes[0].plot(lat, [i / max(1, len(lat) - 1) for i in range(len(lat))])
    axes[0].axvline(1000, color="red", linestyle="--", linewidth=0.8, label="target: 1 s")
    axes[0].set(xlabel="delivery latency (ms), publish -> client", ylabel="fraction of deliveries",
                title=f"{r['clients']:,} SSE clients x {r['events']} events: CDF", xscale="log")
    axes[0].legend()
    ev = r["per_event"]
    axes[1].plot(range(1, len(ev) + 1), [e["p50"] * 1000 for e in ev], marker=".", label="p50")
    axes[1].plot(range(1, len(ev) + 1), [e["p99"] * 1000 for e in ev], marker=".", label="p99")
    axes[1].plot(range(1, len(ev) + 1), [e["max"] * 1000 if e["max"] else None for e in ev], marker=".",
                 label="last client")
    axes[1].set(xlabel="event", ylabel="ms", title="Per event, across the clients")
    axes[1].legend()
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(r: dict, machine_text: str, wall: float, png: str) -> tuple[str, dict]:
    from bench.report import ms, table, verdict

    from bench.stats import percentile

    lasts = [e["max"] for e in r["per_event"] if e["max"] is not None]
    cpu, idle = r["cpu"], r["idle_cpu"]
    text = "\n".join([
        "## 6. Real-time stream", "",
        f"_`bench/stream.py`, {r['date']}, {wall:.0f} s._ {machine_text}", "",
        f"{r['clients']:,} clients hold `GET /api/v1/stream` open through the gateway (2 gevent workers): one asyncio "
        "process, raw sockets, HTTP/1.1. When all are connected, "
        f"{r['events']} `commitments.commitment_made` events are published on the bus, one every "
        f"{r['interval']} s; latency = arrival at the client - publish (same clock).", "",
        table(["clients connected", "deliveries", "missing", "p50 ms", "p95 ms", "p99 ms", "max ms",
               "last client per event: median / max ms"],
              [[f"{r['connected']:,} / {r['clients']:,} (in {r['connect_seconds']:.1f} s)", f"{r['deliveries']:,}",
                r["missing"], ms(r["p50"]), ms(r["p95"]), ms(r["p99"]), ms(r["max"]),
                f"{ms(percentile(lasts, 50))} / {ms(max(lasts) if lasts else None)}"]]), "",
        f"Gateway CPU with the clients connected and idle: {100 * idle['gateway'] / idle['wall']:.0f} % of a core; "
        f"while the events flowed: {100 * cpu['gateway'] / cpu['wall']:.0f} % (clients' process "
        f"{100 * cpu['clients'] / cpu['wall']:.0f} %, not ours {100 * cpu['other'] / cpu['wall']:.0f} %).", "",
        f"Target (every client gets the event within 1 s, p99): {verdict(r['target_met'])}.", "",
        f"![SSE delivery latency]({png})",
    ])
    data = {"p99_ms": r["p99"] * 1000 if r["p99"] is not None else None, "met": r["target_met"], "date": r["date"],
            "text": f"p99 {ms(r['p99'])} ms, {r['connected']:,} clients, {r['missing']} missing"}
    return text, data


if __name__ == "__main__":
    if len(sys.argv) >= 6 and sys.argv[1] == "clients":
        asyncio.run(clients_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                                 float(sys.argv[6]) if len(sys.argv) > 6 else 60.0))
    else:
        print(__doc__)
