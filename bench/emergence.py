"""Emergence quality benchmark (issue 3).

A question with N proposals whose true approval rates are drawn from a Beta distribution.
Simulated voter sessions vote on 12 proposals each, chosen either

* by the real voting sequence (``services.voting.sequence.select``, pure, no broker), with
  Make.org's default ``SequenceRules`` and with a tuned set, or
* by uniform random exposure (12 random proposals the voter has not voted on).

Votes are noisy: a voter votes neutral with probability ``--neutral``, otherwise agrees with
probability = the true rate, and the agree / disagree choice is flipped with probability
``--flip`` (misclicks, misreadings). Agrees are qualified likeIt / doable / platitudeAgree,
disagrees noWay / impossible / platitudeDisagree, neutrals doNotCare / noOpinion, each with a
fixed probability (``QUALIFY``). Every vote carries a valid proposal key (trusted); counts
are kept incrementally in memory, one dict per proposal, the same counts ``select`` and the
ranking read. Some sessions are returning voters (``--returning``), whose voted proposals are
removed from what they are served, as the service does.

After V votes the emerged top list is the 10 proposals with the highest topScore lower
bound (``services.voting.scoring``); precision@10 is its overlap with the true top 10 (by
true rate). Each strategy is run for several seeds (the same simulated question per seed
for every strategy) and the median is reported.

Thompson samples: ``select`` takes a ``sampler``; by default the benchmark passes a numpy
one drawing from exactly the same Beta distributions as the pure-Python
``sequence.sample_pool`` (checked at start-up), because the pure one costs ~20 ms per
sequence at 1,000 proposals; ``--sampler pure`` runs the service's own code path.

Writes a section between ``<!-- emergence:start -->`` and ``<!-- emergence:end -->`` of
docs/benchmarks.md (other content untouched) and the plot docs/emergence.png.

    PYTHONPATH=. .venv/bin/python bench/emergence.py            # full run (~5-10 min, 2 cores)
    PYTHONPATH=. .venv/bin/python bench/emergence.py --quick    # ~1 min
"""
from __future__ import annotations

import argparse
import bisect
import datetime as dt
import heapq
import json
import math
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from services.voting import scoring, sequence  # noqa: E402
from services.voting.sampling import COLUMNS, VectorSampler  # noqa: E402
from services.voting.sequence import Candidate, SequenceRules  # noqa: E402

CHECKPOINTS = (1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000)
TARGET = 0.9
TOP = 10
# Two questions: rates ~ Beta(alpha, beta). See SCENARIO_TEXT.
SCENARIOS = {"distinct": (2.0, 5.0), "dense": (5.0, 3.0)}
SCENARIO_TEXT = {
    "distinct": (
        "Some proposals stand out: mean rate 0.29, the true top 10 between ~0.70 and ~0.85 and "
        "ranks 10 to 20 spread over 0.04-0.08 (a consultation with many weak or niche proposals and a "
        "few clear favourites). **The issue's target is checked here.**"),
    "dense": (
        "Many near-equal favourites: mean rate 0.63, the true top 20 within ~0.02 of each other "
        "around 0.92, neighbouring ranks ~0.001-0.003 apart, less than the noise of 1,500 votes "
        "(±0.02 at 2 sigma). Whatever the exposure, telling rank 10 from rank 11 here takes "
        "thousands of votes per contender; shown to bound the claim."),
}
# Rules of the tuned row (only what differs from Make.org's defaults) and the scenarios it runs on.
TUNED = {"tested_max_votes": 10000, "top_candidates": 5}
TUNED_SCENARIOS = ("dense",)
READING_DEFAULTS_ONLY = (
    "Exposure through the sequence concentrates the votes on the proposals still in contention: "
    "Thompson sampling serves the likely-best ones, and the pick of the least-voted among the top "
    "`top_candidates` samples spreads the votes among them, so the true top 10 gather their first "
    "~1,500 votes each within tens of thousands of votes, where uniform exposure needs ~1,500 votes "
    "on every one of the N proposals.")
