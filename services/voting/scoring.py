"""Make.org's scorer, as pure functions (no I/O).

For counts of one trust level:
- individual(k, s, N) = min((k + s) / (1 + N), 1), with smoothing s = 0.33 for vote keys
  and 0.01 for qualifications, k the count of a key or qualification, N the total votes;
- confidence(p, n): n' = n + 4, p' = (n p + 2) / n', c = 2 sqrt(p'(1 - p') / n');
- sums of scores combine their confidences as sqrt(c1² + c2² + ...), and a difference
  counts as a sum (the confidence of a - b is the same as that of a + b);
- topScore = agree + likeIt + doable - noWay - impossible - platitude, with platitude =
  platitudeAgree + platitudeDisagree;
- controversy = min(agree, disagree) + min(likeIt, noWay);
- rejection = disagree + noWay + impossible - likeIt - doable - platitude;
- zone, in order: consensus if agree >= 0.6 or (neutral < 0.4 and disagree < 0.15);
  rejection if disagree >= 0.6 or (neutral < 0.4 and agree < 0.15); limbo if
  neutral >= 0.4; otherwise controversy.
Thompson sampling draws each rate from Beta(k + s, N - k + 1).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

KEYS = ("agree", "disagree", "neutral")
QUALIFICATIONS = {
    "agree": ("likeIt", "doable", "platitudeAgree"),
    "disagree": ("noWay", "impossible", "platitudeDisagree"),
    "neutral": ("doNotCare", "doNotUnderstand", "noOpinion"),
}
ALL_QUALIFICATIONS = tuple(q for key in KEYS for q in QUALIFICATIONS[key])
ITEMS = KEYS + ALL_QUALIFICATIONS


@dataclass(frozen=True)
class ScoreRules:
    vote_smoothing: float = 0.33
    qualification_smoothing: float = 0.01
    consensus_agree: float = 0.6
    consensus_disagree: float = 0.15
    rejection_disagree: float = 0.6
    rejection_agree: float = 0.15
    limbo_neutral: float = 0.4

    @classmethod
    def from_mapping(cls, values: dict | None) -> "ScoreRules":
        values = values or {}
        return cls(**{k: float(v) for k, v in values.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Score:
    """A score with its 2-sigma confidence half-width."""

    value: float
    confidence: float

    @property
    def lower(self) -> float:
        return self.value - self.confidence

    @property
    def upper(self) -> float:
        return self.value + self.confidence

    def as_dict(self, digits: int = 6) -> dict:
        return {"score": round(self.value, digits), "lower_bound": round(self.lower, digits),
                "upper_bound": round(self.upper, digits), "confidence": round(self.confidence, digits)}


def individual(k: float, s: float, n: float) -> float:
    return min((k + s) / (1 + n), 1.0)


def confidence(p: float, n: float) -> float:
    n2 = n + 4
    p2 = (n * p + 2) / n2
    return 2 * math.sqrt(p2 * (1 - p2) / n2)


def _smoothing(item: str, rules: ScoreRules) -> float:
    return rules.vote_smoothing if item in KEYS else rules.qualification_smoothing


def rates(counts: dict, rules: ScoreRules = ScoreRules()) -> dict:
    """The smoothed rate of every key and qualification. ``counts`` maps items to counts;
    the total N is the sum of the three keys."""
    n = sum(counts.get(k, 0) for k in KEYS)
    return {item: individual(counts.get(item, 0), _smoothing(item, rules), n) for item in ITEMS}


def _combine(parts, n) -> Score:
    """Sum of (sign, rate) parts, confidences combined in quadrature."""
    value = sum(sign * p for sign, p in parts)
    conf = math.sqrt(sum(confidence(p, n) ** 2 for _, p in parts))
    return Score(value, conf)


def top_score(r: dict, n: int) -> Score:
    return _combine([(1, r["agree"]), (1, r["likeIt"]), (1, r["doable"]), (-1, r["noWay"]),
                     (-1, r["impossible"]), (-1, r["platitudeAgree"]), (-1, r["platitudeDisagree"])], n)


def controversy(r: dict, n: int) -> Score:
    return _combine([(1, min(r["agree"], r["disagree"])), (1, min(r["likeIt"], r["noWay"]))], n)


def rejection(r: dict, n: int) -> Score:
    return _combine([(1, r["disagree"]), (1, r["noWay"]), (1, r["impossible"]), (-1, r["likeIt"]),
                     (-1, r["doable"]), (-1, r["platitudeAgree"]), (-1, r["platitudeDisagree"])], n)


def zone(r: dict, rules: ScoreRules = ScoreRules()) -> str:
    agree, disagree, neutral = r["agree"], r["disagree"], r["neutral"]
    if agree >= rules.consensus_agree or (neutral < rules.limbo_neutral and disagree < rules.consensus_disagree):
        return "consensus"
    if disagree >= rules.rejection_disagree or (neutral < rules.limbo_neutral and agree < rules.rejection_agree):
        return "rejection"
    if neutral >= rules.limbo_neutral:
        return "limbo"
    return "controversy"


def scores(counts: dict, rules: ScoreRules = ScoreRules()) -> dict:
    """Everything the results page and the rankings need, from one trust level's counts."""
    n = sum(counts.get(k, 0) for k in KEYS)
    r = rates(counts, rules)
    return {
        "votes": n,
        "rates": r,
        "top_score": top_score(r, n),
        "controversy": controversy(r, n),
        "rejection": rejection(r, n),
        "zone": zone(r, rules),
    }


def sample_rates(counts: dict, rng: random.Random, rules: ScoreRules = ScoreRules()) -> dict:
    """Thompson sampling: each rate drawn from Beta(k + s, N - k + 1)."""
    n = sum(counts.get(k, 0) for k in KEYS)
    return {item: rng.betavariate(counts.get(item, 0) + _smoothing(item, rules), max(n - counts.get(item, 0), 0) + 1)
            for item in ITEMS}


def sampled_top_score(counts: dict, rng: random.Random, rules: ScoreRules = ScoreRules()) -> float:
    r = sample_rates(counts, rng, rules)
    return (r["agree"] + r["likeIt"] + r["doable"] - r["noWay"] - r["impossible"]
            - r["platitudeAgree"] - r["platitudeDisagree"])


def sampled_controversy(counts: dict, rng: random.Random, rules: ScoreRules = ScoreRules()) -> float:
    r = sample_rates(counts, rng, rules)
    return min(r["agree"], r["disagree"]) + min(r["likeIt"], r["noWay"])
