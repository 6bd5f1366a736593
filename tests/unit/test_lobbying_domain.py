"""Unit tests of the pure crowd-lobbying rules (services/lobbying/domain.py).

Every expected value below is written by hand (or derived with integer arithmetic
independent of the code under test), never obtained by calling the function tested.
"""

import dataclasses

import pytest

from services.lobbying import domain
from services.lobbying.domain import (
    CAMPAIGN_STATUSES,
    STANCES,
    TARGET_STATES,
    Conflict,
    DomainError,
    Forbidden,
    LobbyingRules,
    ValidationFailed,
    check_can_respond,
    check_targets,
    crossed,
    milestones_for,
    require_citizen,
    require_official_for,
    should_interpellate,
    validate_campaign,
    validate_response,
)

RULES = LobbyingRules()

TITLE_ERR = "must be 5 to 120 characters"
PITCH_ERR = "must be 20 to 2000 characters"
GOAL_ERR = "must be a whole number from 10 to 10000000"
TARGETS_ERR = "must list at least one public actor id"
STATEMENT_ERR = "must be 1 to 5000 characters"
STANCE_ERR = "must be one of commit, decline, other"


def gs(n, share):
    return {"milestone": n, "kind": "goal_share", "share": share}


def cnt(n):
    return {"milestone": n, "kind": "count", "share": None}


def goal_m(n):
    return {"milestone": n, "kind": "goal", "share": 1.0}


def campaign(**overrides):
    data = {
        "title": "Clean the river",
        "pitch": "We want the city to clean the river before summer.",
        "goal": 300,
        "target_actor_ids": ["a1", "a2"],
    }
    data.update(overrides)
    return data


def fields_of(excinfo):
    return excinfo.value.fields


# --------------------------------------------------------------------------
# Constants and errors
# --------------------------------------------------------------------------


def test_constants():
    assert STANCES == ("commit", "decline", "other")
    assert TARGET_STATES == ("not_contacted", "interpellated", "responded")
    assert CAMPAIGN_STATUSES == ("active", "closed")


def test_validation_failed_keeps_fields():
    err = ValidationFailed({"goal": "bad"})
    assert err.fields == {"goal": "bad"}
    assert err.args == ({"goal": "bad"},)
    assert isinstance(err, DomainError)


@pytest.mark.parametrize("cls", [Forbidden, Conflict, ValidationFailed])
def test_errors_are_domain_errors(cls):
    assert issubclass(cls, DomainError)
    assert issubclass(DomainError, Exception)


# --------------------------------------------------------------------------
# LobbyingRules
# --------------------------------------------------------------------------


def test_rules_defaults():
    r = LobbyingRules()
    assert r.absolute_milestones == (100, 1000, 10000)
    assert r.goal_fractions == (0.33, 0.66)
    assert r.min_goal == 10
    assert r.max_goal == 10_000_000
    assert r.max_targets == 20
    assert r.title_length == (5, 120)
    assert r.pitch_length == (20, 2000)
    assert r.statement_length == (1, 5000)
    assert r.send_window_start_hour == 9
    assert r.send_window_end_hour == 18
    assert r.max_messages_per_hour_per_target == 10
    assert r.notify_supporters_min_days == 3


def test_rules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES.min_goal = 1


@pytest.mark.parametrize("values", [None, {}])
def test_from_mapping_empty_gives_defaults(values):
    assert LobbyingRules.from_mapping(values) == LobbyingRules()


def test_from_mapping_casts_scalars_from_strings():
    r = LobbyingRules.from_mapping({
        "min_goal": "5",
        "max_goal": "500",
        "max_targets": "3",
        "send_window_start_hour": "8",
        "send_window_end_hour": "20",
        "max_messages_per_hour_per_target": "4",
        "notify_supporters_min_days": "7",
    })
    assert r.min_goal == 5 and type(r.min_goal) is int
    assert r.max_goal == 500 and type(r.max_goal) is int
    assert r.max_targets == 3 and type(r.max_targets) is int
    assert r.send_window_start_hour == 8
    assert r.send_window_end_hour == 20
    assert r.max_messages_per_hour_per_target == 4
    assert r.notify_supporters_min_days == 7 and type(r.notify_supporters_min_days) is int
    # untouched fields keep their defaults
    assert r.absolute_milestones == (100, 1000, 10000)
    assert r.title_length == (5, 120)


