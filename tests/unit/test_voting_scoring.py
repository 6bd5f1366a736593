"""Unit tests of Make.org's scorer (services/voting/scoring.py) against hand-computed values.

Expected numbers are written out as the arithmetic of MISSION.md's formulas, not by calling
the code under test:
  individual(k, s, N) = min((k + s) / (1 + N), 1)   s = 0.33 (keys), 0.01 (qualifications)
  confidence(p, n): n' = n + 4, p' = (n p + 2) / n', c = 2 sqrt(p' (1 - p') / n')
  sums combine confidences as sqrt(c1^2 + c2^2 + ...)
"""
import math
import random
import statistics

import pytest

from services.voting import scoring
from services.voting.scoring import Score, ScoreRules

# The worked example: N = 6 + 3 + 1 = 10 (qualifications do not add to N).
EX = {"agree": 6, "disagree": 3, "neutral": 1, "likeIt": 2, "noWay": 1}
N = 10
AGREE = (6 + 0.33) / 11  # 0.575454...
DISAGREE = (3 + 0.33) / 11  # 0.302727...
NEUTRAL = (1 + 0.33) / 11  # 0.120909...
LIKE_IT = (2 + 0.01) / 11  # 0.182727...
NO_WAY = (1 + 0.01) / 11  # 0.091818...
ZERO_Q = 0.01 / 11  # every qualification with no count: 0.000909...


def c_hand(p, n):
    """confidence(p, n) written out from MISSION.md."""
    n2 = n + 4
    p2 = (n * p + 2) / n2
    return 2 * math.sqrt(p2 * (1 - p2) / n2)


# -- constants -----------------------------------------------------------------------------------
def test_keys_and_qualifications_are_make_org_s():
    assert scoring.KEYS == ("agree", "disagree", "neutral")
    assert scoring.QUALIFICATIONS == {
        "agree": ("likeIt", "doable", "platitudeAgree"),
        "disagree": ("noWay", "impossible", "platitudeDisagree"),
        "neutral": ("doNotCare", "doNotUnderstand", "noOpinion"),
    }
    assert len(scoring.ALL_QUALIFICATIONS) == 9
    assert scoring.ITEMS[:3] == scoring.KEYS and len(scoring.ITEMS) == 12


def test_default_rules():
    r = ScoreRules()
    assert (r.vote_smoothing, r.qualification_smoothing) == (0.33, 0.01)
    assert (r.consensus_agree, r.consensus_disagree) == (0.6, 0.15)
    assert (r.rejection_disagree, r.rejection_agree, r.limbo_neutral) == (0.6, 0.15, 0.4)


def test_rules_from_mapping_casts_and_ignores_unknown():
    r = ScoreRules.from_mapping({"vote_smoothing": "0.5", "limbo_neutral": 1, "bogus": 3})
    assert r.vote_smoothing == 0.5 and isinstance(r.vote_smoothing, float)
    assert r.limbo_neutral == 1.0 and isinstance(r.limbo_neutral, float)
    assert r.qualification_smoothing == 0.01
    assert ScoreRules.from_mapping(None) == ScoreRules()
    assert ScoreRules.from_mapping({}) == ScoreRules()


# -- individual and confidence -------------------------------------------------------------------
@pytest.mark.parametrize("k, s, n, expected", [
    (6, 0.33, 10, 6.33 / 11),
    (0, 0.33, 0, 0.33),
    (0, 0.01, 0, 0.01),
    (2, 0.01, 10, 2.01 / 11),
    (10, 0.33, 10, 10.33 / 11),  # 0.939..., not capped
])
def test_individual(k, s, n, expected):
    assert scoring.individual(k, s, n) == pytest.approx(min(expected, 1.0))


