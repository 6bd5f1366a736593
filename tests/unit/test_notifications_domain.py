"""Pure rules of the notifications service: preferences, who hears what, digest periods
and grouping, the officials' send window, retry backoff, SMTP outcomes, unsubscribe
tokens."""
import smtplib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.notifications import domain
from services.notifications.domain import (AUTHOR_KINDS, FOLLOWER_KINDS, FREQUENCIES, USER_KINDS, NotificationRules,
                                           SendPolicy, ValidationFailed)

RULES = NotificationRules()
PARIS, BERLIN, LONDON = ZoneInfo("Europe/Paris"), ZoneInfo("Europe/Berlin"), ZoneInfo("Europe/London")
UTC = timezone.utc


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


# -- configuration ---------------------------------------------------------------------------------------
def test_rules_from_mapping_casts_and_merges():
    rules = NotificationRules.from_mapping({
        "max_attempts": "7", "backoff_base_seconds": 5, "digest_hour": "6", "unknown_key": 1,
        "default_frequencies": {"campaign_milestone_reached": "weekly"},
        "country_timezones": {"PT": "Europe/Lisbon"}, "links": {"proposal": "https://app/p/{proposal_id}"},
        "smtp": {"host": "ignored here"}, "public_url": "https://civic.example/"})
    assert rules.max_attempts == 7 and rules.backoff_base_seconds == 5.0 and rules.digest_hour == 6
    assert rules.default_frequencies["campaign_milestone_reached"] == "weekly"
    assert rules.default_frequencies["proposal_refused"] == "immediate"  # merged over the defaults
    assert rules.timezone_for("pt") == ZoneInfo("Europe/Lisbon") and rules.timezone_for("FR") == PARIS
    assert rules.link("proposal", proposal_id="p1") == "https://app/p/p1"
    assert rules.link("campaign", campaign_id="c1") == "https://civic.example/#/campaigns/c1"  # merged
    assert rules.link("unsubscribe", token="t") == "https://civic.example/api/v1/unsubscribe/t"
    assert rules.link("proposal") is None and rules.link("nothing") is None
    assert NotificationRules.from_mapping(None) == NotificationRules()


def test_links_open_the_web_client_and_unsubscribe_stays_an_api_url():
    rules = NotificationRules.from_mapping({"public_url": "https://civic.example/"})
    assert rules.link("proposal", proposal_id="p1") == "https://civic.example/#/p/p1"
    assert rules.link("question", question_id="q1") == "https://civic.example/#/q/q1"
    assert rules.link("campaign", campaign_id="c1") == "https://civic.example/#/campaigns/c1"
    assert rules.link("actor", actor_id="a1") == "https://civic.example/#/actors/a1"
    assert rules.link("inbox") == "https://civic.example/#/inbox"
    assert rules.link("preferences") == "https://civic.example/#/settings"
    assert rules.link("moderation") == "https://civic.example/#/moderation"
    # no login behind a one-click unsubscribe, and mail clients POST to it (RFC 8058): the API
    assert rules.link("unsubscribe", token="t.k") == "https://civic.example/api/v1/unsubscribe/t.k"
    assert all("/api/" not in rules.link(name, proposal_id="p", question_id="q", campaign_id="c", actor_id="a")
               for name in rules.links if name != "unsubscribe")
    # the public base URL comes from configuration; a link set to "" is turned off
    other = NotificationRules.from_mapping({"public_url": "http://localhost:8000", "links": {"actor": ""}})
    assert other.link("inbox") == "http://localhost:8000/#/inbox" and other.link("actor", actor_id="a1") is None


def test_rules_refuse_an_unknown_default_frequency():
    with pytest.raises(ValueError, match="default_frequencies"):
        NotificationRules.from_mapping({"default_frequencies": {"proposal_refused": "hourly"}})


def test_country_timezones():
    assert RULES.timezone_for("FR") == PARIS and RULES.timezone_for("BE") == PARIS
    assert RULES.timezone_for("LU") == PARIS and RULES.timezone_for("DE") == BERLIN
    assert RULES.timezone_for("CH") == BERLIN and RULES.timezone_for("GB") == LONDON
    assert RULES.timezone_for(None) == ZoneInfo("UTC") and RULES.timezone_for("XX") == ZoneInfo("UTC")
    broken = NotificationRules.from_mapping({"country_timezones": {"FR": "Mars/Olympus"}})
    assert broken.timezone_for("FR") == ZoneInfo("UTC")