def test_from_mapping_casts_tuples_element_wise():
    r = LobbyingRules.from_mapping({
        "absolute_milestones": ["50", 500, "5000"],
        "goal_fractions": ["0.25", "0.5", 1],
        "title_length": ("3", "60"),
        "pitch_length": ["10", "100"],
        "statement_length": ("2", "50"),
    })
    assert r.absolute_milestones == (50, 500, 5000)
    assert all(type(v) is int for v in r.absolute_milestones)
    assert r.goal_fractions == (0.25, 0.5, 1.0)
    assert all(type(v) is float for v in r.goal_fractions)
    assert r.title_length == (3, 60)
    assert all(type(v) is int for v in r.title_length)
    assert r.pitch_length == (10, 100)
    assert r.statement_length == (2, 50)
    assert type(r.absolute_milestones) is tuple and type(r.pitch_length) is tuple


def test_from_mapping_allows_empty_tuple_override():
    r = LobbyingRules.from_mapping({"absolute_milestones": []})
    assert r.absolute_milestones == ()


def test_from_mapping_ignores_unknown_keys():
    r = LobbyingRules.from_mapping({"nope": "1", "MIN_GOAL": "3", "min_goal": 12})
    assert r.min_goal == 12
    assert not hasattr(r, "nope")
    assert r == LobbyingRules(min_goal=12)


def test_from_mapping_does_not_mutate_input():
    values = {"min_goal": "5", "unknown": 1}
    LobbyingRules.from_mapping(values)
    assert values == {"min_goal": "5", "unknown": 1}


def test_from_mapping_rejects_uncastable_value():
    with pytest.raises(ValueError):
        LobbyingRules.from_mapping({"min_goal": "ten"})


# --------------------------------------------------------------------------
# milestones_for
# --------------------------------------------------------------------------


def test_milestones_goal_300():
    assert milestones_for(300, RULES) == [gs(99, 0.33), cnt(100), gs(198, 0.66), goal_m(300)]


def test_milestones_goal_20000():
    assert milestones_for(20000, RULES) == [
        cnt(100), cnt(1000), gs(6600, 0.33), cnt(10000), gs(13200, 0.66), goal_m(20000),
    ]


def test_milestones_minimum_goal_10():
    # 3.3 -> 4, 6.6 -> 7 (rounded up); no absolute milestone is <= 10
    assert milestones_for(10, RULES) == [gs(4, 0.33), gs(7, 0.66), goal_m(10)]


def test_milestones_maximum_goal():
    assert milestones_for(10_000_000, RULES) == [
        cnt(100), cnt(1000), cnt(10000), gs(3_300_000, 0.33), gs(6_600_000, 0.66), goal_m(10_000_000),
    ]


def test_milestones_goal_below_first_absolute():
    assert milestones_for(99, RULES) == [gs(33, 0.33), gs(66, 0.66), goal_m(99)]
    assert milestones_for(50, RULES) == [gs(17, 0.33), gs(33, 0.66), goal_m(50)]


def test_milestones_goal_equal_to_count_100_appears_once_as_count():
    assert milestones_for(100, RULES) == [gs(33, 0.33), gs(66, 0.66), cnt(100)]


def test_milestones_goal_equal_to_count_1000_appears_once_as_count():
    assert milestones_for(1000, RULES) == [cnt(100), gs(330, 0.33), gs(660, 0.66), cnt(1000)]


def test_milestones_goal_equal_to_count_10000():
    assert milestones_for(10000, RULES) == [cnt(100), cnt(1000), gs(3300, 0.33), gs(6600, 0.66), cnt(10000)]


def test_milestones_goal_just_above_count():
    assert milestones_for(101, RULES) == [gs(34, 0.33), gs(67, 0.66), cnt(100), goal_m(101)]


def test_milestones_fraction_equal_to_count_100_goal_share_wins_once():
    # 303 * 0.33 = 99.99 -> 100 ; 303 * 0.66 = 199.98 -> 200
    assert milestones_for(303, RULES) == [gs(100, 0.33), gs(200, 0.66), goal_m(303)]


