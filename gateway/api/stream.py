"""GET /api/v1/stream: Server-Sent Events of commitments, campaign milestones, officials'
responses and emergence, filterable by actor, proposal, campaign or country."""
import queue
import time

from flask import Response, current_app, request, stream_with_context

from gateway import schemas
from gateway.blueprint import Blueprint
from gateway.stream import FILTERS, event_hub, format_sse

blp = Blueprint("stream", __name__, url_prefix="/api/v1", description="Real-time stream (Server-Sent Events)")


@blp.get("/stream")
@blp.arguments(schemas.StreamFilter, location="query")
@blp.response(200, description="text/event-stream: `id`, `event` (the event type) and `data` (JSON) per event; "
                               "resume with the Last-Event-ID header")
def stream(filters):
    """Live events: commitment_made, commitment_status_changed, campaign_started,
    campaign_milestone_reached, official_responded, proposal_emerged"""
    h = event_hub(current_app)
    wanted = {k: filters.get(k) for k in FILTERS if filters.get(k)}
    last_id = request.headers.get("Last-Event-ID") or filters.get("last_event_id")
    subscriber, replay, resync = h.subscribe(wanted, last_id)
    keepalive = current_app.config["STREAM_KEEPALIVE"]
    h.connected.wait(timeout=2)  # so a client that connects then acts does not miss the first event

    def generate():
        try:
            yield "retry: 2000\n: connected\n\n"
            if resync:
                yield "event: resync\ndata: {}\n\n"
            for event in replay:
                yield format_sse(event)
            last_sent = time.monotonic()
            while not subscriber.overflowed:
                try:
                    event = subscriber.queue.get(timeout=1.0)
                except queue.Empty:
                    if time.monotonic() - last_sent >= keepalive:
                        last_sent = time.monotonic()
                        yield ": keepalive\n\n"
                    continue
                last_sent = time.monotonic()
                yield format_sse(event)
        finally:
            h.unsubscribe(subscriber)

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