def test_paging_caps_per_page():
    assert RULES.page(1, None) == (20, 0)
    assert RULES.page(3, 10) == (10, 20)
    assert RULES.page(1, 1000) == (100, 0)


# -- preferences -----------------------------------------------------------------------------------------
def test_default_frequencies():
    prefs = domain.all_preferences({}, RULES)
    assert set(prefs) == set(USER_KINDS)
    assert all(prefs[k] == "immediate" for k in AUTHOR_KINDS)  # the author's own news: at once
    assert all(prefs[k] == "daily" for k in FOLLOWER_KINDS)  # campaign and commitment news: daily digest
    assert prefs["moderation_summary"] == "immediate"


def test_explicit_preference_wins_and_garbage_is_ignored():
    explicit = {"proposal_refused": "off", "official_responded": "weekly", "campaign_started": "hourly"}
    assert domain.resolve_frequency("proposal_refused", explicit, RULES) == "off"
    assert domain.resolve_frequency("official_responded", explicit, RULES) == "weekly"
    assert domain.resolve_frequency("campaign_started", explicit, RULES) == "immediate"
    assert domain.resolve_frequency("something_new", None, RULES) == "immediate"


def test_validate_preferences_names_every_wrong_kind_and_frequency():
    assert domain.validate_preferences({"proposal_refused": "off"}) == {"proposal_refused": "off"}
    with pytest.raises(ValidationFailed) as err:
        domain.validate_preferences({"proposal_refused": "hourly", "spam": "daily", "proposal_accepted": "weekly"})
    assert set(err.value.fields) == {"proposal_refused", "spam"}
    assert "hourly" in err.value.fields["proposal_refused"] and "unknown kind" in err.value.fields["spam"]
    with pytest.raises(ValidationFailed) as err:
        domain.validate_preferences({"target_interpellated": "off"})  # officials' mails are not a user kind
    assert set(err.value.fields) == {"target_interpellated"}
    for bad in (None, [], {}, "daily"):
        with pytest.raises(ValidationFailed):
            domain.validate_preferences(bad)


@pytest.mark.parametrize("frequency, address, bounced, expected", [
    ("immediate", "a@b.org", False, "immediate"),
    ("daily", "a@b.org", False, "daily"),
    ("weekly", "a@b.org", False, "weekly"),
    ("off", "a@b.org", False, None),
    ("immediate", None, False, None),
    ("daily", "a@b.org", True, None),
])
def test_email_channel(frequency, address, bounced, expected):
    assert domain.email_channel(frequency, address, bounced) == expected


def test_unsubscribe_turns_off_the_mail_kind_or_the_whole_digest():
    assert domain.kinds_turned_off_by("proposal_accepted", {}, RULES) == ["proposal_accepted"]
    assert domain.kinds_turned_off_by("target_interpellated", {}, RULES) == []
    assert set(domain.kinds_turned_off_by("digest_daily", {}, RULES)) == set(FOLLOWER_KINDS)
    explicit = {"proposal_accepted": "weekly", "official_responded": "weekly"}
    assert set(domain.kinds_turned_off_by("digest_weekly", explicit, RULES)) == {"proposal_accepted",
                                                                                  "official_responded"}


# -- who hears what ---------------------------------------------------------------------------------------
def test_event_maps_cover_every_kind():
    assert set(domain.AUTHOR_EVENTS.values()) == set(AUTHOR_KINDS)
    assert set(domain.FOLLOWER_EVENTS.values()) == set(FOLLOWER_KINDS)
    assert set(domain.ALL_KINDS) == set(USER_KINDS) | {"target_interpellated"}


def test_author_recipient():
    assert domain.author_recipient("proposal_refused", {"author_id": "a1"}, None) == "a1"
    assert domain.author_recipient("proposal_emerged", {"author_id": "a1"}, "other") == "a1"
    assert domain.author_recipient("campaign_started", {"creator_id": "c1"}, "a1") == "a1"
    assert domain.author_recipient("campaign_started", {"creator_id": "a1"}, "a1") is None  # started it herself
    assert domain.author_recipient("commitment_made", {"proposal_id": "p1"}, "a1") == "a1"
    assert domain.author_recipient("commitment_made", {"proposal_id": None}, "a1") is None
    assert domain.author_recipient("proposal_accepted", {}, None) is None