def test_individual_is_capped_at_one():
    assert scoring.individual(10, 0.33, 10) == pytest.approx(10.33 / 11)
    assert scoring.individual(11, 0.33, 10) == 1.0  # 11.33 / 11 > 1
    assert scoring.individual(5, 0.33, 3) == 1.0  # 5.33 / 4
    assert scoring.individual(1, 0.5, 0) == 1.0  # 1.5 / 1


def test_confidence_by_hand():
    # n = 0: n' = 4, p' = 2/4 = 0.5, c = 2 sqrt(0.25 / 4) = 0.5, whatever p
    assert scoring.confidence(0.0, 0) == pytest.approx(0.5)
    assert scoring.confidence(0.9, 0) == pytest.approx(0.5)
    # p = 0.6, n = 10: n' = 14, p' = (6 + 2) / 14 = 4/7, c = 2 sqrt((4/7)(3/7)/14) = 0.264520...
    assert scoring.confidence(0.6, 10) == pytest.approx(2 * math.sqrt((4 / 7) * (3 / 7) / 14))
    assert scoring.confidence(0.6, 10) == pytest.approx(0.2645203, abs=1e-6)
    # p = 1, n = 96: n' = 100, p' = 98/100, c = 2 sqrt(0.98 * 0.02 / 100) = 0.028
    assert scoring.confidence(1.0, 96) == pytest.approx(0.028)
    # p = 0, n = 96: p' = 2/100, same width
    assert scoring.confidence(0.0, 96) == pytest.approx(0.028)


def test_confidence_shrinks_with_votes():
    widths = [scoring.confidence(0.5, n) for n in (0, 10, 100, 1000, 10000)]
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] == pytest.approx(2 * math.sqrt(0.25 / 10004))


# -- rates ---------------------------------------------------------------------------------------
def test_rates_of_the_worked_example():
    r = scoring.rates(EX)
    assert r["agree"] == pytest.approx(AGREE)
    assert r["disagree"] == pytest.approx(DISAGREE)
    assert r["neutral"] == pytest.approx(NEUTRAL)
    assert r["likeIt"] == pytest.approx(LIKE_IT)
    assert r["noWay"] == pytest.approx(NO_WAY)
    for q in ("doable", "impossible", "platitudeAgree", "platitudeDisagree", "doNotCare", "doNotUnderstand",
              "noOpinion"):
        assert r[q] == pytest.approx(ZERO_Q), q
    assert set(r) == set(scoring.ITEMS)


def test_rates_total_counts_only_the_keys():
    # qualifications do not change N: likeIt = 50 with N = 1 gives a capped rate, agree 1.33/2
    r = scoring.rates({"agree": 1, "likeIt": 50})
    assert r["agree"] == pytest.approx(1.33 / 2)
    assert r["likeIt"] == 1.0


def test_rates_use_configured_smoothing():
    r = scoring.rates(EX, ScoreRules(vote_smoothing=1.0, qualification_smoothing=0.5))
    assert r["agree"] == pytest.approx(7 / 11)
    assert r["likeIt"] == pytest.approx(2.5 / 11)
    assert r["doable"] == pytest.approx(0.5 / 11)


def test_rates_of_nothing():
    r = scoring.rates({})
    assert r["agree"] == pytest.approx(0.33) and r["likeIt"] == pytest.approx(0.01)


# -- scores --------------------------------------------------------------------------------------
def test_top_score_of_the_worked_example():
    s = scoring.scores(EX)["top_score"]
    # agree + likeIt + doable - noWay - impossible - platitudeAgree - platitudeDisagree
    value = AGREE + LIKE_IT + ZERO_Q - NO_WAY - ZERO_Q - ZERO_Q - ZERO_Q
    assert value == pytest.approx((6.33 + 2.01 + 0.01 - 1.01 - 0.01 - 0.01 - 0.01) / 11)  # 7.31 / 11
    conf = math.sqrt(c_hand(AGREE, N) ** 2 + c_hand(LIKE_IT, N) ** 2 + c_hand(NO_WAY, N) ** 2
                     + 4 * c_hand(ZERO_Q, N) ** 2)
    assert s.value == pytest.approx(value)
    assert s.value == pytest.approx(0.6645455, abs=1e-6)
    assert s.confidence == pytest.approx(conf)
    assert s.lower == pytest.approx(value - conf)
    assert s.upper == pytest.approx(value + conf)


