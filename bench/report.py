"""docs/benchmarks.md: one section per figure between its own markers
(``<!-- bench-<name>:start -->`` ... ``<!-- bench-<name>:end -->``), so a partial run
(``--only votes``) rewrites only its sections and other sections (e.g. the emergence
benchmark's ``<!-- emergence:start -->`` one) are left as they are. Each section carries
its figures as JSON in a comment line, from which the summary table is rebuilt.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
ORDER = ("summary", "rpc", "votes", "sequence", "search", "fanout", "stream")
TITLE = "# Benchmarks\n"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench-{name}:start -->", f"<!-- bench-{name}:end -->"


def _clean(value):
    """NaN and infinities as null (strict JSON), recursively."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def data_line(name: str, data: dict) -> str:
    text = json.dumps(_clean(data), separators=(",", ":"), default=_json_default, allow_nan=False)
    return f"<!-- bench-data:{name} {text.replace('--', '- -')} -->"


def _json_default(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def read_data(text: str) -> dict:
    """{section: data} from the JSON comment lines."""
    out = {}
    for m in re.finditer(r"<!-- bench-data:(\w+) (.*?) -->", text):
        try:
            out[m.group(1)] = json.loads(m.group(2))
        except ValueError:
            pass
    return out


def insert_section(text: str, name: str, body: str) -> str:
    """``text`` with the section ``name`` (markers included) replaced, or inserted in
    ``ORDER``: before the next of our sections present, else after the previous one, else
    right after the "# Benchmarks" title (before anything else, e.g. other benchmarks'
    sections). Nothing outside the section changes."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    i, j = text.find(start), text.find(end)
    if i != -1 and j > i:
        return text[:i] + block + text[j + len(end):]
    idx = ORDER.index(name)
    for later in ORDER[idx + 1:]:
        k = text.find(markers(later)[0])
        if k != -1:
            return text[:k] + block + "\n\n" + text[k:]
    for earlier in reversed(ORDER[:idx]):
        k = text.find(markers(earlier)[1])
        if k != -1:
            k += len(markers(earlier)[1])
            return text[:k] + "\n\n" + block + text[k:]
    if not text.strip():
        return TITLE + "\n" + block + "\n"
    t = text.find("# Benchmarks")
    if t == -1:
        return TITLE + "\n" + block + "\n\n" + text
    k = text.find("\n", t)
    k = len(text) if k == -1 else k + 1
    rest = text[k:].lstrip("\n")
    return text[:k] + "\n" + block + "\n" + ("\n" + rest if rest else "")


def write_section(name: str, body: str, path: Path = DOC) -> None:
    text = path.read_text() if path.exists() else TITLE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(insert_section(text, name, body))


# -- machine ----------------------------------------------------------------------------------
def _cmd(argv) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine(amqp_uri: str | None = None, pg_url: str | None = None) -> dict:
    """Platform, CPUs, RAM and the versions of what runs the benchmark."""
    from importlib.metadata import version

    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
        with open("/proc/meminfo") as f:
            kb = int(next(ln.split()[1] for ln in f if ln.startswith("MemTotal")))
        info["ram_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    packages = ("nameko", "eventlet", "kombu", "pika", "SQLAlchemy", "psycopg2-binary", "Flask", "flask-smorest",
                "gunicorn", "gevent", "aiohttp", "uvloop", "redis")
    info["packages"] = {}
    for name in packages:
        try:
            info["packages"][name] = version(name)
        except Exception:
            pass
    if amqp_uri:
        try:
            import pika

            from common.rpc_client import pika_parameters

            conn = pika.BlockingConnection(pika_parameters(amqp_uri))
            info["rabbitmq"] = conn._impl.server_properties.get("version", b"")
            if isinstance(info["rabbitmq"], bytes):
                info["rabbitmq"] = info["rabbitmq"].decode()
            conn.close()
        except Exception:
            pass
    if pg_url:
        try:
            import psycopg2

            with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
                cur.execute("SHOW server_version")
                info["postgresql"] = cur.fetchone()[0]
                settings = {}
                for name in ("shared_buffers", "synchronous_commit", "max_connections", "work_mem"):
                    cur.execute(f"SHOW {name}")
                    settings[name] = cur.fetchone()[0]
                info["postgresql_settings"] = settings
            conn.close()
        except Exception:
            pass
    out = _cmd(["redis-server", "--version"])
    m = re.search(r"v=([\d.]+)", out)
    if m:
        info["redis"] = m.group(1)
    info["loadavg"] = os.getloadavg()
    return info


def cpu_speed(runs: int = 7) -> float:
    """Milliseconds of CPU time a fixed piece of pure-Python work takes (integer
    arithmetic, a dict, JSON both ways), median of ``runs``. These machines are virtual and
    shared, and the speed of their cores varies from one hour to the next (2x between runs
    of the same code has been seen, without any steal time reported): this index, taken as
    a figure starts, says how fast a core was then. Lower is faster. It is CPU time, so
    other processes competing for the cores do not move it (the load average shows those)."""
    import json
    import statistics
    import time

    doc = {"id": "b2c4", "counts": {k: {i: 0 for i in ("agree", "disagree", "neutral")} for k in ("all", "trusted")}}
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        total = 0
        for i in range(60_000):
            total += i * i % 7
        for _ in range(1_500):
            json.loads(json.dumps(doc))
        times.append((time.process_time() - t0) * 1000)
    return statistics.median(times)


def machine_short(m: dict, speed: float | None = None) -> str:
    """The figure's machine line: call it as the figure starts, or pass the ``speed``
    (``cpu_speed()``) taken then."""
    load = os.getloadavg()[0]
    speed = cpu_speed() if speed is None else speed
    return (f"Machine: `{m.get('platform')}`, {m.get('cpus')} CPUs ({m.get('cpu_model', '?')}), {m.get('ram_gb', '?')} GB "
            f"RAM (versions in the summary); load average {load:.1f} and CPU speed index {speed:.0f} ms "
            "(`bench.report.cpu_speed`: lower is faster) when this figure started.")


def machine_line(m: dict) -> str:
    pk = m.get("packages", {})
    return (f"Machine: `{m.get('platform')}`, {m.get('cpus')} CPUs ({m.get('cpu_model', '?')}), "
            f"{m.get('ram_gb', '?')} GB RAM; Python {m.get('python')}; RabbitMQ {m.get('rabbitmq', '?')}, "
            f"PostgreSQL {m.get('postgresql', '?')} ({', '.join(f'{k} {v}' for k, v in m.get('postgresql_settings', {}).items())}), "
            f"Redis {m.get('redis', '?')}; " + ", ".join(f"{k} {v}" for k, v in pk.items()) + ". "
            "Everything (broker, database, services, gateway, load generator) on this machine, over 127.0.0.1.")


# -- formatting -------------------------------------------------------------------------------------
def ms(seconds, digits=1) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    return f"{seconds * 1000:,.{digits}f}"


def num(value, digits=0) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "n/a"
    return f"{value:,.{digits}f}"


def table(header: list, rows: list) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def plot_ready():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