def test_milestones_fraction_066_equal_to_count_1000():
    # 1516 * 0.66 = 1000.56 -> 1001 ; 1515 * 0.66 = 999.9 -> 1000
    assert milestones_for(1515, RULES) == [cnt(100), gs(500, 0.33), gs(1000, 0.66), goal_m(1515)]
    assert milestones_for(1516, RULES) == [cnt(100), gs(501, 0.33), cnt(1000), gs(1001, 0.66), goal_m(1516)]


def test_milestones_fraction_033_equal_to_count_1000():
    # 3030 * 0.33 = 999.9 -> 1000 ; 3030 * 0.66 = 1999.8 -> 2000
    assert milestones_for(3030, RULES) == [cnt(100), gs(1000, 0.33), gs(2000, 0.66), goal_m(3030)]


def test_milestones_fraction_equal_to_count_10000():
    # 15151 * 0.66 = 9999.66 -> 10000 ; 15151 * 0.33 = 4999.83 -> 5000
    assert milestones_for(15151, RULES) == [
        cnt(100), cnt(1000), gs(5000, 0.33), gs(10000, 0.66), goal_m(15151),
    ]


def test_milestones_fraction_equal_to_goal_goal_share_wins():
    rules = LobbyingRules(goal_fractions=(0.5, 1.0))
    assert milestones_for(40, rules) == [gs(20, 0.5), gs(40, 1.0)]


def test_milestones_two_fractions_equal_keep_last_fraction():
    rules = LobbyingRules(goal_fractions=(0.5, 0.55))
    # 10 * 0.5 = 5, 10 * 0.55 = 5.5 -> 6: distinct; 11: 5.5 -> 6 and 6.05 -> 7
    assert milestones_for(10, rules) == [gs(5, 0.5), gs(6, 0.55), goal_m(10)]
    rules = LobbyingRules(goal_fractions=(0.41, 0.42))
    # 10 * 0.41 = 4.1 -> 5 and 10 * 0.42 = 4.2 -> 5: one entry only
    result = milestones_for(10, rules)
    assert [m["milestone"] for m in result] == [5, 10]
    assert result[0] == gs(5, 0.42)


def test_milestones_fraction_never_below_one():
    rules = LobbyingRules(goal_fractions=(0.0, 0.01))
    assert milestones_for(10, rules) == [gs(1, 0.01), goal_m(10)]


def test_milestones_custom_rules():
    rules = LobbyingRules.from_mapping({"absolute_milestones": ["50", "500"], "goal_fractions": ["0.5"]})
    assert milestones_for(400, rules) == [cnt(50), gs(200, 0.5), goal_m(400)]
    assert milestones_for(500, rules) == [cnt(50), gs(250, 0.5), cnt(500)]


def test_milestones_no_absolute_no_fractions_only_goal():
    rules = LobbyingRules(absolute_milestones=(), goal_fractions=())
    assert milestones_for(10, rules) == [goal_m(10)]


