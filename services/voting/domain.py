"""Voting rules as pure functions: vote keys and qualifications, what a new vote changes
in the counts, vote trust keys, emergence and milestones. No I/O."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from services.voting.scoring import KEYS, QUALIFICATIONS, ScoreRules, scores

LEVELS = ("all", "trusted", "sequence")
ORIGINS = ("sequence", "listing")


class DomainError(Exception):
    pass


class ValidationFailed(DomainError):
    def __init__(self, fields: dict):
        super().__init__(fields)
        self.fields = fields


@dataclass(frozen=True)
class VotingRules:
    emergence_min_trusted_votes: int = 100
    emergence_min_top_score_lower_bound: float = 0.6
    vote_milestones: tuple = (100, 1000, 10000, 100000)
    question_target_fractions: tuple = (0.5, 1.0)
    score: ScoreRules = field(default_factory=ScoreRules)

    @classmethod
    def from_mapping(cls, values: dict | None) -> "VotingRules":
        values = dict(values or {})
        kwargs = {}
        if "emergence_min_trusted_votes" in values:
            kwargs["emergence_min_trusted_votes"] = int(values["emergence_min_trusted_votes"])
        if "emergence_min_top_score_lower_bound" in values:
            kwargs["emergence_min_top_score_lower_bound"] = float(values["emergence_min_top_score_lower_bound"])
        if "vote_milestones" in values:
            kwargs["vote_milestones"] = tuple(sorted(int(v) for v in values["vote_milestones"]))
        if "question_target_fractions" in values:
            kwargs["question_target_fractions"] = tuple(sorted(float(v) for v in values["question_target_fractions"]))
        if "score" in values:
            kwargs["score"] = ScoreRules.from_mapping(values["score"])
        return cls(**kwargs)


def validate_vote(key, qualifications) -> tuple[str, tuple]:
    """Check a vote; returns (key, sorted unique qualifications)."""
    if key not in KEYS:
        raise ValidationFailed({"key": f"must be one of {', '.join(KEYS)}"})
    if qualifications is None:
        qualifications = []
    if not isinstance(qualifications, (list, tuple)) or not all(isinstance(q, str) for q in qualifications):
        raise ValidationFailed({"qualifications": "must be a list of names"})
    allowed = QUALIFICATIONS[key]
    wrong = [q for q in qualifications if q not in allowed]
    if wrong:
        raise ValidationFailed({"qualifications": f"{', '.join(wrong)} cannot qualify a '{key}' vote "
                                                  f"(allowed: {', '.join(allowed)})"})
    return key, tuple(sorted(set(qualifications)))


@dataclass(frozen=True)
class Ballot:
    """A voter's stored position on one proposal."""

    key: str
    qualifications: tuple = ()
    trusted: bool = False
    sequence: bool = False

    def levels(self) -> tuple:
        return ("all",) + (("trusted",) if self.trusted else ()) + (("sequence",) if self.sequence else ())

    def items(self) -> tuple:
        return (self.key,) + tuple(self.qualifications)


def resolve_vote(previous: Ballot | None, key: str, qualifications: tuple, trusted: bool, sequence: bool):
    """What a vote request does, by Make.org's rules: the same key again keeps the vote
    (and its trust) and only sets the qualifications; another key replaces the vote and
    drops its qualifications. Returns (new_ballot, action) with action one of
    "cast", "changed", "qualified", "unchanged"."""
    if previous is None:
        return Ballot(key, qualifications, trusted, sequence), "cast"
    if previous.key == key:
        if tuple(qualifications) == tuple(previous.qualifications):
            return previous, "unchanged"
        return Ballot(key, tuple(qualifications), previous.trusted, previous.sequence), "qualified"
    return Ballot(key, tuple(qualifications), trusted, sequence), "changed"


def count_delta(previous: Ballot | None, new: Ballot | None) -> dict:
    """Per (level, item) increments that take the counts from ``previous`` to ``new``."""
    delta = {}
    for ballot, sign in ((previous, -1), (new, 1)):
        if ballot is None:
            continue
        for level in ballot.levels():
            for item in ballot.items():
                delta[(level, item)] = delta.get((level, item), 0) + sign
    return {k: v for k, v in delta.items() if v}


def merge_ballots(session_ballot: Ballot, account_ballot: Ballot | None) -> Ballot | None:
    """When an anonymous session logs in: its ballot moves to the account unless the
    account already voted on that proposal (the account's own vote wins; no double count).
    Returns the ballot to keep for the account, or None when the session one is dropped."""
    return None if account_ballot is not None else session_ballot


# -- trust -----------------------------------------------------------------------------------
def proposal_key(secret: str, proposal_id: str, session_id: str, origin: str = "sequence") -> str:
    """The key served with a proposal: a keyed hash of proposal, session and origin."""
    if origin not in ORIGINS:
        raise ValueError(origin)
    mac = hmac.new(secret.encode(), f"{proposal_id}|{session_id}|{origin}".encode(), hashlib.sha256)
    return f"{origin[0]}.{mac.hexdigest()[:32]}"


def check_proposal_key(secret: str, key: str | None, proposal_id: str, session_id: str) -> tuple[bool, bool]:
    """(trusted, from_sequence) for a vote carrying ``key``; untrusted when missing or forged."""
    if not key or not isinstance(key, str):
        return False, False
    given = key.encode("utf-8", "surrogatepass")  # compare bytes: any client string is safe
    for origin in ORIGINS:
        if hmac.compare_digest(given, proposal_key(secret, proposal_id, session_id, origin).encode()):
            return True, origin == "sequence"
    return False, False


# -- emergence and milestones ------------------------------------------------------------------
def has_emerged(trusted_counts: dict, rules: VotingRules) -> bool:
    """Consensus zone, enough trusted votes, topScore lower bound above the threshold."""
    s = scores(trusted_counts, rules.score)
    return (s["votes"] >= rules.emergence_min_trusted_votes
            and s["zone"] == "consensus"
            and s["top_score"].lower >= rules.emergence_min_top_score_lower_bound)


def crossed(before: int, after: int, thresholds) -> list:
    """Thresholds reached by going from ``before`` to ``after`` (ascending)."""
    return [t for t in thresholds if before < t <= after]


def reached(total: int, thresholds) -> list:
    """Thresholds at or below ``total`` (ascending). Question milestones are decided this
    way, not by ``crossed``: a question's total is the sum of sharded counters, and two
    transactions adding to different shards at once each read a total without the
    other's vote, so their sum can cross a threshold that neither of them saw crossed.
    The next vote that reads the total then records it (recording is idempotent)."""
    return [t for t in thresholds if t <= total]


def question_milestones(votes_target: int | None, rules: VotingRules) -> list:
    if not votes_target:
        return []
    return sorted({max(1, int(round(votes_target * f))) for f in rules.question_target_fractions})
