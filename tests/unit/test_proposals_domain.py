"""Unit tests of the pure proposals domain (services/proposals/domain.py)."""

import dataclasses
import random
from datetime import datetime, timedelta, timezone

import pytest

from services.proposals import domain
from services.proposals.domain import (
    Caller,
    Forbidden,
    IllegalTransition,
    Locked,
    ProposalRules,
    Status,
    ValidationFailed,
)

RULES = ProposalRules()
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
US = timedelta(microseconds=1)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_validation_failed_keeps_fields_and_args():
    err = ValidationFailed({"content": "too short"})
    assert err.fields == {"content": "too short"}
    assert err.args[0] == {"content": "too short"}
    assert isinstance(err, domain.DomainError)


@pytest.mark.parametrize("cls", [IllegalTransition, Forbidden, Locked])
def test_other_errors_are_domain_errors_with_message(cls):
    err = cls("some message")
    assert isinstance(err, domain.DomainError)
    assert str(err) == "some message"


# --------------------------------------------------------------------------
# ProposalRules
# --------------------------------------------------------------------------


def test_rules_defaults():
    assert RULES.min_length == 12
    assert RULES.max_length == 140
    assert RULES.lock_seconds == 15
    assert RULES.duplicate_min_score == 0.3
    assert RULES.duplicate_limit == 5
    assert dict(RULES.country_languages) == {
        "FR": ("fr",),
        "DE": ("de",),
        "GB": ("en",),
        "BE": ("nl", "fr"),
        "CH": ("de", "fr", "it"),
        "LU": ("fr", "de"),
    }


def test_rules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES.min_length = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        RULES.country_languages["US"] = ("en",)  # type: ignore[index]


def test_rules_default_tables_are_not_shared_mutable_state():
    a, b = ProposalRules(), ProposalRules()
    assert a == b
    assert "US" not in a.country_languages


def test_rules_from_mapping_overrides_and_ignores_unknown_keys():
    rules = ProposalRules.from_mapping({
        "min_length": 5,
        "lock_seconds": "30",
        "duplicate_min_score": "0.5",
        "country_languages": {"IT": ["it"], "BE": ["fr", "nl"]},
        "AMQP_URI": "amqp://guest@localhost",
        "unknown": object(),
    })
    assert rules.min_length == 5
    assert rules.max_length == 140
    assert rules.lock_seconds == 30
    assert rules.duplicate_min_score == 0.5
    assert rules.duplicate_limit == 5
    assert dict(rules.country_languages) == {"IT": ("it",), "BE": ("fr", "nl")}


@pytest.mark.parametrize("empty", [None, {}])
def test_rules_from_empty_mapping_gives_defaults(empty):
    assert ProposalRules.from_mapping(empty) == ProposalRules()


@pytest.mark.parametrize("overrides, field", [
    ({"min_length": 20, "max_length": 10}, "max_length"),
    ({"min_length": 0}, "min_length"),
    ({"lock_seconds": 0}, "lock_seconds"),
    ({"lock_seconds": "soon"}, "lock_seconds"),
    ({"duplicate_min_score": 1.5}, "duplicate_min_score"),
    ({"duplicate_limit": -1}, "duplicate_limit"),
    ({"country_languages": {"FR": []}}, "country_languages"),
])
def test_rules_reject_inconsistent_values(overrides, field):
    with pytest.raises(ValidationFailed) as exc:
        ProposalRules.from_mapping(overrides)
    assert field in exc.value.fields


# --------------------------------------------------------------------------
# Statuses and transitions
# --------------------------------------------------------------------------


def test_status_values():
    assert [s.value for s in Status] == [
        "pending", "accepted", "refused", "postponed", "archived"]
    assert Status("pending") is Status.PENDING
    assert Status.ACCEPTED == "accepted"


def test_refusal_reasons():
    assert domain.REFUSAL_REASONS == (
        "incomprehensible", "off-topic", "partisan", "legal", "advertising",
        "multiple-ideas", "invalid-language", "rudeness",
        "out-of-political-scope", "already-exists", "test", "other")


