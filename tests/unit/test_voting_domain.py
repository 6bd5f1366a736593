"""Unit tests of the pure voting rules (services/voting/domain.py)."""
import itertools
import math

import pytest

from services.voting import domain
from services.voting.domain import Ballot, ValidationFailed, VotingRules
from services.voting.scoring import ScoreRules

# Make.org's table (MISSION.md), written out rather than imported from the code under test.
ALLOWED = {
    "agree": {"likeIt", "doable", "platitudeAgree"},
    "disagree": {"noWay", "impossible", "platitudeDisagree"},
    "neutral": {"doNotCare", "doNotUnderstand", "noOpinion"},
}
EVERY_QUALIFICATION = sorted(set().union(*ALLOWED.values()))
SECRET = "server-secret"


# -- validate_vote -------------------------------------------------------------------------------
@pytest.mark.parametrize("key, qualification", list(itertools.product(ALLOWED, EVERY_QUALIFICATION)))
def test_each_qualification_against_each_key(key, qualification):
    if qualification in ALLOWED[key]:
        assert domain.validate_vote(key, [qualification]) == (key, (qualification,))
    else:
        with pytest.raises(ValidationFailed) as err:
            domain.validate_vote(key, [qualification])
        assert set(err.value.fields) == {"qualifications"}
        assert qualification in err.value.fields["qualifications"]  # the 400 names it
        assert key in err.value.fields["qualifications"]


@pytest.mark.parametrize("key", sorted(ALLOWED))
def test_all_allowed_qualifications_at_once(key):
    assert domain.validate_vote(key, list(ALLOWED[key])) == (key, tuple(sorted(ALLOWED[key])))


@pytest.mark.parametrize("key", sorted(ALLOWED))
def test_no_qualification(key):
    assert domain.validate_vote(key, []) == (key, ())
    assert domain.validate_vote(key, None) == (key, ())
    assert domain.validate_vote(key, ()) == (key, ())


def test_duplicates_are_collapsed_and_sorted():
    assert domain.validate_vote("agree", ["likeIt", "doable", "likeIt", "likeIt"]) == ("agree", ("doable", "likeIt"))


def test_one_wrong_among_right_ones_fails_and_names_only_the_wrong():
    with pytest.raises(ValidationFailed) as err:
        domain.validate_vote("agree", ["likeIt", "noWay", "impossible"])
    message = err.value.fields["qualifications"]
    assert "noWay" in message and "impossible" in message
    assert message.startswith("noWay, impossible ")


@pytest.mark.parametrize("key", ["AGREE", "Agree", "", None, "like", "yes", 1, ["agree"], "agree "])
def test_unknown_key(key):
    with pytest.raises(ValidationFailed) as err:
        domain.validate_vote(key, [])
    assert set(err.value.fields) == {"key"}


@pytest.mark.parametrize("qualifications", ["likeIt", {"likeIt"}, {"likeIt": True}, 3, [1], ["likeIt", None],
                                            [["likeIt"]]])
def test_qualifications_must_be_a_list_of_names(qualifications):
    with pytest.raises(ValidationFailed) as err:
        domain.validate_vote("agree", qualifications)
    assert set(err.value.fields) == {"qualifications"}


def test_validation_failed_is_a_domain_error():
    assert issubclass(ValidationFailed, domain.DomainError)
    assert ValidationFailed({"key": "x"}).fields == {"key": "x"}


# -- resolve_vote --------------------------------------------------------------------------------
def test_first_vote_is_cast_with_the_request_trust():
    ballot, action = domain.resolve_vote(None, "agree", ("likeIt",), True, True)
    assert action == "cast"
    assert ballot == Ballot("agree", ("likeIt",), True, True)
    ballot, action = domain.resolve_vote(None, "neutral", (), False, False)
    assert (ballot, action) == (Ballot("neutral", (), False, False), "cast")


def test_same_key_same_qualifications_is_unchanged():
    previous = Ballot("agree", ("doable", "likeIt"), True, True)
    ballot, action = domain.resolve_vote(previous, "agree", ("doable", "likeIt"), False, False)
    assert action == "unchanged"
    assert ballot is previous