def test_controversy_of_the_worked_example():
    s = scoring.scores(EX)["controversy"]
    # min(agree, disagree) + min(likeIt, noWay) = disagree + noWay = 4.34 / 11
    assert s.value == pytest.approx(DISAGREE + NO_WAY)
    assert s.value == pytest.approx(4.34 / 11)
    conf = math.sqrt(c_hand(DISAGREE, N) ** 2 + c_hand(NO_WAY, N) ** 2)
    assert s.confidence == pytest.approx(conf)
    assert s.lower == pytest.approx(4.34 / 11 - conf)
    assert s.upper == pytest.approx(4.34 / 11 + conf)


def test_controversy_takes_the_smaller_of_each_pair():
    # agree < disagree and likeIt > noWay this time
    counts = {"agree": 2, "disagree": 7, "neutral": 1, "likeIt": 1, "noWay": 4}
    s = scoring.scores(counts)["controversy"]
    assert s.value == pytest.approx(2.33 / 11 + 1.01 / 11)
    assert s.confidence == pytest.approx(math.sqrt(c_hand(2.33 / 11, 10) ** 2 + c_hand(1.01 / 11, 10) ** 2))


def test_rejection_of_the_worked_example():
    s = scoring.scores(EX)["rejection"]
    # disagree + noWay + impossible - likeIt - doable - platitudeAgree - platitudeDisagree
    value = DISAGREE + NO_WAY + ZERO_Q - LIKE_IT - ZERO_Q - ZERO_Q - ZERO_Q
    assert value == pytest.approx(2.31 / 11)
    assert s.value == pytest.approx(value)
    assert s.value == pytest.approx(0.21)
    conf = math.sqrt(c_hand(DISAGREE, N) ** 2 + c_hand(NO_WAY, N) ** 2 + c_hand(LIKE_IT, N) ** 2
                     + 4 * c_hand(ZERO_Q, N) ** 2)
    assert s.confidence == pytest.approx(conf)
    assert s.lower == pytest.approx(value - conf)


def test_platitude_counts_both_qualifications_against_both_scores():
    base = {"agree": 5, "disagree": 5, "platitudeAgree": 0, "platitudeDisagree": 0}
    plat = {"agree": 5, "disagree": 5, "platitudeAgree": 2, "platitudeDisagree": 3}
    b, p = scoring.scores(base), scoring.scores(plat)
    # each of the two rates rises by k / 11 (k = 2 and 3): both scores lose 5 / 11
    assert b["top_score"].value - p["top_score"].value == pytest.approx(5 / 11)
    assert b["rejection"].value - p["rejection"].value == pytest.approx(5 / 11)


def test_neutral_qualifications_do_not_score():
    a = scoring.scores({"neutral": 4, "agree": 2})
    b = scoring.scores({"neutral": 4, "agree": 2, "doNotCare": 3, "noOpinion": 1, "doNotUnderstand": 2})
    for name in ("top_score", "controversy", "rejection"):
        assert a[name] == b[name]


def test_score_of_nothing():
    s = scoring.scores({})
    assert s["votes"] == 0
    # 0.33 + 0.01 + 0.01 - 4 * 0.01 with N = 0
    assert s["top_score"].value == pytest.approx(0.31)
    # every rate has confidence 0.5 at n = 0: sqrt(7) * 0.5
    assert s["top_score"].confidence == pytest.approx(0.5 * math.sqrt(7))
    assert s["controversy"].value == pytest.approx(0.33 + 0.01)
    assert s["controversy"].confidence == pytest.approx(0.5 * math.sqrt(2))