# Written out by hand from the product rules: (status, action) -> allowed.
ALLOWED = {
    ("pending", "accept"): True,
    ("accepted", "accept"): False,
    ("refused", "accept"): True,
    ("postponed", "accept"): True,
    ("archived", "accept"): False,
    ("pending", "refuse"): True,
    ("accepted", "refuse"): True,
    ("refused", "refuse"): False,
    ("postponed", "refuse"): True,
    ("archived", "refuse"): False,
    ("pending", "postpone"): True,
    ("accepted", "postpone"): False,
    ("refused", "postpone"): False,
    ("postponed", "postpone"): False,
    ("archived", "postpone"): False,
    ("pending", "archive"): True,
    ("accepted", "archive"): True,
    ("refused", "archive"): True,
    ("postponed", "archive"): True,
    ("archived", "archive"): False,
}
RESULT = {"accept": Status.ACCEPTED, "refuse": Status.REFUSED,
          "postpone": Status.POSTPONED, "archive": Status.ARCHIVED}


def _do(action, current):
    if action == "refuse":
        return domain.refuse(current, "off-topic")
    return getattr(domain, action)(current)


def test_transition_table_covers_every_pair():
    assert len(ALLOWED) == 5 * 4


@pytest.mark.parametrize("status, action", sorted(ALLOWED))
def test_transition(status, action):
    for current in (status, Status(status)):  # str and enum both accepted
        if ALLOWED[(status, action)]:
            new = _do(action, current)
            assert new is RESULT[action]
        else:
            with pytest.raises(IllegalTransition) as exc:
                _do(action, current)
            message = str(exc.value)
            assert status in message and action in message
            assert exc.value.status == status
            assert exc.value.action == action


@pytest.mark.parametrize("status", [s.value for s in Status])
def test_allowed_actions_match_table(status):
    expected = {a for (s, a), ok in ALLOWED.items() if s == status and ok}
    assert domain.allowed_actions(status) == expected


@pytest.mark.parametrize("action", ["accept", "refuse", "postpone", "archive"])
def test_unknown_status_is_a_validation_error(action):
    with pytest.raises(ValidationFailed) as exc:
        _do(action, "deleted")
    assert "status" in exc.value.fields


@pytest.mark.parametrize("reason", domain.REFUSAL_REASONS)
def test_refuse_accepts_every_listed_reason(reason):
    assert domain.refuse("pending", reason) is Status.REFUSED


@pytest.mark.parametrize("reason", [None, "", "spam", "Off-Topic", " other", 3])
def test_refuse_requires_a_listed_reason(reason):
    with pytest.raises(ValidationFailed) as exc:
        domain.refuse("pending", reason)
    assert set(exc.value.fields) == {"reason"}


def test_refuse_checks_the_transition_before_the_reason():
    with pytest.raises(IllegalTransition):
        domain.refuse("archived", None)


# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------


def _content_error(content, rules=RULES):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_content(content, rules)
    assert set(exc.value.fields) == {"content"}
    return exc.value.fields["content"]


@pytest.mark.parametrize("char", ["a", "é", "😀"])
@pytest.mark.parametrize("length", [12, 13, 139, 140])
def test_content_length_accepted(char, length):
    assert domain.validate_content(char * length, RULES) == char * length


@pytest.mark.parametrize("char", ["a", "é", "😀"])
@pytest.mark.parametrize("length", [0, 1, 11, 141, 500])
def test_content_length_refused(char, length):
    message = _content_error(char * length)
    assert "must be between 12 and 140 characters" in message


def test_content_is_stripped_before_counting():
    assert domain.validate_content("  \t" + "a" * 12 + "\n ", RULES) == "a" * 12
    assert domain.validate_content(" " + "b" * 140 + " ", RULES) == "b" * 140
    _content_error("   " + "a" * 11 + "   ")
    _content_error("\n" + "a" * 141 + "\n")


def test_content_internal_whitespace_is_collapsed():
    # 5 + 1 + 6 = 12 characters once the run of whitespace becomes one space
    assert (domain.validate_content("aaaaa \t\n  aaaaaa", RULES)
            == "aaaaa aaaaaa")
    # 5 + 1 + 5 = 11 characters: too short although the raw string is 15
    _content_error("aaaaa    \n aaaaa")


