"""Unit tests of the voting sequence (services/voting/sequence.py), Make.org's algorithm."""
import random
import statistics

import pytest

from services.voting import scoring, sequence
from services.voting.sequence import Candidate, SequenceRules

RULES = SequenceRules()


def counts(agree=0, disagree=0, neutral=0, **quals):
    return {"agree": agree, "disagree": disagree, "neutral": neutral, **quals}


def cand(pid, *, author=None, created=0.0, votes=None, seq=None, c=None, kw=()):
    """A candidate; by default a tested one (20 sequence votes) with a plain 50/50 record."""
    c = counts(10, 10) if c is None else c
    n = c.get("agree", 0) + c.get("disagree", 0) + c.get("neutral", 0)
    votes = n if votes is None else votes
    seq = votes if seq is None else seq
    return Candidate(pid, author or f"author-{pid}", created, votes, seq, c, tuple(kw))


def new(pid, created, author=None, kw=()):
    return cand(pid, author=author, created=created, votes=3, seq=3, c=counts(2, 1), kw=kw)


def pool_of_tested(n, prefix="t", created0=1000.0):
    return [cand(f"{prefix}{i}", created=created0 + i) for i in range(n)]


def run(cands, rules=RULES, seed=1, **kw):
    return sequence.select(cands, rules, random.Random(seed), **kw)


def assert_distinct(result):
    assert len(result) == len(set(result)), result


# -- rules ---------------------------------------------------------------------------------------
def test_defaults_are_make_org_s():
    assert (RULES.size, RULES.new_ratio, RULES.new_max_sequence_votes, RULES.tested_max_votes,
            RULES.controversy_ratio, RULES.top_candidates) == (12, 0.3, 10, 1500, 0.1, 10)


def test_slot_counts():
    # round(12 * 0.3) = round(3.6) = 4 new; 8 tested: round(8 * 0.1) = round(0.8) = 1 by controversy, 7 by top
    assert RULES.counts() == (4, 7, 1)
    # only 2 new available: 10 tested slots, round(1.0) = 1 by controversy
    assert RULES.counts(2) == (2, 9, 1)
    # no new: 12 tested, round(1.2) = 1
    assert RULES.counts(0) == (0, 11, 1)
    # half-up rounding, like Make.org: 10 * 0.25 = 2.5 -> 3 (Python's round gives 2)
    assert SequenceRules(size=10, new_ratio=0.25).counts()[0] == 3
    assert SequenceRules(size=10, new_ratio=0.0, controversy_ratio=0.05).counts() == (0, 9, 1)  # 0.5 -> 1
    assert SequenceRules(size=0).counts() == (0, 0, 0)
    assert SequenceRules(new_ratio=1.0, controversy_ratio=1.0).counts() == (12, 0, 0)


def test_rules_from_mapping_casts_and_ignores_unknown():
    r = SequenceRules.from_mapping({"size": "20", "new_ratio": "0.25", "tested_max_votes": 2000.0,
                                    "top_candidates": 5, "whatever": "x", "controversy_ratio": None})
    assert r == SequenceRules(size=20, new_ratio=0.25, tested_max_votes=2000, top_candidates=5)
    assert isinstance(r.size, int) and isinstance(r.tested_max_votes, int) and isinstance(r.new_ratio, float)
    assert SequenceRules.from_mapping(None) == RULES
    assert SequenceRules.from_mapping({}) == RULES


@pytest.mark.parametrize("bad", [{"size": -1}, {"new_ratio": 1.5}, {"controversy_ratio": -0.1},
                                 {"top_candidates": 0}, {"tested_max_votes": -5}])
def test_invalid_rules_are_refused(bad):
    with pytest.raises(ValueError):
        SequenceRules(**bad)
    with pytest.raises(ValueError):
        SequenceRules.from_mapping(bad)


# -- size and pools ------------------------------------------------------------------------------
def test_empty_gives_nothing():
    assert run([]) == []
    assert run(pool_of_tested(30), SequenceRules(size=0)) == []


def test_twelve_when_enough_candidates():
    cands = [new(f"n{i}", i) for i in range(10)] + pool_of_tested(40)
    for seed in range(20):
        result = run(cands, seed=seed)
        assert len(result) == 12
        assert_distinct(result)
        assert set(result) <= {c.id for c in cands}