def test_scores_bundle():
    s = scoring.scores(EX)
    assert s["votes"] == 10
    assert s["rates"] == scoring.rates(EX)
    assert s["zone"] == "controversy"  # agree 0.575 < 0.6, disagree 0.30 >= 0.15, neutral 0.12 < 0.4
    assert isinstance(s["top_score"], Score)


def test_score_object():
    s = Score(0.5, 0.125)
    assert (s.lower, s.upper) == (0.375, 0.625)
    assert s.as_dict() == {"score": 0.5, "lower_bound": 0.375, "upper_bound": 0.625, "confidence": 0.125}
    assert Score(1 / 3, 0.1).as_dict(digits=3) == {"score": 0.333, "lower_bound": 0.233, "upper_bound": 0.433,
                                                   "confidence": 0.1}


def test_scores_from_the_public_functions_agree_with_scores():
    r = scoring.rates(EX)
    assert scoring.top_score(r, 10) == scoring.scores(EX)["top_score"]
    assert scoring.controversy(r, 10) == scoring.scores(EX)["controversy"]
    assert scoring.rejection(r, 10) == scoring.scores(EX)["rejection"]


# -- zones ---------------------------------------------------------------------------------------
def z(agree, disagree, neutral, rules=ScoreRules()):
    return scoring.zone({"agree": agree, "disagree": disagree, "neutral": neutral}, rules)


@pytest.mark.parametrize("agree, disagree, neutral, expected", [
    # consensus, first clause: agree >= 0.6, exactly at the boundary, whatever the rest
    (0.6, 0.4, 0.0, "consensus"),
    (0.6, 0.1, 0.5, "consensus"),
    (0.5999, 0.3, 0.1, "controversy"),
    # consensus, second clause: neutral < 0.4 and disagree < 0.15
    (0.5, 0.1499, 0.3999, "consensus"),
    (0.5, 0.15, 0.1, "controversy"),  # disagree exactly 0.15 is not < 0.15
    (0.5, 0.1, 0.4, "limbo"),  # neutral exactly 0.4 breaks the second clause, then limbo
    # consensus is tested first: this is also rejection by its second clause (agree < 0.15)
    (0.1, 0.1, 0.39, "consensus"),
    # and agree >= 0.6 wins over disagree >= 0.6
    (0.6, 0.6, 0.0, "consensus"),
    # rejection, first clause: disagree >= 0.6
    (0.3, 0.6, 0.1, "rejection"),
    (0.3, 0.5999, 0.1, "controversy"),
    (0.3, 0.6, 0.5, "rejection"),  # before limbo
    # rejection, second clause: neutral < 0.4 and agree < 0.15
    (0.1499, 0.5, 0.1, "rejection"),
    (0.15, 0.5, 0.1, "controversy"),  # agree exactly 0.15 is not < 0.15
    (0.1, 0.5, 0.4, "limbo"),  # neutral exactly 0.4 breaks it
    # limbo: neutral >= 0.4, exactly at the boundary
    (0.3, 0.3, 0.4, "limbo"),
    (0.3, 0.3, 0.3999, "controversy"),
    # controversy otherwise
    (0.45, 0.45, 0.1, "controversy"),
])
def test_zone_boundaries_and_order(agree, disagree, neutral, expected):
    assert z(agree, disagree, neutral) == expected


def test_zone_uses_configured_thresholds():
    rules = ScoreRules(consensus_agree=0.8, consensus_disagree=0.05, rejection_disagree=0.7,
                       rejection_agree=0.05, limbo_neutral=0.2)
    assert z(0.7, 0.2, 0.1, rules) == "controversy"  # consensus under the defaults
    assert z(0.8, 0.2, 0.1, rules) == "consensus"
    assert z(0.3, 0.6, 0.1, rules) == "controversy"  # rejection under the defaults
    assert z(0.3, 0.3, 0.2, rules) == "limbo"