def test_follower_sources():
    both = {"proposal_id": "p1", "campaign_id": "c1"}
    assert domain.follower_sources("campaign_milestone_reached", both) == [["voters", "p1"], ["supporters", "c1"]]
    assert domain.follower_sources("official_responded", both) == [["voters", "p1"], ["supporters", "c1"]]
    assert domain.follower_sources("commitment_status_changed", {"proposal_id": "p1"}) == [["voters", "p1"]]
    assert domain.follower_sources("commitment_status_changed", {"campaign_id": "c1"}) == [["supporters", "c1"]]
    assert domain.follower_sources("commitment_status_changed", {}) == []
    assert domain.follower_sources("proposal_accepted", both) == []  # author news: no fan-out


def test_people_who_caused_the_event_are_not_told():
    assert domain.excluded_recipients("official_responded", {"responded_by": "off-1"}) == {"off-1"}
    assert domain.excluded_recipients("commitment_status_changed", {"changed_by": "ed-1"}) == {"ed-1"}
    assert domain.excluded_recipients("campaign_milestone_reached", {}) == set()


def test_page_recipients_dedupes_and_excludes():
    assert domain.page_recipients(["u1", "u2", None, "", "u1", 7, "u3"], {"u3"}) == ["u1", "u2", "7"]
    assert domain.page_recipients(None) == []


def test_official_addresses():
    emails = [" Camille@Example.org ", "camille@example.org", "not-an-address", None, "b@x.org", "dead@x.org"]
    assert domain.official_addresses(emails, {"dead@x.org"}) == ["camille@example.org", "b@x.org"]
    assert domain.official_addresses(None) == []


def test_moderator_queue():
    total, rows = domain.moderator_queue(["q1", "q2", "q3", "q1"], {"q1": 3, "q2": 0, "q3": 7, "q9": 100})
    assert total == 10
    assert rows == [{"question_id": "q3", "count": 7}, {"question_id": "q1", "count": 3}]
    assert domain.moderator_queue([], {"q1": 1}) == (0, [])


# -- digests ------------------------------------------------------------------------------------------------
def test_daily_period_starts_at_the_local_digest_hour():
    # 06:30 UTC = 07:30 in Paris (winter): before 8:00, still yesterday's period
    key, start = domain.digest_period("daily", at(2026, 11, 24, 6, 30), PARIS, RULES)
    assert key == "2026-11-23" and start == at(2026, 11, 23, 7, 0)
    key, start = domain.digest_period("daily", at(2026, 11, 24, 7, 0), PARIS, RULES)
    assert key == "2026-11-24" and start == at(2026, 11, 24, 7, 0)
    key, start = domain.digest_period("daily", at(2026, 11, 24, 7, 30), LONDON, RULES)
    assert key == "2026-11-23" and start == at(2026, 11, 23, 8, 0)  # London is an hour behind Paris
    key, start = domain.digest_period("daily", at(2026, 7, 1, 6, 0), PARIS, RULES)  # summer time: 8:00 = 06:00 UTC
    assert key == "2026-07-01" and start == at(2026, 7, 1, 6, 0)


def test_weekly_period_starts_on_the_configured_day():
    # 2026-11-24 is a Tuesday; the week starts on Monday 8:00 local
    key, start = domain.digest_period("weekly", at(2026, 11, 24, 12, 0), PARIS, RULES)
    assert key == "W2026-11-23" and start == at(2026, 11, 23, 7, 0)
    key, _ = domain.digest_period("weekly", at(2026, 11, 23, 6, 0), PARIS, RULES)  # Monday 7:00 local
    assert key == "W2026-11-16"
    friday = NotificationRules.from_mapping({"weekly_digest_day": 4, "digest_hour": 17})
    key, start = domain.digest_period("weekly", at(2026, 11, 24, 12, 0), BERLIN, friday)
    assert key == "W2026-11-20" and start == at(2026, 11, 20, 16, 0)
    with pytest.raises(ValueError):
        domain.digest_period("hourly", at(2026, 11, 24), PARIS, RULES)


def test_summary_is_due_after_the_local_hour():
    assert domain.summary_period(at(2026, 11, 24, 6, 0), PARIS, RULES) is None  # 7:00 in Paris
    assert domain.summary_period(at(2026, 11, 24, 7, 0), PARIS, RULES) == "2026-11-24"
    assert domain.summary_period(at(2026, 11, 24, 6, 0), PARIS, RULES, force=True) == "2026-11-24"
    assert domain.summary_period(at(2026, 11, 24, 23, 30), PARIS, RULES) is None  # 00:30 on the 25th in Paris
    assert domain.summary_period(at(2026, 11, 24, 23, 30), PARIS, RULES, force=True) == "2026-11-25"  # local date


