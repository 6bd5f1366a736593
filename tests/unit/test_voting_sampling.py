"""The vectorised Thompson sampler (services/voting/sampling.py) draws from the same laws
as the pure-Python reference (sequence.sample_pool), and is a drop-in ``sampler``."""
import math
import random
import statistics

import pytest

from services.voting import sequence
from services.voting.sampling import COLUMNS, VectorSampler
from services.voting.scoring import ScoreRules
from services.voting.sequence import Candidate, SequenceRules

CASES = [
    {"agree": 0, "disagree": 0, "neutral": 0},
    {"agree": 6, "disagree": 3, "neutral": 1, "likeIt": 2, "noWay": 1},
    {"agree": 120, "disagree": 60, "neutral": 20, "likeIt": 40, "doable": 25, "noWay": 18,
     "impossible": 5, "platitudeAgree": 3, "platitudeDisagree": 1},
    {"agree": 3, "disagree": 40},  # no neutral key at all
]


def cand(pid, counts, votes=30):
    return Candidate(pid, f"author-{pid}", 0.0, votes, votes, counts)


@pytest.mark.parametrize("counts", CASES)
@pytest.mark.parametrize("rules", [ScoreRules(), ScoreRules(vote_smoothing=2.0, qualification_smoothing=0.1)])
def test_same_law_as_the_pure_sampler(counts, rules):
    draws = 20000
    pool = [cand("x", counts)] * draws
    fast = VectorSampler()(pool, random.Random(1), rules)
    pure = sequence.sample_pool(pool, random.Random(2), rules)
    for x, y in zip(fast, pure):
        sx, sy = statistics.pstdev(x), statistics.pstdev(y)
        z = abs(statistics.fmean(x) - statistics.fmean(y)) / math.sqrt((sx * sx + sy * sy) / draws)
        assert z < 5, (counts, z)
        assert abs(sx - sy) <= 0.05 * max(sx, sy) + 1e-3, (counts, sx, sy)


def test_smoothing_matters():
    """A sampler ignoring the rules' smoothing would pass the law test with the default
    rules only; with a large smoothing the empty record's top score mean moves."""
    pool = [cand("x", CASES[0])] * 5000
    default = statistics.fmean(VectorSampler()(pool, random.Random(1), ScoreRules())[0])
    smoothed = statistics.fmean(VectorSampler()(pool, random.Random(1),
                                                ScoreRules(vote_smoothing=50.0))[0])
    assert smoothed > default + 0.3


def test_one_sample_per_candidate_in_order():
    loved, hated = cand("a", {"agree": 900, "disagree": 10, "likeIt": 500}), cand("b", {"agree": 10, "disagree": 900})
    tops, contros = VectorSampler()([loved, hated, loved], random.Random(3), ScoreRules())
    assert len(tops) == len(contros) == 3
    assert tops[0] > tops[1] and tops[2] > tops[1]
    assert all(isinstance(v, float) for v in tops + contros)


def test_kinds_not_requested_are_none():
    pool = [cand("a", CASES[1])]
    sampler = VectorSampler()
    assert sampler(pool, random.Random(1), ScoreRules(), top=False)[0] is None
    assert sampler(pool, random.Random(1), ScoreRules(), controversy=False)[1] is None
    assert sampler(pool, random.Random(1), ScoreRules(), top=False, controversy=False) == (None, None)
    assert sampler([], random.Random(1), ScoreRules()) == ([], [])


def test_seeded_rng_reproduces_the_draws():
    pool = [cand(str(i), CASES[i % len(CASES)]) for i in range(50)]
    a = VectorSampler()(pool, random.Random(7), ScoreRules())
    b = VectorSampler()(pool, random.Random(7), ScoreRules())
    c = VectorSampler()(pool, random.Random(8), ScoreRules())
    assert a == b and a != c


def test_rows_follow_the_columns():
    rows = VectorSampler().rows([cand("a", {"agree": 1, "neutral": 4, "platitudeDisagree": 2})])
    assert rows.shape == (1, len(COLUMNS))
    assert rows[0, COLUMNS.index("agree")] == 1 and rows[0, COLUMNS.index("neutral")] == 4
    assert rows[0, COLUMNS.index("platitudeDisagree")] == 2 and rows.sum() == 7


def test_select_with_the_vector_sampler():
    """A drop-in sampler: a full sequence of distinct ids, the clear favourite (as many votes
    as the others, a far better record) nearly always in it."""
    pool = [cand(f"t{i}", {"agree": 10, "disagree": 10}, votes=20) for i in range(200)]
    pool.append(cand("star", {"agree": 19, "disagree": 1, "likeIt": 15}, votes=20))
    picked = [sequence.select(pool, SequenceRules(), random.Random(seed), sampler=VectorSampler())
              for seed in range(20)]
    assert all(len(p) == 12 and len(set(p)) == 12 for p in picked)
    assert sum("star" in p for p in picked) >= 18
