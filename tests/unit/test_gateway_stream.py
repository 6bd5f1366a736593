"""The gateway's event hub routes what it consumes: public events to the SSE clients (and
their replay buffer), the proposals' moderation events only to the hub's listeners."""
import json
from types import SimpleNamespace

from gateway.stream import INTERNAL, STREAMED, EventHub


def deliver(hub, source, event_type, data):
    event = {"event_id": f"{event_type}-1", "event_type": event_type, "data": data}
    hub._on_message(None, SimpleNamespace(exchange=f"{source}.events", routing_key=event_type), None,
                    json.dumps(event).encode())
    return event


def test_moderation_events_go_to_listeners_not_to_clients():
    hub, heard = EventHub("amqp://guest:guest@127.0.0.1:5672/"), []
    hub.listen("proposal_refused", heard.append)
    subscriber, _, _ = hub.subscribe({})
    event = deliver(hub, "proposals", "proposal_refused", {"proposal_id": "p1"})
    assert heard == [event]
    assert subscriber.queue.empty() and not hub.buffer


def test_public_events_go_to_clients_not_to_listeners():
    hub, heard = EventHub("amqp://guest:guest@127.0.0.1:5672/"), []
    for _, event_type in INTERNAL:
        hub.listen(event_type, heard.append)
    subscriber, _, _ = hub.subscribe({})
    event = deliver(hub, "voting", "proposal_emerged", {"proposal_id": "p1"})
    assert subscriber.queue.get_nowait() == event and list(hub.buffer) == [event]
    assert heard == []


def test_a_failing_listener_does_not_stop_the_others():
    hub, heard = EventHub("amqp://guest:guest@127.0.0.1:5672/"), []

    def broken(event):
        raise ValueError("bug")
    hub.listen("proposal_accepted", broken)
    hub.listen("proposal_accepted", heard.append)
    deliver(hub, "proposals", "proposal_accepted", {"proposal_id": "p1"})
    assert len(heard) == 1


def test_internal_and_streamed_do_not_overlap():
    assert not set(INTERNAL) & set(STREAMED)