def _ceil_percent(goal, percent):
    return -(-goal * percent // 100)  # exact integer ceiling of goal * percent / 100


@pytest.mark.parametrize("goals", [
    range(10, 20_001),
    list(range(20_001, 10_000_001, 99_991)) + [9_999_999, 10_000_000],
])
def test_milestones_properties_over_many_goals(goals):
    for goal in goals:
        result = milestones_for(goal, RULES)
        numbers = [m["milestone"] for m in result]
        assert numbers == sorted(set(numbers)), goal  # ascending and unique
        assert numbers[-1] == goal, goal
        assert numbers[0] >= 1, goal
        share33, share66 = _ceil_percent(goal, 33), _ceil_percent(goal, 66)
        absolutes = {a for a in (100, 1000, 10000) if a <= goal}
        assert set(numbers) == {share33, share66, goal} | absolutes, goal
        by_number = {m["milestone"]: m for m in result}
        assert by_number[share33] == gs(share33, 0.33), goal
        assert by_number[share66] == gs(share66, 0.66), goal
        for a in absolutes - {share33, share66}:
            assert by_number[a] == cnt(a), goal
        if goal not in absolutes | {share33, share66}:
            assert by_number[goal] == goal_m(goal), goal


def test_milestones_returns_fresh_dicts():
    first = milestones_for(300, RULES)
    first[0]["milestone"] = -1
    assert milestones_for(300, RULES)[0]["milestone"] == 99


# --------------------------------------------------------------------------
# crossed
# --------------------------------------------------------------------------

M300 = [gs(99, 0.33), cnt(100), gs(198, 0.66), goal_m(300)]


@pytest.mark.parametrize("before, after, expected", [
    (98, 99, [99]),            # landing exactly on a milestone
    (0, 99, [99]),
    (99, 100, [100]),          # the previous milestone is not crossed again
    (99, 99, []),              # no change exactly at a milestone
    (50, 50, []),              # no change
    (97, 98, []),              # just below
    (100, 197, []),
    (197, 198, [198]),
    (299, 300, [300]),
    (300, 301, []),            # past the goal
    (300, 10_000, []),
    (98, 199, [99, 100, 198]), # jumping over several
    (0, 300, [99, 100, 198, 300]),
    (0, 10**9, [99, 100, 198, 300]),
    (100, 99, []),             # decreasing (withdrawn support)
    (300, 0, []),
    (199, 198, []),
])
def test_crossed(before, after, expected):
    assert [m["milestone"] for m in crossed(before, after, M300)] == expected


def test_crossed_returns_the_milestone_entries_in_order():
    result = crossed(98, 300, M300)
    assert result == [gs(99, 0.33), cnt(100), gs(198, 0.66), goal_m(300)]
    assert result[0] is M300[0]


def test_crossed_empty_milestones():
    assert crossed(0, 1000, []) == []


# --------------------------------------------------------------------------
# validate_campaign
# --------------------------------------------------------------------------


def test_validate_campaign_ok_normalises():
    out = validate_campaign(campaign(
        title="  Clean\tthe   river\n ",
        pitch="  We want the city   to clean the river.  ",
        goal=300,
        target_actor_ids=["a1", "a2"],
    ), RULES)
    assert out == {
        "title": "Clean the river",
        "pitch": "We want the city   to clean the river.",
        "goal": 300,
        "target_actor_ids": ["a1", "a2"],
    }


def test_validate_campaign_ignores_extra_keys():
    out = validate_campaign(campaign(proposal_id="p1", extra=True), RULES)
    assert set(out) == {"title", "pitch", "goal", "target_actor_ids"}


@pytest.mark.parametrize("title, ok", [
    ("abcd", False),
    ("abcde", True),
    ("a" * 120, True),
    ("a" * 121, False),
    ("   abcd   ", False),          # 4 after stripping
    ("   abcde   ", True),
    ("\n" + "a" * 120 + "\t", True),
    ("ab    cde", True),            # "ab cde": 6
    ("a" * 60 + " " + "b" * 59, True),       # 120 with one inner space
    ("a" * 60 + " " + "b" * 60, False),      # 121 with one inner space
    ("", False),
    ("     ", False),
])
def test_validate_campaign_title_bounds(title, ok):
    if ok:
        out = validate_campaign(campaign(title=title), RULES)
        assert out["title"] == " ".join(title.split())
    else:
        with pytest.raises(ValidationFailed) as e:
            validate_campaign(campaign(title=title), RULES)
        assert fields_of(e) == {"title": TITLE_ERR}


def test_validate_campaign_title_too_short_after_collapsing():
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(title="a    bc"), RULES)
    assert fields_of(e) == {"title": TITLE_ERR}


def test_validate_campaign_title_of_120_after_collapsing_is_accepted():
    title = "a" * 60 + " " * 6 + "b" * 59   # raw 125, collapsed 120
    out = validate_campaign(campaign(title=title), RULES)
    assert out["title"] == "a" * 60 + " " + "b" * 59


@pytest.mark.parametrize("title", [None, 12345, ["a title"], b"bytes title"])
def test_validate_campaign_title_not_a_string(title):
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(title=title), RULES)
    assert fields_of(e) == {"title": TITLE_ERR}


def test_validate_campaign_title_missing():
    data = campaign()
    del data["title"]
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(data, RULES)
    assert fields_of(e) == {"title": TITLE_ERR}


