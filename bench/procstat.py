"""Where the CPU went during a measurement (Linux /proc): per group of processes (a
process and its descendants), the broker, PostgreSQL, and the whole machine.

``CpuSampler({"gateway": [pid], ...})`` then ``.start()`` / ``.stop()`` gives CPU seconds per
group over the window; ``machine`` is the busy time of every CPU (so "other" = machine -
the groups = everything else running on the host, e.g. another job).
"""
from __future__ import annotations

import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2:].split()
    # fields after the command: state(0) ppid(1) ... utime(11) stime(12)
    return int(rest[1]), int(rest[11]) + int(rest[12])


def _all():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                out[int(name)] = st
    return out


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _descendants(roots, table):
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, stack = set(), list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, []))
    return seen


def machine_busy() -> float:
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(x) for x in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICK


def by_name(names) -> list:
    return [pid for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()) if _comm(pid) in names]


class CpuSampler:
    """``groups``: name -> root pids (their descendants count too), or a callable
    returning the pids of the group (asked at start and at stop, e.g. the PostgreSQL
    backends serving our databases)."""

    def __init__(self, groups: dict):
        self.groups = {k: (v if callable(v) else list(v)) for k, v in groups.items()}
        self.groups.setdefault("rabbitmq", lambda: by_name({"beam.smp", "erl_child_setup", "inet_gethost"}))
        self.groups.setdefault("postgresql", lambda: by_name({"postgres"}))
        self.result = None

    def _snapshot(self):
        table = _all()
        snap = {}
        for group, roots in self.groups.items():
            pids = set(roots()) if callable(roots) else _descendants(roots, table)
            snap[group] = {p: table[p][1] for p in pids if p in table}
        return snap, machine_busy(), time.monotonic()

    def start(self) -> "CpuSampler":
        self._t0 = self._snapshot()
        return self

    def stop(self) -> dict:
        (s0, m0, t0), (s1, m1, t1) = self._t0, self._snapshot()
        out = {}
        for group in self.groups:
            total = 0
            for pid, ticks in s1[group].items():
                total += ticks - s0[group].get(pid, 0)  # a process started in the window counts from 0
            out[group] = total / TICK
        out["machine"] = m1 - m0
        out["other"] = max(0.0, out["machine"] - sum(v for k, v in out.items() if k != "machine"))
        out["wall"] = t1 - t0
        self.result = out
        return out


def loadavg() -> tuple:
    return os.getloadavg()