def test_same_key_new_qualifications_keeps_the_trust():
    previous = Ballot("agree", ("likeIt",), True, True)
    ballot, action = domain.resolve_vote(previous, "agree", ("doable",), False, False)
    assert action == "qualified"
    assert ballot == Ballot("agree", ("doable",), True, True)  # an untrusted re-vote does not demote it
    previous = Ballot("disagree", (), False, False)
    ballot, action = domain.resolve_vote(previous, "disagree", ("noWay",), True, True)
    assert (ballot, action) == (Ballot("disagree", ("noWay",), False, False), "qualified")


def test_another_key_replaces_the_vote_drops_its_qualifications_and_takes_the_new_trust():
    previous = Ballot("agree", ("likeIt", "doable"), True, True)
    ballot, action = domain.resolve_vote(previous, "disagree", (), False, False)
    assert action == "changed"
    assert ballot == Ballot("disagree", (), False, False)
    ballot, action = domain.resolve_vote(previous, "neutral", ("noOpinion",), True, False)
    assert (ballot, action) == (Ballot("neutral", ("noOpinion",), True, False), "changed")


def test_ballot_levels_and_items():
    assert Ballot("agree", (), False, False).levels() == ("all",)
    assert Ballot("agree", (), True, False).levels() == ("all", "trusted")
    assert Ballot("agree", (), True, True).levels() == ("all", "trusted", "sequence")
    assert Ballot("agree", ("doable", "likeIt")).items() == ("agree", "doable", "likeIt")


# -- count_delta ---------------------------------------------------------------------------------
def test_delta_of_a_cast():
    new = Ballot("agree", ("likeIt",), True, True)
    assert domain.count_delta(None, new) == {
        ("all", "agree"): 1, ("all", "likeIt"): 1,
        ("trusted", "agree"): 1, ("trusted", "likeIt"): 1,
        ("sequence", "agree"): 1, ("sequence", "likeIt"): 1,
    }


def test_delta_of_an_untrusted_cast():
    assert domain.count_delta(None, Ballot("neutral", ("noOpinion",), False, False)) == {
        ("all", "neutral"): 1, ("all", "noOpinion"): 1}


def test_delta_of_a_change_of_key():
    previous = Ballot("agree", ("likeIt",), True, False)
    new = Ballot("disagree", ("noWay",), False, False)
    assert domain.count_delta(previous, new) == {
        ("all", "agree"): -1, ("all", "likeIt"): -1,
        ("trusted", "agree"): -1, ("trusted", "likeIt"): -1,
        ("all", "disagree"): 1, ("all", "noWay"): 1,
    }


def test_delta_of_a_change_that_keeps_the_trust():
    previous = Ballot("agree", (), True, True)
    new = Ballot("disagree", (), True, True)
    assert domain.count_delta(previous, new) == {
        ("all", "agree"): -1, ("trusted", "agree"): -1, ("sequence", "agree"): -1,
        ("all", "disagree"): 1, ("trusted", "disagree"): 1, ("sequence", "disagree"): 1,
    }


def test_delta_of_a_qualification_change():
    previous = Ballot("agree", ("doable", "likeIt"), True, False)
    new = Ballot("agree", ("likeIt", "platitudeAgree"), True, False)
    # the key and likeIt stay; doable goes, platitudeAgree comes
    assert domain.count_delta(previous, new) == {
        ("all", "doable"): -1, ("trusted", "doable"): -1,
        ("all", "platitudeAgree"): 1, ("trusted", "platitudeAgree"): 1,
    }


def test_delta_of_unchanged_is_empty():
    ballot = Ballot("agree", ("likeIt",), True, True)
    assert domain.count_delta(ballot, ballot) == {}
    assert domain.count_delta(None, None) == {}


def test_delta_of_a_removal():
    assert domain.count_delta(Ballot("disagree", ("impossible",), True, False), None) == {
        ("all", "disagree"): -1, ("all", "impossible"): -1,
        ("trusted", "disagree"): -1, ("trusted", "impossible"): -1,
    }


def test_resolve_then_delta_round_trip():
    counts = {}
    previous = None
    for key, quals, trusted in [("agree", ("likeIt",), True), ("agree", ("likeIt", "doable"), False),
                                ("disagree", (), False), ("disagree", (), True)]:
        new, _ = domain.resolve_vote(previous, key, quals, trusted, False)
        for k, v in domain.count_delta(previous, new).items():
            counts[k] = counts.get(k, 0) + v
        previous = new
    # ends as one untrusted disagree (the change to disagree took the untrusted request's trust)
    assert {k: v for k, v in counts.items() if v} == {("all", "disagree"): 1}