@pytest.mark.parametrize("pitch, ok", [
    ("p" * 19, False),
    ("p" * 20, True),
    ("p" * 2000, True),
    ("p" * 2001, False),
    ("  " + "p" * 19 + "  ", False),
    ("  " + "p" * 20 + "  ", True),
    (" " + "p" * 2000 + "\n", True),
])
def test_validate_campaign_pitch_bounds(pitch, ok):
    if ok:
        assert validate_campaign(campaign(pitch=pitch), RULES)["pitch"] == pitch.strip()
    else:
        with pytest.raises(ValidationFailed) as e:
            validate_campaign(campaign(pitch=pitch), RULES)
        assert fields_of(e) == {"pitch": PITCH_ERR}


def test_validate_campaign_pitch_keeps_inner_whitespace():
    pitch = "Line one of the pitch.\n\nLine   two."
    assert validate_campaign(campaign(pitch="  " + pitch + " "), RULES)["pitch"] == pitch


@pytest.mark.parametrize("pitch", [None, 42, ["x" * 30]])
def test_validate_campaign_pitch_not_a_string(pitch):
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(pitch=pitch), RULES)
    assert fields_of(e) == {"pitch": PITCH_ERR}


@pytest.mark.parametrize("goal, ok", [
    (9, False),
    (10, True),
    (10_000_000, True),
    (10_000_001, False),
    (0, False),
    (-10, False),
])
def test_validate_campaign_goal_bounds(goal, ok):
    if ok:
        assert validate_campaign(campaign(goal=goal), RULES)["goal"] == goal
    else:
        with pytest.raises(ValidationFailed) as e:
            validate_campaign(campaign(goal=goal), RULES)
        assert fields_of(e) == {"goal": GOAL_ERR}


@pytest.mark.parametrize("goal", [100.0, 10.5, "100", None, True, False])
def test_validate_campaign_goal_wrong_type(goal):
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(goal=goal), RULES)
    assert fields_of(e) == {"goal": GOAL_ERR}


def test_validate_campaign_bool_goal_rejected_even_when_in_range():
    rules = LobbyingRules(min_goal=0, max_goal=5)
    assert validate_campaign(campaign(goal=1), rules)["goal"] == 1
    for goal in (True, False):
        with pytest.raises(ValidationFailed) as e:
            validate_campaign(campaign(goal=goal), rules)
        assert fields_of(e) == {"goal": "must be a whole number from 0 to 5"}


def test_validate_campaign_goal_missing():
    data = campaign()
    del data["goal"]
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(data, RULES)
    assert fields_of(e) == {"goal": GOAL_ERR}


@pytest.mark.parametrize("targets", [
    [],
    None,
    "a1",
    ("a1", "a2"),
    {"a1"},
    {"a1": 1},
    [1],
    ["a1", 2],
    ["a1", None],
    ["a1", ""],
    [["a1"]],
])
def test_validate_campaign_targets_invalid(targets):
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(target_actor_ids=targets), RULES)
    assert fields_of(e) == {"target_actor_ids": TARGETS_ERR}


def test_validate_campaign_targets_missing():
    data = campaign()
    del data["target_actor_ids"]
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(data, RULES)
    assert fields_of(e) == {"target_actor_ids": TARGETS_ERR}


def test_validate_campaign_targets_deduplicated_in_order():
    out = validate_campaign(campaign(target_actor_ids=["b", "a", "b", "c", "a", "b"]), RULES)
    assert out["target_actor_ids"] == ["b", "a", "c"]


def test_validate_campaign_returns_a_new_target_list():
    targets = ["a1", "a2"]
    out = validate_campaign(campaign(target_actor_ids=targets), RULES)
    assert out["target_actor_ids"] == ["a1", "a2"]
    assert out["target_actor_ids"] is not targets
    assert targets == ["a1", "a2"]


def test_validate_campaign_max_targets_distinct():
    twenty = [f"t{i:02d}" for i in range(20)]
    assert validate_campaign(campaign(target_actor_ids=twenty), RULES)["target_actor_ids"] == twenty
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(target_actor_ids=twenty + ["t20"]), RULES)
    assert fields_of(e) == {"target_actor_ids": "at most 20 targets"}


