"""Make.org's voting sequence, as a pure function (no I/O, no framework).

A sequence serves ``size`` proposals (12) to a voter. The caller passes the proposals the
voter may see, with the ones they already voted on removed. ``select`` returns their ids:

1. **New** proposals are those with fewer than ``new_max_sequence_votes`` (10) sequence
   votes. ``n_new = round(size * new_ratio)`` (round(12 * 0.3) = 4) of them are taken,
   oldest first (``created_at``, then id), at most one per author.
2. **Tested** proposals are all the others with fewer than ``tested_max_votes`` (1,500)
   votes. They fill the remaining slots: ``round(slots * controversy_ratio)`` (round(8 *
   0.1) = 1) by controversy, the rest by top score. For each kind every tested proposal gets
   one Thompson sample of its score (each rate drawn from Beta(k + s, N - k + 1), see
   ``scoring``), and the proposals are ranked by sample, highest first. Then, repeatedly,
   among the first ``top_candidates`` (10) proposals of that ranking that are not chosen yet
   and share neither the author nor a keyword with a proposal already in the sequence, the
   one with the fewest votes is picked (ties: the higher sample). Top-score slots are
   picked first, then the controversy slots.
3. **Fill**: when the pools run short, the newest (``created_at`` descending, then id
   descending) candidates not chosen yet complete the sequence; the author and keyword
   rules are relaxed there.

The result holds no duplicate and at most ``size`` ids, ordered: new (oldest first),
tested (in pick order), fill (newest first). Rounding is half-up, like Make.org's
``math.round``, not Python's banker's rounding.

Cost, for n candidates: linear passes to split the pools; the new pool is a heap (O(n) to
build, O(log n) per proposal looked at); each ranking is one C-level sort of the samples,
read lazily, so picking scans only as deep as the author and keyword rules require; the
fill is a bounded ``heapq.nlargest``.
The dominant cost is the Thompson draw: one joint posterior draw per tested proposal of the
eight rates the two scores use (agree, disagree and the six agree / disagree
qualifications), from which both the top-score and the controversy samples are computed;
a kind with no slot is not sampled. That is one sample per proposal per kind, from exactly
the distribution of ``scoring.sampled_top_score`` / ``scoring.sampled_controversy``, for a
third of the random draws of calling both (each draws all twelve rates). No step compares
candidates pairwise. In pure Python the draw costs ~20 us per tested proposal (~20 ms for a
pool of 1,000); ``select`` takes a ``sampler`` argument so that a caller with numpy (the
emergence benchmark) can draw the same distributions vectorised (~2 ms for 1,000).

Make.org's numbers are the defaults of ``SequenceRules``; every one is configuration
(``SequenceRules.from_mapping``). The emergence benchmark (bench/emergence.py,
docs/benchmarks.md) measures how fast they surface the best proposals.
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, fields
from typing import Iterable, Mapping, Sequence

from services.voting.scoring import KEYS, ScoreRules


@dataclass(frozen=True)
class SequenceRules:
    size: int = 12
    new_ratio: float = 0.3  # share of "new" proposals
    new_max_sequence_votes: int = 10  # "new" = fewer than this many sequence votes
    tested_max_votes: int = 1500  # "tested" = fewer than this many votes
    controversy_ratio: float = 0.1  # share of tested slots chosen by controversy
    top_candidates: int = 10  # pick the least-voted among the top N sampled
    # candidate pools (see ``Pools``): how many proposals each holds, and how long a
    # process keeps a question's pools before reading them again
    new_pool: int = 100  # oldest "new" proposals
    tested_pool: int = 200  # tested, highest topScore upper confidence bound first
    controversy_pool: int = 50  # tested, highest controversy upper confidence bound first
    fill_pool: int = 50  # newest proposals
    pool_ttl: float = 2.0  # seconds

    def __post_init__(self):
        for name in ("size", "new_max_sequence_votes", "tested_max_votes", "new_pool", "tested_pool",
                     "controversy_pool", "fill_pool"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("new_ratio", "controversy_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.top_candidates < 1:
            raise ValueError("top_candidates must be >= 1")
        if self.pool_ttl < 0:
            raise ValueError("pool_ttl must be >= 0")

    @classmethod
    def from_mapping(cls, values: Mapping | None) -> "SequenceRules":
        """Rules from configuration: unknown keys are ignored, values cast to the field's
        type (ints from "12" or 12.0, floats from "0.3")."""
        values = values or {}
        kwargs = {}
        for f in fields(cls):
            if f.name in values and values[f.name] is not None:
                cast = type(f.default)
                kwargs[f.name] = int(float(values[f.name])) if cast is int else cast(values[f.name])
        return cls(**kwargs)

    def counts(self, new_available: int | None = None) -> tuple[int, int, int]:
        """(new, top, controversy) slot counts; ``new_available`` caps the new slots (the
        tested slots take what the new pool cannot provide)."""
        n_new = min(_round(self.size * self.new_ratio), self.size)
        if new_available is not None:
            n_new = min(n_new, new_available)
        slots = self.size - n_new
        n_controversy = min(_round(slots * self.controversy_ratio), slots)
        return n_new, slots - n_controversy, n_controversy


@dataclass(frozen=True)
class Candidate:
    id: str
    author_id: str
    created_at: float  # epoch seconds (or any sortable number)
    votes: int  # total trusted votes
    sequence_votes: int
    counts: Mapping[str, int]  # trusted counts per key / qualification (scoring.ITEMS)
    keywords: tuple = ()


def _round(x: float) -> int:
    """Half-up rounding (Make.org's math.round); 12 * 0.3 = 3.5999... -> 4, 0.5 -> 1."""
    return int(math.floor(x + 0.5 + 1e-9))


# -- Thompson sampling -------------------------------------------------------------------------
def sample_scores(counts: Mapping[str, int], rng: random.Random, score_rules: ScoreRules = ScoreRules(),
                  top: bool = True, controversy: bool = True) -> tuple[float | None, float | None]:
    """One Thompson draw of (topScore, controversy) for one proposal's trusted counts.

    Each rate is drawn from Beta(k + s, N - k + 1) exactly as ``scoring.sample_rates`` does
    (s = vote smoothing for keys, qualification smoothing otherwise, N = sum of the keys),
    but only the rates the requested scores use are drawn, once, and shared by both scores.
    A score not requested is returned as None."""
    if not (top or controversy):
        return None, None
    n = 0
    for key in KEYS:
        n += counts.get(key, 0)
    beta = rng.betavariate
    sv, sq = score_rules.vote_smoothing, score_rules.qualification_smoothing

    def draw(item, s):
        k = counts.get(item, 0)
        return beta(k + s, max(n - k, 0) + 1)

    agree = draw("agree", sv)
    like_it = draw("likeIt", sq)
    no_way = draw("noWay", sq)
    top_value = contro_value = None
    if top:
        top_value = (agree + like_it + draw("doable", sq) - no_way - draw("impossible", sq)
                     - draw("platitudeAgree", sq) - draw("platitudeDisagree", sq))
    if controversy:
        contro_value = min(agree, draw("disagree", sv)) + min(like_it, no_way)
    return top_value, contro_value


# -- selection ---------------------------------------------------------------------------------
class _Picked:
    """What is in the sequence so far: ids, authors and keywords."""

    __slots__ = ("ids", "authors", "keywords")

    def __init__(self):
        self.ids: set = set()
        self.authors: set = set()
        self.keywords: set = set()

    def allows(self, c: Candidate) -> bool:
        if c.id in self.ids or c.author_id in self.authors:
            return False
        return not any(k in self.keywords for k in c.keywords)

    def add(self, c: Candidate) -> None:
        self.ids.add(c.id)
        self.authors.add(c.author_id)
        self.keywords.update(c.keywords)


def _pick_ranked(pool: list, samples: list, count: int, window_size: int, picked: _Picked) -> list:
    """Pick ``count`` proposals from ``pool`` ranked by ``samples`` (highest first): each time
    the least-voted (ties: higher sample) of the first ``window_size`` allowed ones."""
    # a stable sort in C: equal samples keep the pool order. The ranking is then read lazily,
    # only as deep as the picks and the author / keyword skips need.
    ranking = iter(sorted(range(len(pool)), key=samples.__getitem__, reverse=True))
    window: list = []  # (rank position, index into pool), in rank order
    out = []
    position = 0
    while len(out) < count:
        window = [w for w in window if picked.allows(pool[w[1]])]
        while len(window) < window_size:
            i = next(ranking, None)
            if i is None:
                break
            if picked.allows(pool[i]):
                window.append((position, i))
            position += 1
        if not window:
            break
        best = min(range(len(window)), key=lambda j: (pool[window[j][1]].votes, window[j][0]))
        c = pool[window.pop(best)[1]]
        picked.add(c)
        out.append(c.id)
    return out


def sample_pool(tested: Sequence[Candidate], rng: random.Random, score_rules: ScoreRules = ScoreRules(),
                top: bool = True, controversy: bool = True) -> tuple[list | None, list | None]:
    """Thompson samples for a pool: (top-score samples, controversy samples), one per
    candidate in order, or None for a kind not requested. The default ``sampler`` of
    ``select``; a replacement must draw from the same distributions (``sample_scores``)."""
    tops = [] if top else None
    contros = [] if controversy else None
    for c in tested:
        t, k = sample_scores(c.counts, rng, score_rules, top, controversy)
        if top:
            tops.append(t)
        if controversy:
            contros.append(k)
    return tops, contros


def select(candidates: Sequence[Candidate], rules: SequenceRules, rng: random.Random,
           score_rules: ScoreRules = ScoreRules(), sampler=sample_pool) -> list[str]:
    """The ids of the proposals of one sequence (see the module docstring). ``candidates``
    must already exclude the proposals the voter voted on; a repeated id counts once.
    ``sampler`` (see ``sample_pool``) draws the Thompson samples of the tested pool; the
    benchmark swaps in a vectorised one drawing from the same distributions."""
    if rules.size <= 0 or not candidates:
        return []
    unique = list(candidates)
    if len({c.id for c in unique}) != len(unique):
        seen: set = set()
        unique = [c for c in unique if not (c.id in seen or seen.add(c.id))]

    new_max, tested_max = rules.new_max_sequence_votes, rules.tested_max_votes
    new_pool = [c for c in unique if c.sequence_votes < new_max]
    tested = [c for c in unique if c.sequence_votes >= new_max and c.votes < tested_max]

    picked = _Picked()
    n_new_target = rules.counts()[0]
    new_ids = []
    if n_new_target and new_pool:
        heap = [(c.created_at, c.id, i) for i, c in enumerate(new_pool)]
        heapq.heapify(heap)
        while heap and len(new_ids) < n_new_target:
            c = new_pool[heapq.heappop(heap)[2]]
            if c.author_id not in picked.authors:
                picked.add(c)
                new_ids.append(c.id)

    _, n_top, n_controversy = rules.counts(len(new_ids))
    tested_ids = []
    if tested and (n_top or n_controversy):
        top_samples, contro_samples = sampler(tested, rng, score_rules, n_top > 0, n_controversy > 0)
        if n_top:
            tested_ids += _pick_ranked(tested, top_samples, n_top, rules.top_candidates, picked)
        if n_controversy:
            tested_ids += _pick_ranked(tested, contro_samples, n_controversy, rules.top_candidates, picked)

    fill_ids = []
    missing = rules.size - len(new_ids) - len(tested_ids)
    if missing > 0:
        rest = (c for c in unique if c.id not in picked.ids)
        fill_ids = [c.id for c in heapq.nlargest(missing, rest, key=lambda c: (c.created_at, c.id))]
    return new_ids + tested_ids + fill_ids


# -- bounded candidate pools ------------------------------------------------------------------
@dataclass(frozen=True)
class Pools:
    """A question's candidates for the sequence, bounded whatever its size:

    - ``new``: the ``new_pool`` oldest proposals with fewer than ``new_max_sequence_votes``
      sequence votes (the new slots take the oldest, so they come from here);
    - ``top`` / ``controversy``: the ``tested_pool`` / ``controversy_pool`` tested
      proposals with the highest upper confidence bound (score + confidence) of topScore /
      controversy. Thompson sampling ranks by a draw from each proposal's posterior, and a
      draw rarely exceeds its upper bound, so the proposals that can reach the first
      ``top_candidates`` of the ranking are these (an approximation of sampling every tested
      proposal, exact when the question has no more tested proposals than the pool);
    - ``fill``: the ``fill_pool`` newest proposals (the fill takes the newest).

    ``full[name]`` is True when a pool hit its bound (there may be more such proposals)."""

    new: tuple = ()
    top: tuple = ()
    controversy: tuple = ()
    fill: tuple = ()
    full: Mapping = None


def from_pools(pools: Pools, voted, rules: SequenceRules) -> tuple[list, bool]:
    """The candidates of the pools the voter has not voted on (each once), and whether a
    full pool is left with fewer than ``size`` of them (then the caller should read the
    candidates without pools: the voter has seen most of what the pools hold)."""
    full = pools.full or {}
    seen: set = set()
    out = []
    short = False
    for name in ("new", "top", "controversy", "fill"):
        left = [c for c in getattr(pools, name) if c.id not in voted]
        if full.get(name) and len(left) < rules.size:
            short = True
        for c in left:
            if c.id not in seen:
                seen.add(c.id)
                out.append(c)
    return out, short


def candidate_from_counts(proposal_id: str, author_id: str, created_at: float, trusted: Mapping[str, int],
                          sequence_votes: int, keywords: Iterable[str] = ()) -> Candidate:
    """A candidate from one proposal's trusted counts (votes = sum of the three keys)."""
    return Candidate(proposal_id, author_id, created_at, sum(trusted.get(k, 0) for k in KEYS),
                     sequence_votes, trusted, tuple(keywords))