READING = READING_DEFAULTS_ONLY + (
    "\n\nOn \"dense\" the defaults plateau: `tested_max_votes` = 1,500 retires a proposal from the "
    "tested pool at 1,500 votes, so "
    "the contenders' estimates freeze at the precision of 1,500 votes (±0.02 on each rate), coarser "
    "than the gaps between them; the top 10 end with exactly 15,000 votes. The tuned row lifts the "
    "cap to 10,000 (the contenders keep being refined) and narrows the window to `top_candidates` = 5 "
    "(fewer votes on long shots, which with 1,000 proposals often sample into a window of 10 and, "
    "being the least voted, get picked). In exploratory runs on \"dense\" (same settings, 5-8 seeds) "
    "the mean precision@10 at 200,000 votes was 0.70 with the defaults, 0.74 with the cap at 3,000, "
    "0.80-0.81 with the cap at 10,000 (no higher cap binds within 200,000 votes), 0.84 with the cap "
    "at 10,000 and `top_candidates` = 5, 0.82 with 3, 0.78 with 20: the cap is the lever, the window "
    "a smaller gain within the noise. Even tuned, 0.9 is fragile there (see the min-max spread): "
    "the ranks around the 10th differ by less than the noise of several thousand votes, so read the "
    "tuned row as 'much closer', not 'solved'.")
QUALIFY = {
    "agree": (("likeIt", 0.30), ("doable", 0.20), ("platitudeAgree", 0.03)),
    "disagree": (("noWay", 0.30), ("impossible", 0.10), ("platitudeDisagree", 0.03)),
    "neutral": (("doNotCare", 0.20), ("noOpinion", 0.10)),
}
START, END = "<!-- emergence:start -->", "<!-- emergence:end -->"


@dataclass(frozen=True)
class Params:
    proposals: int = 1000
    alpha: float = 1.0
    beta: float = 4.0
    flip: float = 0.05
    neutral: float = 0.10
    returning: float = 0.2
    authors_ratio: float = 0.7
    keyword_prob: float = 0.3
    keywords: int = 100
    max_votes: int = 200000
    uniform_max_votes: int = 2000000
    sampler: str = "numpy"


# -- the simulated question ---------------------------------------------------------------------
class World:
    def __init__(self, params: Params, seed: int):
        rng = random.Random(f"world-{seed}")
        n = params.proposals
        self.n = n
        self.rates = [rng.betavariate(params.alpha, params.beta) for _ in range(n)]
        n_authors = max(1, int(n * params.authors_ratio))
        self.authors = [f"a{rng.randrange(n_authors)}" for _ in range(n)]
        self.keywords = [(f"k{rng.randrange(params.keywords)}",) if rng.random() < params.keyword_prob else ()
                         for _ in range(n)]
        self.ids = [f"p{i:05d}" for i in range(n)]
        self.true_top = set(sorted(range(n), key=lambda i: -self.rates[i])[:TOP])


def cast(rate: float, params: Params, rng: random.Random) -> tuple:
    """One noisy vote on a proposal of true approval ``rate``: (key, qualifications)."""
    if rng.random() < params.neutral:
        key = "neutral"
    else:
        agree = rng.random() < rate
        if rng.random() < params.flip:
            agree = not agree
        key = "agree" if agree else "disagree"
    return key, tuple(q for q, prob in QUALIFY[key] if rng.random() < prob)


def top_lower_bound(counts: dict) -> float:
    n = counts["agree"] + counts["disagree"] + counts["neutral"]
    return scoring.top_score(scoring.rates(counts), n).lower


# -- Thompson samples, vectorised ----------------------------------------------------------------
_COLUMN = {item: j for j, item in enumerate(COLUMNS)}