def test_validate_campaign_duplicates_do_not_count_towards_max():
    twenty = [f"t{i:02d}" for i in range(20)]
    out = validate_campaign(campaign(target_actor_ids=twenty + twenty[:10] + ["t00"]), RULES)
    assert out["target_actor_ids"] == twenty


def test_validate_campaign_max_targets_from_rules():
    rules = LobbyingRules.from_mapping({"max_targets": "2"})
    assert validate_campaign(campaign(target_actor_ids=["a", "b", "a"]), rules)["target_actor_ids"] == ["a", "b"]
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(target_actor_ids=["a", "b", "c"]), rules)
    assert fields_of(e) == {"target_actor_ids": "at most 2 targets"}


def test_validate_campaign_all_errors_at_once():
    with pytest.raises(ValidationFailed) as e:
        validate_campaign({"title": "abc", "pitch": "short", "goal": 9, "target_actor_ids": []}, RULES)
    assert fields_of(e) == {
        "title": TITLE_ERR,
        "pitch": PITCH_ERR,
        "goal": GOAL_ERR,
        "target_actor_ids": TARGETS_ERR,
    }


def test_validate_campaign_empty_payload():
    with pytest.raises(ValidationFailed) as e:
        validate_campaign({}, RULES)
    assert set(fields_of(e)) == {"title", "pitch", "goal", "target_actor_ids"}


def test_validate_campaign_two_errors_only_those_reported():
    with pytest.raises(ValidationFailed) as e:
        validate_campaign(campaign(goal=10_000_001, target_actor_ids=[f"t{i}" for i in range(21)]), RULES)
    assert fields_of(e) == {"goal": GOAL_ERR, "target_actor_ids": "at most 20 targets"}


def test_validate_campaign_custom_lengths():
    rules = LobbyingRules.from_mapping({"title_length": ["2", "3"], "pitch_length": ["1", "4"],
                                        "min_goal": "1", "max_goal": "2"})
    out = validate_campaign({"title": "ab", "pitch": "p", "goal": 2, "target_actor_ids": ["x"]}, rules)
    assert out == {"title": "ab", "pitch": "p", "goal": 2, "target_actor_ids": ["x"]}
    with pytest.raises(ValidationFailed) as e:
        validate_campaign({"title": "abcd", "pitch": "ppppp", "goal": 3, "target_actor_ids": ["x"]}, rules)
    assert fields_of(e) == {
        "title": "must be 2 to 3 characters",
        "pitch": "must be 1 to 4 characters",
        "goal": "must be a whole number from 1 to 2",
    }


# --------------------------------------------------------------------------
# check_targets
# --------------------------------------------------------------------------

ACTORS = [
    {"id": "fr-mp", "name": "Marie Dupont", "level": "national", "country": "FR"},
    {"id": "fr-mayor", "name": "Jean Martin", "level": "local", "country": "FR"},
    {"id": "de-mp", "name": "Hans Muster", "level": "national", "country": "DE"},
    {"id": "it-mp", "name": "Lucia Rossi", "level": "national", "country": "IT"},
    {"id": "eu-mep", "name": "Anna Berg", "level": "european", "country": "SE"},
    {"id": "eu-com", "name": "European Commission", "level": "european"},
]


def test_check_targets_all_good():
    assert check_targets("FR", ["fr-mp", "fr-mayor", "eu-mep", "eu-com"], ACTORS) is None


def test_check_targets_empty_request_is_fine():
    assert check_targets("FR", [], ACTORS) is None


def test_check_targets_unknown_ids_named():
    with pytest.raises(ValidationFailed) as e:
        check_targets("FR", ["fr-mp", "ghost-1", "ghost-2"], ACTORS)
    assert fields_of(e) == {"target_actor_ids": "unknown public actor(s): ghost-1, ghost-2"}


def test_check_targets_unknown_reported_before_wrong_country():
    with pytest.raises(ValidationFailed) as e:
        check_targets("FR", ["de-mp", "ghost"], ACTORS)
    assert fields_of(e) == {"target_actor_ids": "unknown public actor(s): ghost"}


def test_check_targets_no_actors_known():
    with pytest.raises(ValidationFailed) as e:
        check_targets("FR", ["fr-mp"], [])
    assert fields_of(e) == {"target_actor_ids": "unknown public actor(s): fr-mp"}