def test_exactly_four_new_the_oldest_first():
    cands = [new(f"n{i}", created=100 - i) for i in range(10)] + pool_of_tested(40)  # n9 is the oldest
    result = run(cands)
    assert result[:4] == ["n9", "n8", "n7", "n6"]
    assert not any(pid.startswith("n") for pid in result[4:])
    assert len(result) == 12


def test_new_means_fewer_than_ten_sequence_votes():
    nine = cand("nine", created=1, votes=500, seq=9)  # many votes, but only 9 in the sequence: new
    ten = cand("ten", created=0, votes=10, seq=10)  # older, but tested
    pools = []

    def sampler(tested, rng, score_rules, top, controversy):
        pools.append({c.id for c in tested})
        return sequence.sample_pool(tested, rng, score_rules, top, controversy)

    result = run([nine, ten] + pool_of_tested(20), sampler=sampler)
    assert result[0] == "nine"
    assert "ten" in pools[0] and "nine" not in pools[0]


def test_new_ones_at_most_one_per_author():
    cands = [new("a-old", 1, author="A"), new("a-older", 0, author="A"), new("b", 2, author="B"),
             new("a-third", 3, author="A"), new("c", 4, author="C"), new("d", 5, author="D"),
             new("e", 6, author="E")] + pool_of_tested(30)
    result = run(cands)
    assert result[:4] == ["a-older", "b", "c", "d"]  # a-old and a-third skipped: same author as a-older


def test_new_pool_short_gives_its_slots_to_tested():
    cands = [new("n1", 1), new("n2", 2)] + pool_of_tested(30)
    result = run(cands)
    assert result[:2] == ["n1", "n2"]
    assert len(result) == 12 and all(pid.startswith("t") for pid in result[2:])


def test_new_ratio_zero_serves_no_new_when_tested_suffice():
    cands = [new(f"n{i}", i) for i in range(5)] + pool_of_tested(30)
    result = run(cands, SequenceRules(new_ratio=0.0))
    assert len(result) == 12 and all(pid.startswith("t") for pid in result)


def test_fewer_candidates_than_size_gives_all_of_them():
    cands = [new("n1", 1), new("n2", 2, author="author-n1")] + pool_of_tested(3) + [
        cand("big", votes=5000, created=50)]
    result = run(cands)
    assert sorted(result) == sorted(c.id for c in cands)
    assert_distinct(result)


def test_duplicated_candidates_count_once():
    cands = pool_of_tested(5) * 3 + [new("n1", 1)] * 2
    result = run(cands)
    assert sorted(result) == sorted(["n1"] + [f"t{i}" for i in range(5)])


def test_duplicated_candidates_count_once_in_the_fill():
    cands = [cand("x", votes=2000)] * 3 + [cand("y", votes=2000)]  # both over the cap: fill only
    assert run(cands) == ["y", "x"]