class NumpySampler(VectorSampler):
    """The service's ``sampling.VectorSampler``, reading each candidate's counts from
    ``matrix`` (one row of ``sampling.COLUMNS`` counts per proposal, updated with every vote)
    through ``index`` (id -> row) instead of building the rows from the ``counts`` mappings;
    every ``verify_every`` calls it checks that the matrix rows equal the candidates' counts."""

    def __init__(self, matrix=None, index=None, verify_every: int = 500):
        self.matrix, self.index = matrix, index
        self.verify_every, self.calls = verify_every, 0

    def rows(self, tested):
        if self.matrix is None:
            return super().rows(tested)
        rows = self.matrix[[self.index[c.id] for c in tested]]
        self.calls += 1
        if self.calls % self.verify_every == 1 and not np.array_equal(rows, super().rows(tested)):
            raise AssertionError("count matrix out of step with the candidates' counts")
        return rows


def check_sampler(draws: int = 20000) -> str:
    """The numpy sampler and the pure one agree (means and spreads of both scores)."""
    cases = [{"agree": 0, "disagree": 0, "neutral": 0},
             {"agree": 6, "disagree": 3, "neutral": 1, "likeIt": 2, "noWay": 1},
             {"agree": 120, "disagree": 60, "neutral": 20, "likeIt": 40, "doable": 25, "noWay": 18,
              "impossible": 5, "platitudeAgree": 3, "platitudeDisagree": 1}]
    fast, rng = NumpySampler(), random.Random(1)
    worst = 0.0
    for counts in cases:
        c = [Candidate("x", "a", 0, 0, 0, counts)] * draws
        a = fast(c, rng, scoring.ScoreRules())
        b = sequence.sample_pool(c, rng, scoring.ScoreRules())
        for x, y in zip(a, b):
            sx, sy = statistics.pstdev(x), statistics.pstdev(y)
            se = math.sqrt((sx * sx + sy * sy) / draws)
            z = abs(statistics.fmean(x) - statistics.fmean(y)) / se
            worst = max(worst, z)
            if z > 5 or abs(sx - sy) > 0.05 * max(sx, sy) + 1e-3:
                raise SystemExit(f"numpy sampler disagrees with sequence.sample_pool on {counts}")
    return f"numpy sampler checked against sequence.sample_pool ({draws} draws x 3 cases, worst |z| = {worst:.1f})"


# -- one run -------------------------------------------------------------------------------------
def grid(vmax: int) -> list:
    points = set(v for v in CHECKPOINTS if v <= vmax)
    v = 1000.0
    while v <= vmax:
        points.add(int(round(v)))
        v *= 1.05
    points.add(vmax)
    return sorted(points)


