"""``make bench`` / ``make bench-quick``: the platform's performance figures (issue 7),
written to docs/benchmarks.md (each figure in its own marked section) and docs/bench-*.png.

    PYTHONPATH=. .venv/bin/python -m bench.run             # everything, ~25 min on 2 cores
    PYTHONPATH=. .venv/bin/python -m bench.run --quick     # smaller and shorter, ~5 min
    PYTHONPATH=. .venv/bin/python -m bench.run --only votes,stream

Figures: rpc (1. RPC overhead), votes (2. votes end to end), sequence (3. sequence and
rankings at scale), search (4. proposal search), fanout (5. notification fan-out), stream
(6. real-time stream). The platform runs on a throwaway RabbitMQ vhost and throwaway
PostgreSQL databases (common.testing), all on 127.0.0.1, removed at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import report  # noqa: E402

FIGURES = ("rpc", "votes", "fanout", "stream", "sequence", "search")  # the order they run in
PLATFORM_FIGURES = ("votes", "fanout", "stream", "sequence", "search")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.run", description="Platform benchmarks (issue 7)")
    ap.add_argument("--quick", action="store_true", help="smaller data, shorter steps (~5 min)")
    ap.add_argument("--only", default="", help=f"comma-separated figures among {','.join(FIGURES)}")
    ap.add_argument("--skip", default="", help="comma-separated figures to skip")
    ap.add_argument("--target-votes", type=float, default=1000.0, help="votes/s target of figure 2")
    ap.add_argument("--force-sustained", action="store_true",
                    help="run figure 2's 60 s at the target rate even when the sweep says it cannot hold")
    ap.add_argument("--sequence-proposals", type=int, help="figure 3: accepted proposals (default 100,000)")
    ap.add_argument("--sequence-votes", type=int,
                    help="figure 3: votes loaded (default 10,000,000 full, 300,000 quick; see --load-budget)")
    ap.add_argument("--search-proposals", type=int, help="figure 4: proposals (default 1,000,000 full, 60,000 quick)")
    ap.add_argument("--fanout-recipients", type=int, help="figure 5: recipients (default 100,000 full, 20,000 quick)")
    ap.add_argument("--stream-clients", type=int, default=1000, help="figure 6: SSE clients")
    ap.add_argument("--load-budget", type=float,
                    help="seconds allowed for figure 3's bulk load (default 420 full, 60 quick): the votes' COPY "
                         "stops at half of it (the indexes and the analysis take the rest)")
    ap.add_argument("--doc", default=str(report.DOC), help="markdown file to write")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    selected = [f for f in (args.only.split(",") if args.only else FIGURES) if f]
    skip = {f for f in args.skip.split(",") if f}
    unknown = [f for f in selected + list(skip) if f not in FIGURES]
    if unknown:
        print(f"unknown figure(s): {', '.join(unknown)}; choose among {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    selected = [f for f in FIGURES if f in selected and f not in skip]
    doc = report.Path(args.doc)
    started = time.monotonic()
    failures = []
    mode = "quick" if args.quick else "full"
    log(f"{mode} run of: {', '.join(selected)} (load average {os.getloadavg()[0]:.1f})")

    def section(name, fn):
        t0 = time.monotonic()
        try:
            result = fn()
        except Exception as exc:  # one figure failing must not lose the others
            failures.append((name, exc))
            log(f"{name} FAILED: {exc}")
            traceback.print_exc()
            return None
        log(f"{name} done in {time.monotonic() - t0:.0f} s")
        return result

    if "rpc" in selected:
        def fig_rpc():
            from bench import rpc

            t0 = time.monotonic()
            speed = report.cpu_speed()  # as the figure starts (the machine line is written after)
            r = rpc.run(quick=args.quick)
            m = r["machine"]
            text, data = rpc.render(r, report.machine_short(m, speed), time.monotonic() - t0)
            data["mode"] = mode
            data["machine"] = report.machine_line(m)
            report.write_section("rpc", text + "\n\n" + report.data_line("rpc", data), doc)
            return r

        section("rpc", fig_rpc)

    platform_figs = [f for f in selected if f in PLATFORM_FIGURES]
    if platform_figs:
        from bench.cluster import Cluster

        log("starting the platform (fresh vhost and databases)")
        with Cluster(name="bench", gateway_workers=2) as cluster:
            m = report.machine(cluster.amqp_uri, cluster.dsn("voting"))
            log(f"platform ready at {cluster.url} (logs in {cluster.log_dir})")
            for name in platform_figs:
                section(name, lambda name=name: run_platform_figure(name, cluster, args, m, doc, mode))
    write_summary(doc)
    log(f"all done in {time.monotonic() - started:.0f} s; {len(failures)} failure(s); wrote {doc}")
    return 1 if failures else 0


def run_platform_figure(name, cluster, args, m, doc, mode):
    t0 = time.monotonic()
    mline = report.machine_short(m)
    png_dir = doc.parent
    if name == "votes":
        from bench import votes

        r = votes.run(cluster, quick=args.quick, target_rate=args.target_votes, force_sustained=args.force_sustained,
                      log=log)
        r["date"] = now()
        png = "bench-votes.png"
        votes.plot(r, png_dir / png)
        text, data = votes.render(r, mline, time.monotonic() - t0, png)
    elif name == "fanout":
        from bench import fanout

        r = fanout.run(cluster, quick=args.quick, recipients=args.fanout_recipients, log=log)
        r["date"] = now()
        text, data = fanout.render(r, mline, time.monotonic() - t0)
    elif name == "stream":
        from bench import stream

        r = stream.run(cluster, quick=args.quick, clients=args.stream_clients, log=log)
        r["date"] = now()
        png = "bench-stream.png"
        stream.plot(r, png_dir / png)
        text, data = stream.render(r, mline, time.monotonic() - t0, png)
    elif name == "sequence":
        from bench import scale

        r = scale.run_sequence(cluster, quick=args.quick, proposals=args.sequence_proposals, votes=args.sequence_votes,
                               load_budget=args.load_budget, log=log)
        r["date"] = now()
        text, data = scale.render_sequence(r, mline, time.monotonic() - t0)
    elif name == "search":
        from bench import scale

        r = scale.run_search(cluster, quick=args.quick, proposals=args.search_proposals, log=log)
        r["date"] = now()
        text, data = scale.render_search(r, mline, time.monotonic() - t0)
    else:
        raise ValueError(name)
    data["mode"] = mode
    data["machine"] = report.machine_line(m)
    report.write_section(name, text + "\n\n" + report.data_line(name, data), doc)
    return r


SUMMARY_ROWS = (
    ("rpc", "1. RPC round trip: ours -> nameko service vs raw pika -> raw pika responder", "<= 1.3x",
     lambda d: f"{d['ours_over_raw']:.2f}x ({d['ours_ms']:.2f} ms vs {d['raw_ms']:.2f} ms)", "met_1"),
    ("rpc", "1. RPC round trip, the client alone: ours vs raw pika, both to a raw pika responder", "<= 1.3x",
     lambda d: f"{d['client_only']:.2f}x", "met_client_only"),
    ("rpc", "1. RPC round trip: nameko's ClusterRpcClient vs ours", ">= 3x",
     lambda d: f"{d['nameko_over_ours']:.1f}x ({d['nameko_ms']:.2f} ms)", "met_2"),
    ("votes", "2. votes end to end, 60 s, p99", ">= 1,000/s, p99 < 100 ms",
     lambda d: (f"{d['sustained_served']:,.0f}/s served at {d['sustained_rate']:,.0f}/s offered, p99 "
                f"{d['sustained_p99_ms']:,.0f} ms; capacity " +
                ", ".join(f"{c} proc. {'' if d.get('capacity_reached', {}).get(c, True) else '>= '}{v:,.0f}/s"
                          for c, v in d["capacity"].items()) +
                "; p99 < 100 ms up to " +
                ", ".join(f"{v:,.0f}/s ({c} proc.)" for c, v in d.get("max_rate_meeting_target", {}).items())), "met"),
    ("sequence", "3. GET .../sequence p95", "< 30 ms", lambda d: d["sequence_text"], "met_sequence"),
    ("sequence", "3. ?sort=popular first page p95", "< 20 ms", lambda d: d["popular_text"], "met_popular"),
    ("search", "4. full-text search p95", "< 50 ms", lambda d: d["text"], "met"),
    ("fanout", "5. notification fan-out", ">= 5,000/s", lambda d: d["text"], "met"),
    ("stream", "6. SSE: event delivered to all clients, p99", "< 1 s", lambda d: d["text"], "met"),
)


def write_summary(doc) -> None:
    text = doc.read_text() if doc.exists() else ""
    data = report.read_data(text)
    if not data:
        return
    rows = []
    for key, what, target, fmt, met in SUMMARY_ROWS:
        d = data.get(key)
        if not d:
            rows.append([what, target, "not run", "n/a", ""])
            continue
        try:
            value = fmt(d)
        except Exception:
            value = "see below"
        rows.append([what, target, value, report.verdict(d.get(met)), f"{d.get('mode', '')}, {d.get('date', '')}"])
    latest = max(data.values(), key=lambda d: d.get("date", ""))
    body = "\n".join([
        "## Platform performance (issue 7)", "",
        latest.get("machine", ""), "",
        "Generated by `make bench` (`bench/run.py`; `make bench-quick` for a shorter run with smaller data). Each "
        "figure below says its machine, date, method, medians and spread; this table gathers the last result of "
        "each. The machine is shared: every figure also reports the CPU used by other jobs during its measurement "
        "('not ours'), which directly lowers what the platform gets.", "",
        report.table(["figure", "target", "result", "target", "run"], rows),
    ])
    report.write_section("summary", body, doc)


if __name__ == "__main__":
    sys.exit(main())