def test_merge_ballots():
    session = Ballot("agree", (), True, True)
    assert domain.merge_ballots(session, None) is session
    assert domain.merge_ballots(session, Ballot("disagree", (), True, False)) is None


# -- proposal keys -------------------------------------------------------------------------------
def test_sequence_key_is_trusted_and_from_the_sequence():
    key = domain.proposal_key(SECRET, "p1", "s1")
    assert key.startswith("s.") and len(key) == 34
    int(key[2:], 16)
    assert domain.check_proposal_key(SECRET, key, "p1", "s1") == (True, True)


def test_listing_key_is_trusted_not_from_the_sequence():
    key = domain.proposal_key(SECRET, "p1", "s1", "listing")
    assert key.startswith("l.")
    assert domain.check_proposal_key(SECRET, key, "p1", "s1") == (True, False)


def test_keys_are_deterministic_and_distinct():
    assert domain.proposal_key(SECRET, "p1", "s1") == domain.proposal_key(SECRET, "p1", "s1")
    keys = {domain.proposal_key(SECRET, p, s, o) for p in ("p1", "p2") for s in ("s1", "s2")
            for o in ("sequence", "listing")}
    assert len(keys) == 8


@pytest.mark.parametrize("secret, proposal, session", [
    (SECRET, "p1", "s2"),  # another session
    (SECRET, "p2", "s1"),  # another proposal
    ("another-secret", "p1", "s1"),  # another server secret
])
def test_keys_do_not_transfer(secret, proposal, session):
    key = domain.proposal_key(SECRET, "p1", "s1")
    assert domain.check_proposal_key(secret, key, proposal, session) == (False, False)


@pytest.mark.parametrize("key", [None, "", "garbage", "s.", "s." + "0" * 32, "l." + "f" * 32, 123, b"bytes",
                                 ["s.x"]])
def test_missing_or_garbage_keys_are_untrusted(key):
    assert domain.check_proposal_key(SECRET, key, "p1", "s1") == (False, False)


def test_a_key_with_its_origin_letter_swapped_is_untrusted():
    key = domain.proposal_key(SECRET, "p1", "s1", "listing")
    assert domain.check_proposal_key(SECRET, "s." + key[2:], "p1", "s1") == (False, False)


def test_a_non_ascii_key_is_untrusted():
    assert domain.check_proposal_key(SECRET, "s.\u00e9t\u00e9", "p1", "s1") == (False, False)


def test_unknown_origin_is_refused():
    with pytest.raises(ValueError):
        domain.proposal_key(SECRET, "p1", "s1", "email")


# -- emergence -----------------------------------------------------------------------------------
def top_lower(counts):
    """topScore lower bound by hand for counts with only agree / disagree / neutral (no qualifications)."""
    n = counts.get("agree", 0) + counts.get("disagree", 0) + counts.get("neutral", 0)
    agree = (counts.get("agree", 0) + 0.33) / (1 + n)
    q = 0.01 / (1 + n)

    def c(p):
        n2 = n + 4
        p2 = (n * p + 2) / n2
        return 2 * math.sqrt(p2 * (1 - p2) / n2)

    return agree + q + q - 4 * q - math.sqrt(c(agree) ** 2 + 6 * c(q) ** 2)


def test_default_emergence_rules():
    r = VotingRules()
    assert r.emergence_min_trusted_votes == 100
    assert r.emergence_min_top_score_lower_bound == 0.6
    assert r.vote_milestones == (100, 1000, 10000, 100000)


def test_emerges_at_exactly_the_minimum_votes():
    rules = VotingRules()
    # 100 agree: agree 100.33/101, lower bound ~0.92 >= 0.6, consensus
    assert top_lower({"agree": 100}) == pytest.approx(0.92, abs=0.01)
    assert domain.has_emerged({"agree": 100}, rules)
    assert domain.has_emerged({"agree": 99, "neutral": 1}, rules)  # neutral counts toward the 100 votes
    assert not domain.has_emerged({"agree": 99}, rules)  # 99 votes
    assert not domain.has_emerged({"agree": 99, "likeIt": 50}, rules)  # qualifications are not votes