def run(job: tuple) -> dict:
    """One strategy, one seed: precision@10 at every grid point."""
    scenario, strategy, label, rules_map, seed, params_map = job
    params = Params(**params_map)
    rules = SequenceRules.from_mapping(rules_map)
    started = time.perf_counter()
    world = World(params, seed)
    n = world.n
    # the same streams for every strategy and rule set of a seed (common random numbers)
    rng = random.Random(f"votes-{seed}")
    select_rng = random.Random(f"select-{seed}")
    counts = [dict.fromkeys(scoring.ITEMS, 0) for _ in range(n)]
    matrix, sampler = None, None
    if strategy == "uniform":
        pass
    elif params.sampler == "numpy":
        matrix = np.zeros((n, len(COLUMNS)))
        sampler = NumpySampler(matrix, {pid: i for i, pid in enumerate(world.ids)})
    else:
        sampler = sequence.sample_pool
    votes = [0] * n
    seq_votes = [0] * n
    candidates = [Candidate(world.ids[i], world.authors[i], float(i), 0, 0, counts[i], world.keywords[i])
                  for i in range(n)]
    index = {pid: i for i, pid in enumerate(world.ids)}
    lower = [top_lower_bound(c) for c in counts]
    dirty: set = set()
    vmax = params.uniform_max_votes if strategy == "uniform" else params.max_votes
    points = grid(vmax)
    curve = []
    next_point = 0
    voters: list = []
    total = 0
    sessions = 0
    select_time = 0.0

    def evaluate():
        for i in dirty:
            lower[i] = top_lower_bound(counts[i])
        dirty.clear()
        emerged = heapq.nsmallest(TOP, range(n), key=lambda i: (-lower[i], i))
        return len(world.true_top.intersection(emerged)) / TOP

    while total < vmax:
        if voters and rng.random() < params.returning:
            voted = voters[rng.randrange(len(voters))]
        else:
            voted = set()
            voters.append(voted)
        if len(voted) >= n:
            continue
        sessions += 1
        if strategy == "sequence":
            pool = candidates if not voted else [candidates[i] for i in range(n) if i not in voted]
            t0 = time.perf_counter()
            served = [index[pid] for pid in sequence.select(pool, rules, select_rng, sampler=sampler)]
            select_time += time.perf_counter() - t0
        else:
            want = min(rules.size, n - len(voted))
            served, taken = [], set()
            while len(served) < want:
                i = rng.randrange(n)
                if i not in voted and i not in taken:
                    taken.add(i)
                    served.append(i)
        for i in served:
            key, quals = cast(world.rates[i], params, rng)
            c = counts[i]
            c[key] += 1
            for q in quals:
                c[q] += 1
            if matrix is not None:
                for item in (key,) + quals:
                    j = _COLUMN.get(item)
                    if j is not None:
                        matrix[i, j] += 1
            votes[i] += 1
            if strategy == "sequence":
                seq_votes[i] += 1
            voted.add(i)
            dirty.add(i)
            total += 1
            while next_point < len(points) and total >= points[next_point]:
                curve.append((points[next_point], evaluate()))
                next_point += 1
            if total >= vmax:
                break
        for i in served:
            candidates[i] = Candidate(world.ids[i], world.authors[i], float(i), votes[i], seq_votes[i], counts[i],
                                      world.keywords[i])
    elapsed = time.perf_counter() - started
    top_votes = sorted((votes[i] for i in world.true_top), reverse=True)
    return {"scenario": scenario, "strategy": strategy, "label": label, "seed": seed, "curve": curve,
            "seconds": elapsed, "sessions": sessions,
            "select_ms": 1000 * select_time / max(sessions, 1) if strategy == "sequence" else None,
            "true_top_votes": top_votes}


# -- report --------------------------------------------------------------------------------------
def medians(results: list, scenario: str, label: str) -> list:
    """[(V, median, min, max)] over the seeds of one scenario and label."""
    runs = [dict(r["curve"]) for r in results if r["scenario"] == scenario and r["label"] == label]
    common = sorted(set.intersection(*(set(c) for c in runs)))
    return [(v, statistics.median(c[v] for c in runs), min(c[v] for c in runs), max(c[v] for c in runs))
            for v in common]


def first_reach(curve: list, target: float = TARGET):
    return next((v for v, med, _, _ in curve if med >= target - 1e-12), None)


def stays_from(curve: list, target: float = TARGET):
    """The first grid point from which the median never drops below the target again."""
    last_below = None
    for j, (v, med, _, _) in enumerate(curve):
        if med < target - 1e-12:
            last_below = j
    if last_below is None:
        return curve[0][0] if curve else None
    return curve[last_below + 1][0] if last_below + 1 < len(curve) else None


def fmt_v(v) -> str:
    return "not reached" if v is None else f"{v:,}"


def _of(results, scenario, label, key):
    return [r[key] for r in results if r["scenario"] == scenario and r["label"] == label]


VERDICTS: list = []