def test_check_targets_foreign_actor_rejected_with_name_and_country():
    with pytest.raises(ValidationFailed) as e:
        check_targets("FR", ["fr-mp", "de-mp"], ACTORS)
    assert fields_of(e) == {"target_actor_ids": "not in FR nor at European level: Hans Muster (DE)"}


def test_check_targets_several_foreign_actors_listed():
    with pytest.raises(ValidationFailed) as e:
        check_targets("FR", ["it-mp", "eu-mep", "de-mp"], ACTORS)
    assert fields_of(e) == {
        "target_actor_ids": "not in FR nor at European level: Lucia Rossi (IT), Hans Muster (DE)"
    }


def test_check_targets_french_actor_rejected_for_german_proposal():
    with pytest.raises(ValidationFailed) as e:
        check_targets("DE", ["de-mp", "fr-mayor"], ACTORS)
    assert fields_of(e) == {"target_actor_ids": "not in DE nor at European level: Jean Martin (FR)"}


@pytest.mark.parametrize("country", ["FR", "DE", "IT", "SE", "PL"])
def test_check_targets_european_actor_accepted_whatever_country(country):
    assert check_targets(country, ["eu-mep", "eu-com"], ACTORS) is None


def test_check_targets_actor_without_country_or_level_rejected():
    actors = [{"id": "x", "name": "Nobody"}]
    with pytest.raises(ValidationFailed) as e:
        check_targets("FR", ["x"], actors)
    assert fields_of(e) == {"target_actor_ids": "not in FR nor at European level: Nobody (None)"}


def test_check_targets_country_is_case_sensitive():
    with pytest.raises(ValidationFailed):
        check_targets("fr", ["fr-mp"], ACTORS)


# --------------------------------------------------------------------------
# require_citizen / require_official_for
# --------------------------------------------------------------------------


@pytest.mark.parametrize("caller", [None, {}, {"user_id": ""}, {"user_id": None}, {"roles": ["citizen"]}])
def test_require_citizen_anonymous(caller):
    with pytest.raises(Forbidden, match="login required"):
        require_citizen(caller)


def test_require_citizen_returns_user_id():
    assert require_citizen({"user_id": "u1", "roles": ["citizen"]}) == "u1"
    assert require_citizen({"user_id": "u2"}) == "u2"


TARGETS = ["a1", "a2"]


@pytest.mark.parametrize("caller", [None, {}, {"user_id": "", "roles": ["official"], "actor_id": "a1"}])
def test_require_official_anonymous(caller):
    with pytest.raises(Forbidden, match="login required"):
        require_official_for(caller, TARGETS)


@pytest.mark.parametrize("caller", [
    {"user_id": "u1"},
    {"user_id": "u1", "roles": None},
    {"user_id": "u1", "roles": []},
    {"user_id": "u1", "roles": ["citizen"]},
    {"user_id": "u1", "roles": ["citizen", "admin"], "actor_id": "a1"},  # linked but not official
    {"user_id": "u1", "roles": ["Official"], "actor_id": "a1"},
])
def test_require_official_citizen_forbidden(caller):
    with pytest.raises(Forbidden, match="^only officials respond to campaigns$"):
        require_official_for(caller, TARGETS)


@pytest.mark.parametrize("caller", [
    {"user_id": "u1", "roles": ["official"]},
    {"user_id": "u1", "roles": ["official"], "actor_id": None},
    {"user_id": "u1", "roles": ["official"], "actor_id": ""},
])
def test_require_official_without_actor_forbidden(caller):
    with pytest.raises(Forbidden, match="^only officials respond to campaigns$"):
        require_official_for(caller, TARGETS)


def test_require_official_of_another_actor_forbidden():
    caller = {"user_id": "u1", "roles": ["official"], "actor_id": "a3"}
    with pytest.raises(Forbidden, match="^your public actor is not a target of this campaign$"):
        require_official_for(caller, TARGETS)


def test_require_official_with_no_targets_forbidden():
    caller = {"user_id": "u1", "roles": ["official"], "actor_id": "a1"}
    with pytest.raises(Forbidden, match="not a target"):
        require_official_for(caller, [])