def test_digest_groups_by_kind_in_preferences_order():
    t = at(2026, 11, 24, 9)
    items = [
        {"id": 3, "kind": "official_responded", "created_at": t + timedelta(minutes=3)},
        {"id": 1, "kind": "campaign_milestone_reached", "created_at": t + timedelta(minutes=5)},
        {"id": 2, "kind": "proposal_accepted", "created_at": t},
        {"id": 4, "kind": "campaign_milestone_reached", "created_at": t + timedelta(minutes=1)},
    ]
    sections = domain.group_digest(items)
    assert [s["kind"] for s in sections] == ["proposal_accepted", "campaign_milestone_reached", "official_responded"]
    assert [s["count"] for s in sections] == [1, 2, 1]
    assert [i["id"] for i in sections[1]["items"]] == [4, 1]  # oldest first
    assert sum(s["count"] for s in sections) == len(items)
    assert domain.group_digest([]) == []


# -- the officials' send window ------------------------------------------------------------------------------
def test_policy_from_event_is_sanitised():
    assert SendPolicy.from_mapping(None) == SendPolicy(9, 18, 10)
    assert SendPolicy.from_mapping({"window_start_hour": 10, "window_end_hour": 12, "max_per_hour": 3}) == \
        SendPolicy(10, 12, 3)
    assert SendPolicy.from_mapping({"window_start_hour": 20, "window_end_hour": 8, "max_per_hour": 0}) == \
        SendPolicy(20, 21, 1)
    assert SendPolicy.from_mapping({"window_start_hour": "9", "max_per_hour": True}) == SendPolicy(9, 18, 10)


def test_inside_the_window_it_goes_now():
    now = at(2026, 11, 24, 10, 5)  # 11:05 in Paris
    assert domain.schedule_in_window(now, PARIS, SendPolicy(9, 18, 10), []) == now


def test_before_the_window_it_waits_for_the_local_opening():
    sent = domain.schedule_in_window(at(2026, 11, 24, 5, 0), PARIS, SendPolicy(9, 18, 10), [])
    assert sent == at(2026, 11, 24, 8, 0)  # 9:00 in Paris
    assert sent.astimezone(PARIS).hour == 9


def test_after_the_window_it_waits_for_the_next_day():
    sent = domain.schedule_in_window(at(2026, 11, 24, 17, 30), PARIS, SendPolicy(9, 18, 10), [])  # 18:30 Paris
    assert sent == at(2026, 11, 25, 8, 0)
    sent = domain.schedule_in_window(at(2026, 11, 24, 17, 30), LONDON, SendPolicy(9, 18, 10), [])  # 17:30 London
    assert sent == at(2026, 11, 24, 17, 30)


def test_window_follows_daylight_saving_time():
    # 2026-03-29: Paris moves from UTC+1 to UTC+2; 9:00 local is 07:00 UTC that day
    sent = domain.schedule_in_window(at(2026, 3, 28, 20, 0), PARIS, SendPolicy(9, 18, 10), [])
    assert sent == at(2026, 3, 29, 7, 0)


def test_hourly_cap_per_actor_spreads_messages():
    now = at(2026, 11, 24, 9, 0)  # 10:00 in Paris
    policy = SendPolicy(9, 18, 4)
    booked = []
    for _ in range(9):
        booked.append(domain.schedule_in_window(now, PARIS, policy, booked))
    hours = [b.hour for b in booked]
    assert hours == [9, 9, 9, 9, 10, 10, 10, 10, 11]  # at most 4 per hour
    assert [b.minute for b in booked[:4]] == [0, 15, 30, 45]  # spread across the hour
    assert booked == sorted(booked)


def test_cap_counts_what_is_already_booked_and_rolls_over_the_window():
    policy = SendPolicy(9, 18, 2)
    now = at(2026, 11, 24, 16, 10)  # 17:10 in Paris: the last hour of the window
    booked = [at(2026, 11, 24, 16, 0), at(2026, 11, 24, 16, 5)]  # this hour is full already
    assert domain.schedule_in_window(now, PARIS, policy, booked) == at(2026, 11, 25, 8, 0)
    booked = [at(2026, 11, 24, 16, 0)]
    assert domain.schedule_in_window(now, PARIS, policy, booked) == at(2026, 11, 24, 16, 30)