def render_scenario(results: list, name: str, params: Params, labels: list) -> list:
    labels = [label for label in labels if _of(results, name, label, "seed")]
    curves = {label: medians(results, name, label) for label in labels}
    lines = [f"### Scenario \"{name}\": true rates ~ Beta({params.alpha:g}, {params.beta:g})", "",
             SCENARIO_TEXT.get(name, ""), "",
             "Median precision@10 over the seeds (min-max):", "",
             "| votes | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
    for v in CHECKPOINTS:
        if v > params.max_votes:
            continue
        cells = []
        for label in labels:
            row = next((r for r in curves[label] if r[0] == v), None)
            cells.append("-" if row is None else f"{row[1]:.2f} ({row[2]:.1f}-{row[3]:.1f})")
        lines.append(f"| {v:,} | " + " | ".join(cells) + " |")
    lines += ["", f"Votes at which the median first reaches precision@10 >= {TARGET} (5 % grid; uniform "
                  f"exposure is simulated up to {params.uniform_max_votes:,} votes, the sequence up to "
                  f"{params.max_votes:,}):", "",
              f"| strategy | first reaches {TARGET} | / uniform's | stays >= {TARGET} from | / uniform's | "
              f"target: first reach <= 0.5 x uniform's |", "|---|---|---|---|---|---|"]

    def ratio(v, base):
        if v is None:
            return "-"
        if base is None:
            return f"< {v / params.uniform_max_votes:.2f}"
        return f"{v / base:.2f}"

    base, base_stays = first_reach(curves[labels[0]]), stays_from(curves[labels[0]])
    for label in labels:
        v, stays = first_reach(curves[label]), stays_from(curves[label])
        if label == labels[0]:
            lines.append(f"| {label} | {fmt_v(v)} | 1 | {fmt_v(stays)} | 1 | |")
            continue
        verdict = "not met" if v is None else "met" if base is None or v <= 0.5 * base else "not met"
        reached = (f"{v:,} votes" if v is not None else f"not reached within {params.max_votes:,} votes")
        against = (f"uniform {base:,}" if base is not None
                   else f"uniform not reached within {params.uniform_max_votes:,}")
        VERDICTS.append(f"{name}, {label}: **{verdict}** ({reached}; {against}"
                        + (f"; ratio {ratio(v, base)})" if v is not None else ")"))
        lines.append(f"| {label} | {fmt_v(v)} | {ratio(v, base)} | {fmt_v(stays)} | {ratio(stays, base_stays)} "
                     f"| {verdict} |")
    top_votes = "; ".join(
        f"{label} {statistics.median(sum(t) for t in _of(results, name, label, 'true_top_votes')):,.0f}"
        for label in labels)
    timing = "; ".join(
        f"{label} {statistics.fmean(_of(results, name, label, 'seconds')):.0f} s"
        + (f" ({statistics.fmean(_of(results, name, label, 'select_ms')):.1f} ms per select)"
           if label != labels[0] else "") for label in labels)
    lines += ["", f"Votes received by the true top 10 at the end of the run (median): {top_votes}. "
                  f"Time per run: {timing}.", ""]
    return lines


def render(results: list, scenarios: dict, labels: list, seeds: list, wall: float, rules: dict, tuned: bool,
           check: str, quick: bool, load: float) -> str:
    any_params = next(iter(scenarios.values()))
    lines = [START, "## Emergence quality", "",
             f"_Generated by `bench/emergence.py{' --quick' if quick else ''}` on "
             f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; machine: "
             f"`{platform.platform()}`, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
             f"wall time {wall:.0f} s for the whole benchmark (load average at the end {load:.1f}: other "
             f"work on the machine slows the runs)._", "",
             f"A question with {any_params.proposals:,} proposals (from {any_params.authors_ratio:.0%} as many "
             f"authors; {any_params.keyword_prob:.0%} of them carry one of {any_params.keywords} keywords). "
             f"Voter sessions of 12 votes, {any_params.returning:.0%} of them by returning voters (never "
             f"served what they voted on). A vote is neutral with p = {any_params.neutral:g}, otherwise agree "
             f"with p = the proposal's true rate, the agree/disagree choice flipped with p = {any_params.flip:g}; "
             f"agrees are qualified likeIt 30 %, doable 20 %, platitudeAgree 3 %, disagrees noWay 30 %, "
             f"impossible 10 %, platitudeDisagree 3 %. All votes trusted. The emerged top 10 = the 10 highest "
             f"topScore lower bounds (`scoring`, trusted counts); precision@10 = its overlap with the true top "
             f"10 (by true rate). {len(seeds)} seeds, the same simulated question and vote noise for every "
             f"strategy of a seed.", "",
             "Strategies: **uniform** = 12 random proposals the voter has not voted on; **sequence** = "
             "`services.voting.sequence.select` (the service's pure selection function) with the rules below.",
             ""]
    ran = {r["label"] for r in results}
    tuned = tuned and "sequence, tuned" in ran
    for label, text in rules.items():
        if label in ran:
            lines.append(f"- {label}: `{text}`" + (
                f" (on {', '.join(sorted({r['scenario'] for r in results if r['label'] == label}))})"
                if label == "sequence, tuned" and len(scenarios) > 1 else ""))
    lines.append("")
    for name, params in scenarios.items():
        lines += render_scenario(results, name, params, labels)
    lines += ["### Reading", "",
              f"Target (the sequence first reaches precision@10 >= {TARGET} with at most half the votes "
              f"uniform exposure needs): " + "; ".join(VERDICTS) + ". Make.org's numbers stay the defaults "
              "of `SequenceRules`; the tuned rules are configuration.", "",
              READING if tuned else READING_DEFAULTS_ONLY, "",
              f"Thompson samples drawn by the {any_params.sampler} sampler; {check}.", "",
              "![precision@10 against votes](emergence.png)", "", END]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = text.find(START), text.find(END)
    if start != -1 and end != -1 and end > start:
        text = text[:start] + section + text[end + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def plot(results: list, scenarios: dict, labels: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scenarios), figsize=(6.4 * len(scenarios), 4.6), dpi=110, squeeze=False)
    for ax, (name, params) in zip(axes[0], scenarios.items()):
        labels_here = [label for label in labels if _of(results, name, label, "seed")]
        for label in labels_here:
            curve = medians(results, name, label)
            xs = [r[0] for r in curve]
            ax.plot(xs, [r[1] for r in curve], label=label, color=f"C{labels.index(label)}")
            ax.fill_between(xs, [r[2] for r in curve], [r[3] for r in curve], alpha=0.15,
                            color=f"C{labels.index(label)}")
        ax.axhline(TARGET, color="grey", linestyle="--", linewidth=1)
        ax.axvline(params.max_votes, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("votes")
        ax.set_ylabel("precision@10 (median, min-max band)")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{name}: {params.proposals:,} proposals, rates ~ Beta({params.alpha:g}, {params.beta:g})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def parse_rules(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        k, _, v = part.partition("=")
        if k.strip() not in SequenceRules.__dataclass_fields__:
            raise SystemExit(f"unknown SequenceRules field: {k}")
        out[k.strip()] = v.strip()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="~1 minute: scenario 'distinct' only, 500 proposals, up to 100,000 votes (uniform "
                         "1,000,000), 3 seeds")
    ap.add_argument("--scenario", choices=tuple(SCENARIOS) + ("all",), help="default: all (quick: distinct)")
    ap.add_argument("--alpha", type=float, help="custom scenario: true rates ~ Beta(alpha, beta)")
    ap.add_argument("--beta", type=float)
    ap.add_argument("--proposals", type=int)
    ap.add_argument("--seeds", type=int, help="number of seeds (default 5, quick 3)")
    ap.add_argument("--max-votes", type=int)
    ap.add_argument("--uniform-max-votes", type=int)
    ap.add_argument("--flip", type=float, default=Params.flip)
    ap.add_argument("--tuned", default=",".join(f"{k}={v}" for k, v in TUNED.items()),
                    help="SequenceRules overrides for the tuned row ('' = Make.org defaults only)")
    ap.add_argument("--tune-all", action="store_true",
                    help=f"run the tuned row on every scenario (default: only {', '.join(TUNED_SCENARIOS)})")
    ap.add_argument("--sampler", choices=("numpy", "pure"), default="numpy")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--png", default=str(ROOT / "docs" / "emergence.png"))
    ap.add_argument("--no-write", action="store_true", help="print the section, write nothing")
    ap.add_argument("--results", default=str(ROOT / "var" / "bench" / "emergence.json"),
                    help="raw results (JSON) of the last run, for --render-only")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the section and the plot from --results without simulating")
    args = ap.parse_args(argv)

    quick = args.quick
    common = dict(
        proposals=args.proposals or (500 if quick else Params.proposals),
        flip=args.flip,
        max_votes=args.max_votes or (100000 if quick else Params.max_votes),
        uniform_max_votes=args.uniform_max_votes or (1000000 if quick else Params.uniform_max_votes),
        sampler=args.sampler,
    )
    if args.alpha or args.beta:
        shapes = {"custom": (args.alpha or 1.0, args.beta or 1.0)}
    elif (args.scenario or ("distinct" if quick else "all")) == "all":
        shapes = dict(SCENARIOS)
    else:
        name = args.scenario or "distinct"
        shapes = {name: SCENARIOS[name]}
    scenarios = {name: Params(alpha=a, beta=b, **common) for name, (a, b) in shapes.items()}
    seeds = list(range(1, (args.seeds or (3 if quick else 5)) + 1))
    tuned = parse_rules(args.tuned)
    configs = {"uniform": None, "sequence, Make.org defaults": {}}
    if tuned:
        configs["sequence, tuned"] = tuned
    rules_text = {label: ", ".join(f"{k}={v}" for k, v in asdict(SequenceRules.from_mapping(r)).items())
                  for label, r in configs.items() if r is not None}
    if args.render_only:
        saved = json.loads(Path(args.results).read_text())
        results, wall, seeds, check = saved["results"], saved["wall"], saved["seeds"], saved["check"]
        load, rules_text = saved["load"], saved["rules"]
        scenarios = {name: Params(**p) for name, p in saved["scenarios"].items()}
        for r in results:
            r["curve"] = [tuple(point) for point in r["curve"]]
        return report(results, scenarios, configs, rules_text, seeds, wall, tuned, check, saved["quick"], load, args)
    check = check_sampler() if args.sampler == "numpy" else "the pure-Python sampler (the service's code path)"
    print(check, flush=True)

    jobs = [(name, "uniform" if r is None else "sequence", label, r or {}, seed, asdict(params))
            for name, params in scenarios.items() for label, r in configs.items() for seed in seeds
            if label != "sequence, tuned" or name in TUNED_SCENARIOS or name == "custom" or args.tune_all]
    jobs.sort(key=lambda j: j[1] == "uniform")  # the long ones first
    started = time.perf_counter()
    results = []
    with multiprocessing.get_context("fork").Pool(max(1, min(args.jobs, len(jobs)))) as pool:
        for r in pool.imap_unordered(run, jobs):
            results.append(r)
            print(f"  {r['scenario']:<9} {r['label']:<28} seed {r['seed']}: {r['seconds']:6.1f} s, "
                  f"{r['sessions']:,} sessions, final precision@10 {r['curve'][-1][1]:.2f}", flush=True)
    wall = time.perf_counter() - started
    load = os.getloadavg()[0]
    if not args.no_write:
        path = Path(args.results)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"results": results, "wall": wall, "seeds": seeds, "check": check,
                                    "quick": quick, "load": load, "rules": rules_text,
                                    "scenarios": {n: asdict(p) for n, p in scenarios.items()}}))
    return report(results, scenarios, configs, rules_text, seeds, wall, tuned, check, quick, load, args)


def report(results, scenarios, configs, rules_text, seeds, wall, tuned, check, quick, load, args) -> int:
    labels = list(configs)
    section = render(results, scenarios, labels, seeds, wall, rules_text, bool(tuned), check, quick, load)
    print(section)
    if not args.no_write:
        write_section(Path(args.out), section)
        plot(results, scenarios, labels, Path(args.png))
        print(f"wrote {args.out} and {args.png}; simulation wall time {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