def test_content_is_nfc_normalized_before_counting():
    decomposed = "e\u0301"  # e + combining acute accent = "é"
    assert len(decomposed * 140) == 280
    assert domain.validate_content(decomposed * 140, RULES) == "\u00e9" * 140
    assert domain.validate_content(decomposed * 12, RULES) == "\u00e9" * 12
    _content_error(decomposed * 141)
    _content_error(decomposed * 11)


def test_content_realistic_proposal():
    text = "  Il faut   rénover les écoles\u00a0publiques  "
    assert (domain.validate_content(text, RULES, language="fr")
            == "Il faut rénover les écoles publiques")


@pytest.mark.parametrize("content", [None, 123, b"Il faut des pistes", ["x"]])
def test_content_must_be_a_string(content):
    _content_error(content)


def test_content_limits_come_from_rules():
    rules = ProposalRules(min_length=3, max_length=5)
    assert domain.validate_content("abc", rules) == "abc"
    assert domain.validate_content("abcde", rules) == "abcde"
    assert "between 3 and 5" in _content_error("ab", rules)
    assert "between 3 and 5" in _content_error("abcdef", rules)


def test_content_prefix_is_not_enforced():
    text = "Rénover toutes les écoles"
    assert domain.validate_content(text, RULES, language="fr") == text


@pytest.mark.parametrize("language, prefix", [
    ("fr", "Il faut"),
    ("en", "We should"),
    ("de", "Man sollte"),
    ("FR", "Il faut"),
    ("de-CH", "Man sollte"),
    ("fr_BE", "Il faut"),
    ("it", "We should"),
    ("nl", "We should"),
    ("", "We should"),
    (None, "We should"),
])
def test_proposal_prefix(language, prefix):
    assert domain.proposal_prefix(language) == prefix


# --------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------

ALLOWED_PAIRS = [
    ("FR", "fr"), ("DE", "de"), ("GB", "en"), ("BE", "nl"), ("BE", "fr"),
    ("CH", "de"), ("CH", "fr"), ("CH", "it"), ("LU", "fr"), ("LU", "de"),
]
ALL_LANGUAGES = ["fr", "de", "en", "nl", "it"]
WRONG_PAIRS = [
    (c, lang)
    for c in ["FR", "DE", "GB", "BE", "CH", "LU"]
    for lang in ALL_LANGUAGES
    if (c, lang) not in ALLOWED_PAIRS
]


def test_wrong_pairs_list_is_complete():
    assert len(WRONG_PAIRS) == 6 * 5 - 10


@pytest.mark.parametrize("country, language", ALLOWED_PAIRS)
def test_allowed_country_language(country, language):
    assert domain.validate_country_language(country, language, RULES) is None


@pytest.mark.parametrize("country, language", WRONG_PAIRS)
def test_wrong_language_for_country(country, language):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_country_language(country, language, RULES)
    assert set(exc.value.fields) == {"language"}
    message = exc.value.fields["language"]
    for allowed in RULES.country_languages[country]:
        assert allowed in message


@pytest.mark.parametrize("language", ["FR", "fr-FR", "", None, "french"])
def test_malformed_language(language):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_country_language("FR", language, RULES)
    assert set(exc.value.fields) == {"language"}


@pytest.mark.parametrize("country", ["US", "fr", "", None, "FRA", "UK"])
def test_unknown_country(country):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_country_language(country, "fr", RULES)
    assert set(exc.value.fields) == {"country"}
    with pytest.raises(ValidationFailed) as exc:
        domain.default_language(country, RULES)
    assert set(exc.value.fields) == {"country"}


@pytest.mark.parametrize("country, language", [
    ("FR", "fr"), ("DE", "de"), ("GB", "en"), ("BE", "nl"), ("CH", "de"),
    ("LU", "fr"),
])
def test_default_language(country, language):
    assert domain.default_language(country, RULES) == language


def test_country_languages_come_from_rules():
    rules = ProposalRules(country_languages={"IT": ("it", "de")})
    assert domain.default_language("IT", rules) == "it"
    domain.validate_country_language("IT", "de", rules)
    with pytest.raises(ValidationFailed):
        domain.validate_country_language("FR", "fr", rules)


START = T0
END = T0 + timedelta(days=30)


