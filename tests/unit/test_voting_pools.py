"""Unit tests of the sequence's bounded candidate pools (services/voting/sequence.py)."""
import random

import pytest

from services.voting import sequence
from services.voting.sequence import Candidate, Pools, SequenceRules

RULES = SequenceRules()


def cand(pid, author=None, created=0.0, votes=20, seq=20):
    return Candidate(pid, author or f"author-{pid}", created, votes, seq, {"agree": votes // 2, "disagree": votes // 2})


def test_pool_rules_defaults_and_validation():
    assert (RULES.new_pool, RULES.tested_pool, RULES.controversy_pool, RULES.fill_pool) == (100, 200, 50, 50)
    assert SequenceRules.from_mapping({"tested_pool": "30", "pool_ttl": "0.5"}).tested_pool == 30
    with pytest.raises(ValueError):
        SequenceRules(tested_pool=-1)
    with pytest.raises(ValueError):
        SequenceRules(pool_ttl=-1.0)


def test_from_pools_drops_voted_and_repeats():
    a, b, c, d = (cand(x) for x in "abcd")
    pools = Pools(new=(a,), top=(b, c), controversy=(c, d), fill=(d, a), full={})
    out, short = sequence.from_pools(pools, {"b"}, RULES)
    assert [x.id for x in out] == ["a", "c", "d"]
    assert short is False  # no pool hit its bound: it holds every such proposal


def test_a_full_pool_left_short_asks_for_the_unbounded_read():
    top = tuple(cand(f"t{i}") for i in range(15))
    pools = Pools(top=top, full={"top": True})
    assert sequence.from_pools(pools, set(), RULES)[1] is False  # 15 left >= 12
    voted = {f"t{i}" for i in range(4)}
    out, short = sequence.from_pools(pools, voted, RULES)
    assert short is True and not {x.id for x in out} & voted


def test_selection_over_pools_keeps_one_new_per_author_and_skips_voted():
    news = tuple(cand(f"n{i}", author=f"au{i // 2}", created=float(i), votes=2, seq=2) for i in range(10))
    tested = tuple(cand(f"t{i}", created=100.0 + i) for i in range(20))
    pools = Pools(new=news, top=tested, fill=tested[-5:], full={})
    out, _ = sequence.from_pools(pools, {"n0"}, RULES)
    chosen = sequence.select(out, RULES, random.Random(3))
    assert len(chosen) == 12 and len(set(chosen)) == 12 and "n0" not in chosen
    new_ids = [i for i in chosen if i.startswith("n")]
    # n1 (au0), then n2 (au1; n3 shares it), n4 (au2), n6 (au3): oldest first, one per author
    assert new_ids == ["n1", "n2", "n4", "n6"]