# -- retries ------------------------------------------------------------------------------------------------------
def test_exponential_backoff():
    rules = NotificationRules.from_mapping({"backoff_base_seconds": 60, "backoff_factor": 2,
                                            "backoff_max_seconds": 600, "max_attempts": 6})
    assert [domain.backoff_delay(n, rules) for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]
    now = at(2026, 11, 24, 10)
    assert domain.next_attempt(1, now, rules) == now + timedelta(seconds=60)
    assert domain.next_attempt(5, now, rules) == now + timedelta(seconds=600)
    assert domain.next_attempt(6, now, rules) is None  # that was the last try
    huge = NotificationRules.from_mapping({"backoff_factor": 1e308, "backoff_max_seconds": 30})
    assert domain.backoff_delay(5, huge) == 30


def test_smtp_outcomes():
    refused = smtplib.SMTPRecipientsRefused({"gone@x.org": (550, b"5.1.1 no such user")})
    assert domain.classify_smtp_error(refused, "gone@x.org") == ("bounce", "hard bounce: 550 5.1.1 no such user")
    full = smtplib.SMTPRecipientsRefused({"full@x.org": (452, b"4.2.2 mailbox full")})
    assert domain.classify_smtp_error(full, "full@x.org")[0] == "retry"
    assert domain.classify_smtp_error(smtplib.SMTPDataError(554, b"spam"), "a@x.org") == (
        "permanent", "message refused: 554 spam")
    assert domain.classify_smtp_error(smtplib.SMTPDataError(451, b"later"), "a@x.org")[0] == "retry"
    assert domain.classify_smtp_error(smtplib.SMTPSenderRefused(550, b"no", "from@x"), "a@x.org")[0] == "retry"
    assert domain.classify_smtp_error(ConnectionRefusedError(111, "refused"), "a@x.org")[0] == "retry"
    assert domain.classify_smtp_error(smtplib.SMTPServerDisconnected("gone"), "a@x.org")[0] == "retry"
    assert domain.classify_smtp_error(TimeoutError("slow"), "a@x.org") == ("retry", "TimeoutError: slow")


# -- unsubscribe tokens -----------------------------------------------------------------------------------------
SECRET = "unit-test-secret-0123456789"


def test_unsubscribe_token_round_trip():
    token = domain.make_unsubscribe_token(SECRET, "proposal_refused", "zoe@example.org", "user-1")
    assert "/" not in token and "+" not in token  # safe in a URL path
    assert domain.read_unsubscribe_token(SECRET, token, 3600) == {
        "kind": "proposal_refused", "email": "zoe@example.org", "user_id": "user-1"}
    official = domain.make_unsubscribe_token(SECRET, "target_interpellated", "mp@assemblee.example")
    assert domain.read_unsubscribe_token(SECRET, official, 3600)["user_id"] is None
    digest = domain.make_unsubscribe_token(SECRET, "digest_daily", "zoe@example.org", "user-1")
    assert domain.read_unsubscribe_token(SECRET, digest, 3600)["kind"] == "digest_daily"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # altered signature
    lambda t: "x" + t,
    lambda t: "",
    lambda t: None,
    lambda t: 42,
    lambda t: "a" * 3000,
    lambda t: domain.make_unsubscribe_token("another-secret", "proposal_refused", "zoe@example.org", "user-1"),
    lambda t: domain.make_unsubscribe_token(SECRET, "not_a_kind", "zoe@example.org", "user-1"),
])
def test_invalid_unsubscribe_tokens(mangle):
    token = domain.make_unsubscribe_token(SECRET, "proposal_refused", "zoe@example.org", "user-1")
    with pytest.raises(ValidationFailed) as err:
        domain.read_unsubscribe_token(SECRET, mangle(token), 3600)
    assert set(err.value.fields) == {"token"}


def test_expired_unsubscribe_token():
    token = domain.make_unsubscribe_token(SECRET, "proposal_refused", "zoe@example.org", "user-1")
    with pytest.raises(ValidationFailed) as err:
        domain.read_unsubscribe_token(SECRET, token, -1)
    assert "expired" in err.value.fields["token"]


def test_frequencies_are_the_documented_four():
    assert FREQUENCIES == ("immediate", "daily", "weekly", "off")