def test_emerges_at_exactly_the_lower_bound_threshold():
    counts = {"agree": 100}
    lb = top_lower(counts)
    assert domain.has_emerged(counts, VotingRules(emergence_min_top_score_lower_bound=lb - 1e-12))
    assert not domain.has_emerged(counts, VotingRules(emergence_min_top_score_lower_bound=lb + 1e-9))


def test_emergence_needs_the_consensus_zone():
    anything = VotingRules(emergence_min_top_score_lower_bound=-10)
    # 61 agree / 39 disagree: agree 61.33/101 = 0.607 >= 0.6 -> consensus
    assert domain.has_emerged({"agree": 61, "disagree": 39}, anything)
    # 60 / 40: agree 60.33/101 = 0.597, disagree 0.40 -> controversy
    assert not domain.has_emerged({"agree": 60, "disagree": 40}, anything)


def test_emergence_lower_bound_threshold_with_mild_support():
    # 700 agree, 300 neutral: agree 700.33/1001 = 0.6996 -> consensus; lower bound 0.6996 - 0.0298 = 0.670 ...
    counts = {"agree": 700, "neutral": 300}
    assert top_lower(counts) == pytest.approx(0.670, abs=0.001)
    assert domain.has_emerged(counts, VotingRules())
    # ... and with a 0.7 threshold it does not emerge
    assert not domain.has_emerged(counts, VotingRules(emergence_min_top_score_lower_bound=0.7))


def test_emergence_uses_the_configured_score_rules():
    counts = {"agree": 100}
    assert not domain.has_emerged(counts, VotingRules(score=ScoreRules(consensus_agree=1.1, consensus_disagree=0.0)))


# -- milestones ----------------------------------------------------------------------------------
@pytest.mark.parametrize("before, after, expected", [
    (99, 100, [100]),
    (100, 101, []),
    (0, 99, []),
    (0, 10000, [100, 1000, 10000]),
    (999, 1000, [1000]),
    (5, 5, []),
    (1000, 999, []),  # a removed vote crosses nothing
    (99999, 100000, [100000]),
])
def test_crossed(before, after, expected):
    assert domain.crossed(before, after, (100, 1000, 10000, 100000)) == expected


def test_crossed_once_when_counting_one_by_one():
    hits = [t for v in range(0, 20000) for t in domain.crossed(v, v + 1, VotingRules().vote_milestones)]
    assert hits == [100, 1000, 10000]


@pytest.mark.parametrize("total, expected", [
    (0, []), (99, []), (100, [100]), (101, [100]), (1000, [100, 1000]), (250000, [100, 1000, 10000, 100000]),
])
def test_reached(total, expected):
    assert domain.reached(total, (100, 1000, 10000, 100000)) == expected


def test_question_milestones():
    rules = VotingRules()
    assert domain.question_milestones(1000, rules) == [500, 1000]
    assert domain.question_milestones(None, rules) == []
    assert domain.question_milestones(0, rules) == []
    assert domain.question_milestones(1, rules) == [1]  # 0.5 rounds to 0, floored at 1; duplicates merged
    assert domain.question_milestones(10, VotingRules(question_target_fractions=(0.33, 0.66, 1.0))) == [3, 7, 10]


# -- configuration -------------------------------------------------------------------------------
def test_rules_from_mapping():
    r = VotingRules.from_mapping({
        "emergence_min_trusted_votes": "250",
        "emergence_min_top_score_lower_bound": "0.7",
        "vote_milestones": ["1000", 10, 100],
        "question_target_fractions": [1, "0.5"],
        "score": {"vote_smoothing": "0.5"},
        "unknown": 1,
    })
    assert r.emergence_min_trusted_votes == 250
    assert r.emergence_min_top_score_lower_bound == 0.7
    assert r.vote_milestones == (10, 100, 1000)
    assert r.question_target_fractions == (0.5, 1.0)
    assert r.score == ScoreRules(vote_smoothing=0.5)


def test_rules_from_nothing_are_the_defaults():
    assert VotingRules.from_mapping(None) == VotingRules()
    assert VotingRules.from_mapping({}) == VotingRules()