@pytest.mark.parametrize("targets", [["a1", "a2"], ("a2", "a1"), {"a1"}, iter(["x", "a1"])])
def test_require_official_of_targeted_actor(targets):
    caller = {"user_id": "u9", "roles": ["citizen", "official"], "actor_id": "a1"}
    assert require_official_for(caller, targets) == "u9"


# --------------------------------------------------------------------------
# validate_response / check_can_respond
# --------------------------------------------------------------------------


@pytest.mark.parametrize("stance", ["commit", "decline", "other"])
def test_validate_response_each_stance(stance):
    out = validate_response({"stance": stance, "statement": "  We will do it.  "}, RULES)
    assert out == {"stance": stance, "statement": "We will do it."}


@pytest.mark.parametrize("stance", ["COMMIT", "commited", "yes", "", None, 1])
def test_validate_response_bad_stance(stance):
    with pytest.raises(ValidationFailed) as e:
        validate_response({"stance": stance, "statement": "ok"}, RULES)
    assert fields_of(e) == {"stance": STANCE_ERR}


@pytest.mark.parametrize("statement", ["", "   ", "\n\t ", None, 5, ["text"]])
def test_validate_response_empty_or_not_text(statement):
    with pytest.raises(ValidationFailed) as e:
        validate_response({"stance": "commit", "statement": statement}, RULES)
    assert fields_of(e) == {"statement": STATEMENT_ERR}


@pytest.mark.parametrize("statement, ok", [
    ("x", True),
    (" x ", True),
    ("s" * 5000, True),
    ("  " + "s" * 5000 + "  ", True),
    ("s" * 5001, False),
])
def test_validate_response_statement_bounds(statement, ok):
    data = {"stance": "decline", "statement": statement}
    if ok:
        assert validate_response(data, RULES)["statement"] == statement.strip()
    else:
        with pytest.raises(ValidationFailed) as e:
            validate_response(data, RULES)
        assert fields_of(e) == {"statement": STATEMENT_ERR}


def test_validate_response_keeps_inner_whitespace():
    out = validate_response({"stance": "other", "statement": "First.\n\nSecond   part."}, RULES)
    assert out["statement"] == "First.\n\nSecond   part."


def test_validate_response_both_errors():
    with pytest.raises(ValidationFailed) as e:
        validate_response({}, RULES)
    assert fields_of(e) == {"stance": STANCE_ERR, "statement": STATEMENT_ERR}


def test_validate_response_custom_statement_length():
    rules = LobbyingRules.from_mapping({"statement_length": ["3", "5"]})
    assert validate_response({"stance": "commit", "statement": "abc"}, rules)["statement"] == "abc"
    with pytest.raises(ValidationFailed) as e:
        validate_response({"stance": "commit", "statement": "ab"}, rules)
    assert fields_of(e) == {"statement": "must be 3 to 5 characters"}


def test_check_can_respond_commit_after_commit_conflicts():
    with pytest.raises(Conflict, match="already committed"):
        check_can_respond("commit", "commit")


@pytest.mark.parametrize("current, new", [
    (None, "commit"),
    (None, "decline"),
    (None, "other"),
    ("decline", "commit"),
    ("other", "commit"),
    ("commit", "decline"),
    ("commit", "other"),
    ("decline", "decline"),
    ("other", "other"),
    ("decline", "other"),
])
def test_check_can_respond_allowed(current, new):
    assert check_can_respond(current, new) is None


def test_check_can_respond_decline_then_commit_then_commit():
    check_can_respond(None, "decline")
    check_can_respond("decline", "commit")
    with pytest.raises(Conflict):
        check_can_respond("commit", "commit")


# --------------------------------------------------------------------------
# should_interpellate
# --------------------------------------------------------------------------


@pytest.mark.parametrize("state, expected", [
    ("not_contacted", True),
    ("interpellated", True),
    ("responded", False),
])
def test_should_interpellate(state, expected):
    assert should_interpellate(state) is expected


def test_should_interpellate_covers_every_state():
    assert {s: should_interpellate(s) for s in domain.TARGET_STATES} == {
        "not_contacted": True, "interpellated": True, "responded": False,
    }
