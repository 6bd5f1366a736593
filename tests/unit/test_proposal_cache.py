"""The gateway's proposal content cache (gateway/proposal_cache.py): what it keeps, when it
forgets, and that it never serves what an event may have changed. The event feed is a
stand-in here (pure logic); tests/e2e/test_voting.py covers it over the real bus."""
import threading

import pytest

from gateway.proposal_cache import INVALIDATING, ProposalCache


class Feed:
    def __init__(self):
        self.connected = threading.Event()
        self.connected.set()
        self.epoch = 1
        self.listeners = {}

    def listen(self, event_type, callback):
        self.listeners.setdefault(event_type, []).append(callback)

    def publish(self, event_type, proposal_id):
        for callback in self.listeners.get(event_type, ()):
            callback({"event_id": "e", "event_type": event_type, "data": {"proposal_id": proposal_id}})


class Proposals:
    """The proposals service: accepted contents by id, counting the ids asked for."""

    def __init__(self, ids):
        self.content = {i: {"id": i, "content": f"text {i}"} for i in ids}
        self.asked = []
        self.during_fetch = None

    def __call__(self, ids):
        self.asked.append(list(ids))
        if self.during_fetch:
            self.during_fetch()
        return [dict(self.content[i]) for i in ids if i in self.content]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def feed():
    return Feed()


@pytest.fixture
def clock():
    return Clock()


def test_second_read_is_served_from_memory(feed, clock):
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a", "b", "c"])
    assert set(cache.get_many(["a", "b"], fetch)) == {"a", "b"}
    assert cache.get_many(["a", "b", "c"], fetch)["c"]["content"] == "text c"
    assert fetch.asked == [["a", "b"], ["c"]]
    assert cache.get_many(["c", "a"], fetch) == {"c": {"id": "c", "content": "text c"},
                                                  "a": {"id": "a", "content": "text a"}}
    assert len(fetch.asked) == 2


def test_unknown_or_unaccepted_ids_are_asked_again(feed, clock):
    """Only answers are kept: a proposal accepted a moment later shows at once."""
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a"])
    assert set(cache.get_many(["a", "later"], fetch)) == {"a"}
    fetch.content["later"] = {"id": "later", "content": "now accepted"}
    assert cache.get_many(["a", "later"], fetch)["later"]["content"] == "now accepted"
    assert fetch.asked == [["a", "later"], ["later"]]


def test_duplicates_asked_once(feed, clock):
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a", "b"])
    assert set(cache.get_many(["a", "b", "a"], fetch)) == {"a", "b"}
    assert fetch.asked == [["a", "b"]]


@pytest.mark.parametrize("event_type", INVALIDATING)
def test_a_moderation_event_drops_the_entry(feed, clock, event_type):
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a", "b"])
    cache.get_many(["a", "b"], fetch)
    fetch.content["a"]["content"] = "edited by a moderator"
    feed.publish(event_type, "a")
    got = cache.get_many(["a", "b"], fetch)
    assert got["a"]["content"] == "edited by a moderator" and fetch.asked[-1] == ["a"]


def test_a_refused_proposal_disappears(feed, clock):
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a", "b"])
    cache.get_many(["a", "b"], fetch)
    del fetch.content["a"]
    feed.publish("proposal_refused", "a")
    assert set(cache.get_many(["a", "b"], fetch)) == {"b"}


def test_an_answer_fetched_across_an_invalidation_is_not_kept(feed, clock):
    """The fetch may have read the proposal before the moderation its event reports."""
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a"])
    fetch.during_fetch = lambda: feed.publish("proposal_refused", "a")
    assert set(cache.get_many(["a"], fetch)) == {"a"}  # this answer is what was read
    fetch.during_fetch = None
    del fetch.content["a"]
    assert cache.get_many(["a"], fetch) == {}
    assert len(cache) == 0


def test_nothing_kept_or_served_while_the_feed_is_down(feed, clock):
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a"])
    cache.get_many(["a"], fetch)
    feed.connected.clear()
    cache.get_many(["a"], fetch)
    cache.get_many(["a"], fetch)
    assert fetch.asked == [["a"]] * 3 and len(cache) == 0


def test_a_reconnection_forgets_everything(feed, clock):
    """Events may have been missed while the feed was away."""
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a"])
    cache.get_many(["a"], fetch)
    feed.epoch += 1  # lost and found again between two reads
    fetch.content["a"]["content"] = "changed while we were away"
    assert cache.get_many(["a"], fetch)["a"]["content"] == "changed while we were away"
    assert len(fetch.asked) == 2


def test_a_fetch_across_a_reconnection_is_not_kept(feed, clock):
    cache, fetch = ProposalCache(feed, clock=clock), Proposals(["a"])

    def reconnect():
        feed.epoch += 1
    fetch.during_fetch = reconnect
    cache.get_many(["a"], fetch)
    assert len(cache) == 0


def test_entries_expire(feed, clock):
    cache, fetch = ProposalCache(feed, ttl=60, clock=clock), Proposals(["a"])
    cache.get_many(["a"], fetch)
    clock.now += 59
    cache.get_many(["a"], fetch)
    assert len(fetch.asked) == 1
    clock.now += 2
    cache.get_many(["a"], fetch)
    assert len(fetch.asked) == 2


def test_least_recently_used_go_first(feed, clock):
    cache, fetch = ProposalCache(feed, size=2, clock=clock), Proposals(["a", "b", "c"])
    cache.get_many(["a"], fetch)
    cache.get_many(["b"], fetch)
    cache.get_many(["a"], fetch)  # a is now more recent than b
    cache.get_many(["c"], fetch)  # b goes
    assert len(cache) == 2
    cache.get_many(["a", "c"], fetch)
    assert fetch.asked == [["a"], ["b"], ["c"]]
    cache.get_many(["b"], fetch)
    assert fetch.asked[-1] == ["b"]


def test_size_zero_keeps_nothing(feed, clock):
    cache, fetch = ProposalCache(feed, size=0, clock=clock), Proposals(["a"])
    cache.get_many(["a"], fetch)
    cache.get_many(["a"], fetch)
    assert len(fetch.asked) == 2


def test_hits_and_misses_are_counted(feed, clock):
    seen = []
    cache = ProposalCache(feed, clock=clock, observe=lambda hits, misses: seen.append((hits, misses)))
    fetch = Proposals(["a", "b"])
    cache.get_many(["a"], fetch)
    cache.get_many(["a", "b"], fetch)
    assert seen == [(0, 1), (1, 1)]


def test_a_fetch_failure_keeps_nothing_and_propagates(feed, clock):
    cache = ProposalCache(feed, clock=clock)

    def down(ids):
        raise RuntimeError("proposals unavailable")
    with pytest.raises(RuntimeError):
        cache.get_many(["a"], down)
    assert len(cache) == 0