@pytest.mark.parametrize("now, expected", [
    (START - timedelta(days=1), "upcoming"),
    (START - US, "upcoming"),
    (START, "open"),
    (START + US, "open"),
    (END - US, "open"),
    (END, "finished"),
    (END + timedelta(days=1), "finished"),
])
def test_question_status(now, expected):
    assert domain.question_status(START, END, now) == expected


def test_question_dates_valid():
    assert domain.validate_question_dates(START, START + US) is None
    assert domain.validate_question_dates(START, END) is None


@pytest.mark.parametrize("ends_at", [START, START - US, START - timedelta(days=3)])
def test_question_dates_end_not_after_start(ends_at):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_question_dates(START, ends_at)
    assert set(exc.value.fields) == {"ends_at"}


def test_question_dates_mixed_timezone_awareness():
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_question_dates(START, datetime(2030, 1, 1))
    assert set(exc.value.fields) == {"ends_at"}


@pytest.mark.parametrize("starts_at, ends_at, fields", [
    (None, END, {"starts_at"}),
    (START, None, {"ends_at"}),
    ("2024-01-01", "2024-02-01", {"starts_at", "ends_at"}),
])
def test_question_dates_must_be_datetimes(starts_at, ends_at, fields):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_question_dates(starts_at, ends_at)
    assert set(exc.value.fields) == fields


@pytest.mark.parametrize("slug", [
    "abc", "a-b", "123", "climat-2024", "---", "a" * 80,
    "ville-de-paris-mobilite",
])
def test_valid_slug(slug):
    assert domain.validate_slug(slug) == slug


@pytest.mark.parametrize("slug", [
    "", "ab", "a" * 81, "Climat", "climat_2024", "climat 2024", "mobilité",
    "abc\n", "abc.", "abc/def", None, 123,
])
def test_invalid_slug(slug):
    with pytest.raises(ValidationFailed) as exc:
        domain.validate_slug(slug)
    assert set(exc.value.fields) == {"slug"}


def test_scopes():
    assert domain.SCOPES == ("local", "national", "european")
    for scope in domain.SCOPES:
        assert domain.validate_scope(scope) == scope
    for bad in ("global", "Local", "", None):
        with pytest.raises(ValidationFailed) as exc:
            domain.validate_scope(bad)
        assert set(exc.value.fields) == {"scope"}


# --------------------------------------------------------------------------
# Roles and permissions
# --------------------------------------------------------------------------

QID = "q-42"
OTHER_QID = "q-7"

CALLERS = {
    "anonymous": None,
    "citizen": {"user_id": "u1", "roles": ["citizen"]},
    "citizen-with-stray-questions": {
        "user_id": "u1b", "roles": ["citizen"], "moderated_questions": [QID]},
    "official": {"user_id": "u6", "roles": ["official"]},
    "moderator-other": {"user_id": "u2", "roles": ["moderator"],
                        "moderated_questions": [OTHER_QID]},
    "moderator-this": {"user_id": "u3", "roles": ["moderator", "citizen"],
                       "moderated_questions": [OTHER_QID, QID]},
    "admin": {"user_id": "u4", "roles": ["admin"]},
    "roles-without-user": {"roles": ["admin", "moderator"],
                           "moderated_questions": [QID]},
}

CAN_MODERATE = {
    "anonymous": False,
    "citizen": False,
    "citizen-with-stray-questions": False,
    "official": False,
    "moderator-other": False,
    "moderator-this": True,
    "admin": True,
    "roles-without-user": False,
}
AUTHENTICATED = {
    "anonymous": False,
    "citizen": True,
    "citizen-with-stray-questions": True,
    "official": True,
    "moderator-other": True,
    "moderator-this": True,
    "admin": True,
    "roles-without-user": False,
}


def test_caller_from_mapping():
    caller = Caller.from_mapping({
        "user_id": 17, "roles": ["moderator", "citizen"],
        "moderated_questions": [1, "q-2"]})
    assert caller == Caller(user_id="17",
                            roles=frozenset({"moderator", "citizen"}),
                            moderated_questions=frozenset({"1", "q-2"}))


@pytest.mark.parametrize("d", [None, {}, {"user_id": None}])
def test_caller_from_mapping_anonymous(d):
    caller = Caller.from_mapping(d)
    assert caller.user_id is None
    assert caller.roles == frozenset()
    assert caller.moderated_questions == frozenset()
    assert not caller.is_authenticated


