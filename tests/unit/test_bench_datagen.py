"""The benchmark and demo data generators (bench/datagen.py, bench/scale.py): texts the
services accept, votes whose counts and scores are exactly what the voting service would
have computed, and load schedules without duplicate votes."""
import random
from collections import Counter

import pytest

from bench import datagen, scale
from services.proposals import domain as proposals_domain
from services.voting import domain as voting_domain, scoring


@pytest.mark.parametrize("lang", ["fr", "de", "en"])
def test_proposal_texts_are_valid_and_varied(lang):
    rng = random.Random(1)
    rules = proposals_domain.ProposalRules()
    texts = [datagen.proposal_text(lang, rng, serial=i if i % 2 else None) for i in range(2000)]
    for text in texts:
        assert proposals_domain.validate_content(text, rules, lang) == text
    assert len(set(texts)) > 1900
    terms = datagen.SEARCH_TERMS[lang]
    assert all(any(term.lower() in t.lower() for t in texts) for term in terms)  # searches find something


def test_counts_of_equals_the_services_own_deltas():
    rng = random.Random(2)
    votes = []
    expected = {level: Counter() for level in datagen.LEVELS}
    for _ in range(500):
        key, quals = datagen.cast_vote(0.7, rng)
        trusted = rng.random() < 0.9
        seq = trusted and rng.random() < 0.8
        votes.append((key, quals, trusted, seq))
        for (level, item), n in voting_domain.count_delta(None, voting_domain.Ballot(key, quals, trusted, seq)).items():
            expected[level][item] += n
    counts = datagen.counts_of(votes)
    for level in datagen.LEVELS:
        assert {k: v for k, v in counts[level].items() if v} == dict(expected[level])
    cols = datagen.score_columns(counts)
    s = scoring.scores(counts["trusted"])
    assert cols["votes_trusted"] == s["votes"] and cols["top_score_lb"] == s["top_score"].lower
    assert cols["votes_all"] == 500 and cols["zone"] == s["zone"]


def test_vote_schedule_never_votes_twice_on_a_proposal():
    proposals = [f"p{i}" for i in range(30)]
    schedule = datagen.VoteSchedule(proposals, "run1-")
    pairs = [(schedule.session(n), schedule.proposal(n)) for n in range(5000)]
    assert len(set(pairs)) == len(pairs)
    per_session = Counter(s for s, _ in pairs)
    assert set(per_session.values()) <= {12, 5000 % 12}
    assert len(schedule.session(0)) >= 16  # a valid anonymous session id for the gateway
    with pytest.raises(ValueError):
        datagen.VoteSchedule(proposals[:5], "x")


def test_copy_escaping():
    assert datagen.line(["a\tb", None, True, False, 3, "c\\d\ne"]) == "a\\tb\t\\N\tt\tf\t3\tc\\\\d\\ne\n"


def test_bulk_votes_are_distinct_and_match_the_counts_loaded():
    rng = random.Random(3)
    p = 50
    ids = [f"prop-{i:03d}" for i in range(p)]
    wanted = scale.vote_counts(p, 2000, rng)
    assert abs(sum(wanted) - 2000) < 60 and min(wanted[: int(p * 0.98)]) >= 1
    counts = [[0] * (3 * scale.N_ITEMS) for _ in range(p)]
    rates = [0.5] * p
    lines = list(scale.vote_lines("q1", ids, rates, wanted, counts, rng, deadline=float("inf")))
    assert len(lines) == sum(wanted) == scale.gen_stats["written"]
    rows = [ln.rstrip("\n").split("\t") for ln in lines]
    assert len({(r[0], r[2]) for r in rows}) == len(rows)  # (proposal, voter) unique
    by_proposal = Counter(r[0] for r in rows)
    for i, pid in enumerate(ids):
        cj = scale.counts_json(counts[i])
        assert sum(cj["all"][k] for k in scoring.KEYS) == by_proposal[pid] == wanted[i]
        keys = Counter(r[4] for r in rows if r[0] == pid)
        assert {k: cj["all"][k] for k in keys} == dict(keys)
        trusted = sum(1 for r in rows if r[0] == pid and r[6] == "t")
        assert sum(cj["trusted"][k] for k in scoring.KEYS) == trusted
    voters = Counter(r[2] for r in rows)
    assert max(voters.values()) <= 12  # a voter has voted on at most one sequence's worth


def test_bulk_votes_stop_at_the_deadline_with_consistent_counts():
    rng = random.Random(4)
    ids = [f"p{i}" for i in range(20)]
    counts = [[0] * (3 * scale.N_ITEMS) for _ in range(20)]
    lines = list(scale.vote_lines("q", ids, [0.5] * 20, [100] * 20, counts, rng, deadline=0.0))
    assert lines == [] and all(sum(c) == 0 for c in counts)