def test_never_a_proposal_twice_over_many_random_pools():
    rng = random.Random(99)
    for trial in range(200):
        size = rng.randint(0, 40)
        cands = []
        for i in range(size):
            n = rng.randint(0, 3000)
            a = rng.randint(0, n)
            cands.append(Candidate(f"p{i}", f"a{rng.randint(0, 8)}", rng.random(), n, rng.randint(0, n),
                                   counts(a, n - a, likeIt=a // 3, noWay=(n - a) // 4),
                                   tuple(f"k{rng.randint(0, 5)}" for _ in range(rng.randint(0, 2)))))
        rules = SequenceRules(size=rng.randint(0, 15), top_candidates=rng.randint(1, 12))
        result = sequence.select(cands, rules, random.Random(trial))
        assert_distinct(result)
        assert len(result) == min(rules.size, len(cands))
        assert set(result) <= {c.id for c in cands}


# -- tested picks --------------------------------------------------------------------------------
def strong(pid, agree, votes, *, author=None, kw=(), created=0.0):
    """A tested candidate with a precise record (10,000 counted votes, so its Thompson samples barely
    move) and an independent ``votes`` figure (the one the pick compares)."""
    return Candidate(pid, author or f"author-{pid}", created, votes, 100,
                     counts(agree, 10000 - agree), tuple(kw))


ONLY_TOP = SequenceRules(new_ratio=0.0, controversy_ratio=0.0)


def test_picks_the_least_voted_among_the_top_candidates():
    cands = [strong("A", 9500, 100), strong("B", 8500, 90), strong("C", 7500, 50), strong("D", 6500, 200),
             strong("E", 5500, 10), strong("F", 4500, 300)]
    rules = SequenceRules(size=4, new_ratio=0.0, controversy_ratio=0.0, top_candidates=3)
    # window [A B C] -> C (50); [A B D] -> B (90); [A D E] -> E (10); [A D F] -> A (100)
    for seed in range(10):
        assert run(cands, rules, seed=seed) == ["C", "B", "E", "A"]


def test_ties_on_votes_go_to_the_higher_sample():
    cands = [strong("low", 3000, 7), strong("high", 9000, 7), strong("mid", 6000, 7)]
    assert run(cands, SequenceRules(size=3, new_ratio=0.0, controversy_ratio=0.0)) == ["high", "mid", "low"]


def test_top_candidates_one_is_pure_thompson_ranking():
    cands = [strong(f"p{a}", a * 100, 1000 - a) for a in range(50, 100, 4)]
    rules = SequenceRules(size=5, new_ratio=0.0, controversy_ratio=0.0, top_candidates=1)
    assert run(cands, rules) == ["p98", "p94", "p90", "p86", "p82"]


def test_tested_picks_skip_a_shared_author():
    cands = [strong("best", 9900, 5, author="X"), strong("second", 9800, 5, author="X"),
             strong("third", 9000, 5, author="Y"), strong("fourth", 8000, 5, author="Z")]
    rules = SequenceRules(size=3, new_ratio=0.0, controversy_ratio=0.0, top_candidates=1)
    assert run(cands, rules) == ["best", "third", "fourth"]


def test_tested_picks_skip_a_shared_keyword():
    cands = [strong("best", 9900, 5, kw=("health", "tax")), strong("second", 9800, 5, kw=("tax",)),
             strong("third", 9000, 5, kw=("school",)), strong("fourth", 8000, 5, kw=("school", "bus")),
             strong("fifth", 7000, 5)]
    rules = SequenceRules(size=3, new_ratio=0.0, controversy_ratio=0.0, top_candidates=1)
    assert run(cands, rules) == ["best", "third", "fifth"]


def test_new_picks_block_their_author_and_keywords_for_tested_picks():
    cands = [new("n", 0, author="X", kw=("tax",)),
             strong("same-author", 9900, 5, author="X"), strong("same-keyword", 9800, 5, kw=("tax",)),
             strong("free", 9000, 5), strong("free2", 8000, 5)]
    rules = SequenceRules(size=3, new_ratio=0.34, controversy_ratio=0.0, top_candidates=1)
    assert run(cands, rules) == ["n", "free", "free2"]


def test_author_and_keyword_uniqueness_over_random_pools():
    rng = random.Random(5)
    for trial in range(50):
        cands = [new(f"n{i}", i, author=f"a{rng.randint(0, 30)}") for i in range(8)]
        cands += [Candidate(f"t{i}", f"a{rng.randint(0, 30)}", 100 + i, rng.randint(10, 1400), 50,
                            counts(rng.randint(0, 40), rng.randint(0, 40), likeIt=rng.randint(0, 5)),
                            tuple({f"k{rng.randint(0, 60)}" for _ in range(rng.randint(0, 2))}))
                  for i in range(200)]
        result = sequence.select(cands, RULES, random.Random(trial))
        assert len(result) == 12  # pools are large enough: no fill
        by_id = {c.id: c for c in cands}
        picked = [by_id[pid] for pid in result]
        assert len({c.author_id for c in picked}) == 12
        keywords = [k for c in picked for k in c.keywords]
        assert len(keywords) == len(set(keywords))
        assert sum(pid.startswith("n") for pid in result) == 4


def test_one_controversy_slot_out_of_eight():
    great = [Candidate(f"g{i}", f"ga{i}", 0, 1000, 1000, counts(1000, 0, likeIt=500, doable=500))
             for i in range(10)]
    split = [Candidate(f"s{i}", f"sa{i}", 0, 1000, 1000, counts(500, 500, likeIt=250, noWay=250))
             for i in range(3)]
    news = [new(f"n{i}", i) for i in range(4)]
    for seed in range(10):
        result = run(news + great + split, seed=seed)
        assert result[:4] == ["n0", "n1", "n2", "n3"]
        # 7 top-score picks (all great), then 1 controversy pick (a split one)
        assert [pid[0] for pid in result[4:]] == ["g"] * 7 + ["s"]
    two = SequenceRules(controversy_ratio=0.25)  # round(8 * 0.25) = 2
    assert [pid[0] for pid in run(news + great + split, two)[4:]] == ["g"] * 6 + ["s", "s"]
    none = SequenceRules(controversy_ratio=0.0)
    assert [pid[0] for pid in run(news + great + split, none)[4:]] == ["g"] * 8


def test_proposals_at_the_vote_cap_only_come_through_the_fill():
    capped = [Candidate(f"cap{i}", f"ca{i}", 10_000 + i, 1500 + i, 1500, counts(1500, 0, likeIt=1500, doable=1500))
              for i in range(5)]
    cands = capped + [new(f"n{i}", i) for i in range(6)] + pool_of_tested(20)
    for seed in range(10):
        assert not any(pid.startswith("cap") for pid in run(cands, seed=seed))
    # pools short: the capped ones (the newest here) fill, after everything else
    short = capped + [new("n0", 0)] + pool_of_tested(3)
    result = run(short)
    assert result[0] == "n0"
    assert sorted(result[1:4]) == ["t0", "t1", "t2"]
    assert result[4:] == ["cap4", "cap3", "cap2", "cap1", "cap0"]


def test_tested_max_votes_is_configurable():
    cands = [cand("a", votes=100, c=counts(100, 0)), cand("b", votes=10, c=counts(0, 10))]
    result = run(cands, SequenceRules(size=1, new_ratio=0.0, controversy_ratio=0.0, tested_max_votes=50))
    assert result == ["b"]


# -- fill ----------------------------------------------------------------------------------------
def test_fill_with_the_newest_and_relaxed_rules():
    # everything is by one author: new gives 1, tested 1 (author rule), the fill the 10 newest of the rest
    cands = [new(f"n{i}", created=i, author="X") for i in range(5)]
    cands += [cand(f"t{i}", author="X", created=100 + i) for i in range(20)]
    result = run(cands, SequenceRules(top_candidates=1))
    assert result[0] == "n0"
    assert result[1].startswith("t")
    rest = sorted((c for c in cands if c.id not in result[:2]), key=lambda c: -c.created_at)
    assert result[2:] == [c.id for c in rest[:10]]


def test_fill_order_is_newest_first_with_ties_by_id():
    cands = [cand(f"x{i}", votes=2000, created=float(i // 2)) for i in range(6)]  # all over the cap
    assert run(cands, SequenceRules(size=4)) == ["x5", "x4", "x3", "x2"]


def test_output_order_new_then_tested_then_fill():
    cands = [new("n-late", 5), new("n-early", 1), cand("t-only", created=0, author="T", votes=15),
             cand("t-same-author", created=50, author="T"), cand("old-capped", votes=9999, created=-1)]
    result = run(cands, SequenceRules(size=5))
    assert result == ["n-early", "n-late", "t-only", "t-same-author", "old-capped"]


# -- randomness, determinism and cost ------------------------------------------------------------
def test_deterministic_with_a_seed():
    cands = [new(f"n{i}", i) for i in range(8)] + [
        cand(f"t{i}", c=counts(10 + i, 30 - i, likeIt=i % 4), created=100 + i) for i in range(30)]
    assert run(cands, seed=42) == run(cands, seed=42)
    assert len({tuple(run(cands, seed=s)) for s in range(30)}) > 1


def test_thompson_sampling_favours_but_does_not_only_serve_the_best():
    good = [cand(f"g{i}", c=counts(18, 2, likeIt=6), created=i) for i in range(10)]
    poor = [cand(f"p{i}", c=counts(3, 17, noWay=6), created=100 + i) for i in range(10)]
    shown = {c.id: 0 for c in good + poor}
    rules = SequenceRules(size=4, new_ratio=0.0, controversy_ratio=0.0)
    for seed in range(300):
        for pid in run(good + poor, rules, seed=seed):
            shown[pid] += 1
    good_shown = sum(v for k, v in shown.items() if k[0] == "g")
    poor_shown = sum(v for k, v in shown.items() if k[0] == "p")
    assert good_shown > 5 * poor_shown
    assert all(shown[f"g{i}"] > 20 for i in range(10))  # the sampling spreads exposure among the good ones


def test_one_sample_per_tested_candidate_per_call():
    calls = []

    def sampler(tested, rng, score_rules, top, controversy):
        calls.append((len(tested), top, controversy))
        return sequence.sample_pool(tested, rng, score_rules, top, controversy)

    cands = [new(f"n{i}", i) for i in range(6)] + pool_of_tested(500) + [cand("cap", votes=1500)]
    result = run(cands, sampler=sampler)
    assert len(result) == 12
    assert calls == [(500, True, True)]  # only the tested pool, once, both kinds
    calls.clear()
    run(cands, SequenceRules(controversy_ratio=0.0), sampler=sampler)
    assert calls == [(500, True, False)]  # a kind with no slot is not sampled
    calls.clear()
    run([new("n", 0)] + [cand("cap", votes=1500)], sampler=sampler)
    assert calls == []  # no tested pool, no sampling


def test_sample_scores_draws_from_the_scorer_s_distributions():
    c = counts(6, 3, 1, likeIt=2, noWay=1)
    rng = random.Random(3)
    ours = [sequence.sample_scores(c, rng) for _ in range(8000)]
    theirs_top = [scoring.sampled_top_score(c, rng) for _ in range(8000)]
    theirs_contro = [scoring.sampled_controversy(c, rng) for _ in range(8000)]
    # standard error of a difference of two means of 8,000 draws (sd ~0.2): ~0.003
    assert statistics.fmean(t for t, _ in ours) == pytest.approx(statistics.fmean(theirs_top), abs=0.012)
    assert statistics.pstdev(t for t, _ in ours) == pytest.approx(statistics.pstdev(theirs_top), rel=0.05)
    assert statistics.fmean(k for _, k in ours) == pytest.approx(statistics.fmean(theirs_contro), abs=0.012)
    assert statistics.pstdev(k for _, k in ours) == pytest.approx(statistics.pstdev(theirs_contro), rel=0.05)
    # by hand: the mean of Beta(k + s, N - k + 1) is (k + s) / (N + 1 + s)
    q0 = 0.01 / 11.01
    expected = 6.33 / 11.33 + 2.01 / 11.01 + q0 - 1.01 / 11.01 - 3 * q0
    assert statistics.fmean(t for t, _ in ours) == pytest.approx(expected, abs=0.01)


def test_sample_scores_can_skip_a_kind():
    assert sequence.sample_scores(counts(1, 1), random.Random(1), top=False, controversy=False) == (None, None)
    t, k = sequence.sample_scores(counts(1, 1), random.Random(1), top=False)
    assert t is None and isinstance(k, float)
    t, k = sequence.sample_scores(counts(1, 1), random.Random(1), controversy=False)
    assert k is None and isinstance(t, float)


def test_smoothing_comes_from_the_score_rules():
    rng = random.Random(8)
    heavy = scoring.ScoreRules(vote_smoothing=50.0)
    tops = [sequence.sample_scores(counts(0, 0), rng, heavy)[0] for _ in range(4000)]
    # agree ~ Beta(0 + 50, 0 - 0 + 1): mean 50/51; the qualifications stay ~Beta(0.01, 1), mean 0.01/1.01
    assert statistics.fmean(tops) == pytest.approx(50 / 51 + 2 * 0.01 / 1.01 - 4 * 0.01 / 1.01, abs=0.02)


def test_candidate_from_counts():
    c = sequence.candidate_from_counts("p", "a", 3.0, counts(4, 2, 1, likeIt=3), 5, ["x"])
    assert c == Candidate("p", "a", 3.0, 7, 5, counts(4, 2, 1, likeIt=3), ("x",))