@pytest.mark.parametrize("name", sorted(CALLERS))
def test_can_moderate(name):
    caller = Caller.from_mapping(CALLERS[name])
    assert domain.can_moderate(caller, QID) is CAN_MODERATE[name]


@pytest.mark.parametrize("name", sorted(CALLERS))
def test_require_moderator(name):
    caller = Caller.from_mapping(CALLERS[name])
    if CAN_MODERATE[name]:
        assert domain.require_moderator(caller, QID) is None
    else:
        with pytest.raises(Forbidden) as exc:
            domain.require_moderator(caller, QID)
        if not AUTHENTICATED[name]:
            assert str(exc.value) == "login required"
        else:
            assert QID in str(exc.value)


def test_moderator_question_ids_compare_as_strings():
    caller = Caller.from_mapping({"user_id": "u", "roles": ["moderator"],
                                  "moderated_questions": [42]})
    assert domain.can_moderate(caller, 42)
    assert domain.can_moderate(caller, "42")
    assert not domain.can_moderate(caller, 43)


@pytest.mark.parametrize("name", sorted(CALLERS))
def test_require_admin(name):
    caller = Caller.from_mapping(CALLERS[name])
    if name == "admin":
        assert domain.require_admin(caller) is None
    else:
        with pytest.raises(Forbidden) as exc:
            domain.require_admin(caller)
        expected = "login required" if not AUTHENTICATED[name] else "admin role required"
        assert str(exc.value) == expected


@pytest.mark.parametrize("name", sorted(CALLERS))
def test_require_authenticated(name):
    caller = Caller.from_mapping(CALLERS[name])
    if AUTHENTICATED[name]:
        assert domain.require_authenticated(caller) is None
    else:
        with pytest.raises(Forbidden) as exc:
            domain.require_authenticated(caller)
        assert str(exc.value) == "login required"


@pytest.mark.parametrize("name, scope", [
    ("anonymous", frozenset()),
    ("citizen", frozenset()),
    ("citizen-with-stray-questions", frozenset()),
    ("official", frozenset()),
    ("moderator-other", frozenset({OTHER_QID})),
    ("moderator-this", frozenset({OTHER_QID, QID})),
    ("admin", None),
    ("roles-without-user", frozenset()),
])
def test_moderated_scope(name, scope):
    assert domain.moderated_scope(Caller.from_mapping(CALLERS[name])) == scope


def test_admin_who_is_also_moderator_sees_everything():
    caller = Caller.from_mapping({"user_id": "u", "roles": ["moderator", "admin"],
                                  "moderated_questions": [QID]})
    assert domain.moderated_scope(caller) is None
    assert domain.can_moderate(caller, "any-question")


def test_roles_tuple():
    assert set(domain.ROLES) == {"citizen", "moderator", "admin", "official",
                                 "organisation"}


# --------------------------------------------------------------------------
# Moderation lock
# --------------------------------------------------------------------------

LOCK_UNTIL = T0 + timedelta(seconds=15)


@pytest.mark.parametrize("locked_by, locked_until, moderator, now, free", [
    (None, None, "m1", T0, True),              # no lock
    ("m2", None, "m1", T0, True),              # no expiry = no lock
    ("m2", LOCK_UNTIL, "m1", T0, False),       # held by another
    ("m2", LOCK_UNTIL, "m1", LOCK_UNTIL - US, False),  # last instant held
    ("m2", LOCK_UNTIL, "m1", LOCK_UNTIL, True),         # expired exactly now
    ("m2", LOCK_UNTIL, "m1", LOCK_UNTIL + US, True),
    ("m1", LOCK_UNTIL, "m1", T0, True),        # same moderator renews
    (7, LOCK_UNTIL, "7", T0, True),            # ids compare as strings
    (7, LOCK_UNTIL, "8", T0, False),
])
def test_lock(locked_by, locked_until, moderator, now, free):
    assert domain.can_take_lock(locked_by, locked_until, moderator, now) is free
    if free:
        assert domain.check_lock(locked_by, locked_until, moderator, now) is None
    else:
        with pytest.raises(Locked) as exc:
            domain.check_lock(locked_by, locked_until, moderator, now)
        assert str(exc.value) == (
            "locked by another moderator until " + locked_until.isoformat())
        assert exc.value.locked_until == locked_until