def test_zone_from_counts():
    # 9 agree of 10: agree 9.33/11 = 0.848 -> consensus
    assert scoring.scores({"agree": 9, "disagree": 1})["zone"] == "consensus"
    # 8 disagree of 10: disagree 8.33/11 = 0.757 -> rejection
    assert scoring.scores({"agree": 1, "disagree": 8, "neutral": 1})["zone"] == "rejection"
    # 5 neutral of 10: neutral 5.33/11 = 0.485 -> limbo
    assert scoring.scores({"agree": 3, "disagree": 2, "neutral": 5})["zone"] == "limbo"
    # nothing: every key 0.33 -> controversy
    assert scoring.scores({})["zone"] == "controversy"


# -- Thompson sampling ---------------------------------------------------------------------------
def beta_mean(k, s, n):
    """Mean of Beta(k + s, N - k + 1) = (k + s) / (N + 1 + s)."""
    return (k + s) / (n + 1 + s)


def test_sample_rates_are_beta_with_the_documented_parameters():
    rng = random.Random(12345)
    draws = [scoring.sample_rates(EX, rng) for _ in range(8000)]
    expected = {
        "agree": beta_mean(6, 0.33, 10),  # 6.33 / 11.33 = 0.5587
        "disagree": beta_mean(3, 0.33, 10),  # 3.33 / 11.33
        "neutral": beta_mean(1, 0.33, 10),
        "likeIt": beta_mean(2, 0.01, 10),  # 2.01 / 11.01
        "noWay": beta_mean(1, 0.01, 10),
        "doable": beta_mean(0, 0.01, 10),  # 0.01 / 11.01
    }
    for item, mean in expected.items():
        got = statistics.fmean(d[item] for d in draws)
        assert got == pytest.approx(mean, abs=0.006), item
    # the variance of Beta(a, b) is a b / ((a + b)^2 (a + b + 1)); agree: a = 6.33, b = 5
    a, b = 6.33, 5
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert statistics.pvariance([d["agree"] for d in draws]) == pytest.approx(var, rel=0.05)
    assert all(0.0 <= d[i] <= 1.0 for d in draws[:200] for i in scoring.ITEMS)


def test_sampled_scores_center_on_the_beta_means():
    rng = random.Random(7)
    tops = [scoring.sampled_top_score(EX, rng) for _ in range(8000)]
    contros = [scoring.sampled_controversy(EX, rng) for _ in range(8000)]
    q0 = beta_mean(0, 0.01, 10)
    top = beta_mean(6, 0.33, 10) + beta_mean(2, 0.01, 10) + q0 - beta_mean(1, 0.01, 10) - 3 * q0
    assert statistics.fmean(tops) == pytest.approx(top, abs=0.01)
    # min(agree, disagree): agree ~ 0.56 and disagree ~ 0.29 overlap little, min(likeIt, noWay) more:
    # the mean lies a little below the sum of the smaller means
    upper = beta_mean(3, 0.33, 10) + beta_mean(1, 0.01, 10)
    assert upper - 0.06 < statistics.fmean(contros) < upper


def test_sampling_is_reproducible_with_a_seed():
    a = [scoring.sampled_top_score(EX, random.Random(3)) for _ in range(3)]
    b = [scoring.sampled_top_score(EX, random.Random(3)) for _ in range(3)]
    assert a == b
    rng = random.Random(3)
    assert len({scoring.sampled_top_score(EX, rng) for _ in range(10)}) == 10


def test_sampling_concentrates_with_votes():
    rng = random.Random(11)
    few = [scoring.sampled_top_score({"agree": 6, "disagree": 4}, rng) for _ in range(3000)]
    many = [scoring.sampled_top_score({"agree": 600, "disagree": 400}, rng) for _ in range(3000)]
    assert statistics.pstdev(many) < statistics.pstdev(few) / 5
    assert statistics.fmean(many) == pytest.approx(600.33 / 1001.33, abs=0.005)