def test_new_lock_until():
    assert domain.new_lock_until(T0, RULES) == T0 + timedelta(seconds=15)
    rules = ProposalRules(lock_seconds=60)
    assert domain.new_lock_until(T0, rules) == T0 + timedelta(seconds=60)


def test_lock_lifecycle_with_rules():
    until = domain.new_lock_until(T0, RULES)
    assert not domain.can_take_lock("m1", until, "m2", T0 + timedelta(seconds=14))
    assert domain.can_take_lock("m1", until, "m2", T0 + timedelta(seconds=15))


# --------------------------------------------------------------------------
# Moderation queue
# --------------------------------------------------------------------------


def _item(pid, author, minutes):
    return {"id": pid, "author_id": author,
            "created_at": T0 + timedelta(minutes=minutes), "content": pid}


QUEUE = [
    _item("p1", "alice", 30),
    _item("p2", "bob", 10),
    _item("p3", "alice", 5),
    _item("p4", "carol", 20),
    _item("p5", "bob", 40),
    _item("p6", "dave", 10),   # same oldest date as bob: tie on author_id
    _item("p7", "alice", 50),
]
EXPECTED_GROUPS = [
    ("alice", ["p3", "p1", "p7"]),   # oldest at 5
    ("bob", ["p2", "p5"]),           # oldest at 10, "bob" < "dave"
    ("dave", ["p6"]),                # oldest at 10
    ("carol", ["p4"]),               # oldest at 20
]


def _shape(groups):
    return [(g["author_id"], [p["id"] for p in g["proposals"]]) for g in groups]


@pytest.mark.parametrize("seed", range(5))
def test_group_queue_order_is_independent_of_input_order(seed):
    items = list(QUEUE)
    random.Random(seed).shuffle(items)
    groups = domain.group_queue(items, 10)
    assert _shape(groups) == EXPECTED_GROUPS
    assert set(groups[0]) == {"author_id", "proposals"}
    assert groups[0]["proposals"][0] is next(i for i in QUEUE if i["id"] == "p3")


@pytest.mark.parametrize("limit, expected", [
    (0, []),
    (1, EXPECTED_GROUPS[:1]),
    (2, EXPECTED_GROUPS[:2]),
    (4, EXPECTED_GROUPS),
    (100, EXPECTED_GROUPS),
    (None, EXPECTED_GROUPS),
])
def test_group_queue_limit(limit, expected):
    assert _shape(domain.group_queue(QUEUE, limit)) == expected


def test_group_queue_empty():
    assert domain.group_queue([], 5) == []
    assert domain.group_queue(iter(()), 5) == []


def test_group_queue_same_instant_same_author_tie_broken_by_id():
    items = [_item("b", "x", 0), _item("a", "x", 0)]
    assert _shape(domain.group_queue(items, 1)) == [("x", ["a", "b"])]


@pytest.mark.parametrize("limit", [-1, 1.5, "3"])
def test_group_queue_rejects_bad_limit(limit):
    with pytest.raises(ValidationFailed) as exc:
        domain.group_queue(QUEUE, limit)
    assert set(exc.value.fields) == {"limit"}


# --------------------------------------------------------------------------
# Likely duplicates
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Il FAUT", "il faut"),
    ("  Rénover   les écoles !  ", "renover les ecoles"),
    ("l'école, c'est-à-dire", "l ecole c est a dire"),
    ("Straße", "strasse"),
    ("ÇA VA?", "ca va"),
    ("¡¿...!?", ""),
    ("", ""),
    (None, ""),
])
def test_normalize_for_similarity(text, expected):
    assert domain.normalize_for_similarity(text) == expected


def test_trigrams_single_word():
    assert domain.trigrams("cat") == {"  c", " ca", "cat", "at "}


def test_trigrams_short_words():
    assert domain.trigrams("a") == {"  a", " a "}
    assert domain.trigrams("Ab") == {"  a", " ab", "ab "}


def test_trigrams_several_words_are_normalized_and_merged():
    assert domain.trigrams("Le chat!") == {
        "  l", " le", "le ",
        "  c", " ch", "cha", "hat", "at ",
    }
    assert domain.trigrams("le LE lé") == {"  l", " le", "le "}


def test_trigrams_empty():
    assert domain.trigrams("") == set()
    assert domain.trigrams(" ?! ") == set()


def test_similarity_hand_computed_single_word():
    # "  chat " -> {"  c", " ch", "cha", "hat", "at "}          (5)
    # "  chats "-> {"  c", " ch", "cha", "hat", "ats", "ts "}   (6)
    # shared 4, union 5 + 6 - 4 = 7
    assert domain.similarity("chat", "chats") == pytest.approx(4 / 7)


def test_similarity_hand_computed_two_words():
    # "le chat":  {"  l"," le","le ","  c"," ch","cha","hat","at "}             (8)
    # "le chien": {"  l"," le","le ","  c"," ch","chi","hie","ien","en "}       (9)
    # shared {"  l"," le","le ","  c"," ch"} = 5, union 8 + 9 - 5 = 12
    assert domain.similarity("le chat", "le chien") == pytest.approx(5 / 12)
    assert domain.similarity("le chien", "le chat") == pytest.approx(5 / 12)


@pytest.mark.parametrize("a, b", [
    ("Il faut des pistes cyclables", "il faut des pistes cyclables"),
    ("Il faut rénover les écoles", "  IL FAUT renover, les ecoles !"),
])
def test_similarity_identical_after_normalization(a, b):
    assert domain.similarity(a, b) == 1.0


@pytest.mark.parametrize("a, b", [
    ("", "chat"), ("chat", ""), ("", ""), ("?!", "?!"), (None, "chat"),
])
def test_similarity_empty(a, b):
    assert domain.similarity(a, b) == 0.0


def test_similarity_disjoint():
    assert domain.similarity("abc", "xyz") == 0.0


CANDIDATES = [
    ("c1", "le chien"),   # 5/12 = 0.41666...
    ("c2", "voiture"),    # 0
    ("c3", "chats"),      # le chat vs chats: shared 4, union 8 + 6 - 4 = 10 -> 0.4
    ("c4", "Le chat !"),  # 1.0
    ("c5", "le"),         # 3/8 = 0.375
]


def test_rank_duplicates_default_rules():
    assert domain.rank_duplicates("le chat", CANDIDATES, RULES) == [
        {"id": "c4", "content": "Le chat !", "score": 1.0},
        {"id": "c1", "content": "le chien", "score": 0.417},
        {"id": "c3", "content": "chats", "score": 0.4},
        {"id": "c5", "content": "le", "score": 0.375},
    ]


@pytest.mark.parametrize("min_score, expected_ids", [
    (0.375, ["c4", "c1", "c3", "c5"]),   # threshold is inclusive
    (0.376, ["c4", "c1", "c3"]),
    (0.4, ["c4", "c1", "c3"]),
    (0.41, ["c4", "c1"]),
    (0.42, ["c4"]),
    (1.0, ["c4"]),
    (0.0, ["c4", "c1", "c3", "c5", "c2"]),
])
def test_rank_duplicates_threshold(min_score, expected_ids):
    rules = ProposalRules(duplicate_min_score=min_score)
    found = domain.rank_duplicates("le chat", CANDIDATES, rules)
    assert [d["id"] for d in found] == expected_ids


@pytest.mark.parametrize("limit, expected_ids", [
    (0, []), (1, ["c4"]), (2, ["c4", "c1"]), (10, ["c4", "c1", "c3", "c5"]),
])
def test_rank_duplicates_limit(limit, expected_ids):
    rules = ProposalRules(duplicate_limit=limit)
    found = domain.rank_duplicates("le chat", CANDIDATES, rules)
    assert [d["id"] for d in found] == expected_ids


def test_rank_duplicates_default_limit_is_five():
    candidates = [(i, "le chat") for i in range(8)]
    found = domain.rank_duplicates("le chat", candidates, RULES)
    assert [d["id"] for d in found] == [0, 1, 2, 3, 4]  # ties keep input order


def test_rank_duplicates_nothing_similar():
    assert domain.rank_duplicates("le chat", [("x", "voiture")], RULES) == []
    assert domain.rank_duplicates("", CANDIDATES, RULES) == []
    assert domain.rank_duplicates("le chat", [], RULES) == []
