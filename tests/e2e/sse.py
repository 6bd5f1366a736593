"""A minimal Server-Sent Events reader for the tests (a real HTTP client, in a thread)."""
import json
import queue
import socket
import threading

import requests


class SSEClient:
    def __init__(self, url, params=None, last_event_id=None):
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.response = requests.get(url, params=params, headers=headers, stream=True, timeout=(5, 60))
        assert self.response.status_code == 200, self.response.text
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self.events = queue.Queue()
        self.received = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        event = {}
        try:
            for raw in self.response.iter_lines(decode_unicode=True):
                if raw is None:
                    continue
                if raw == "":
                    if "data" in event:
                        parsed = {"id": event.get("id"), "event": event.get("event"),
                                  "data": json.loads(event["data"])}
                        self.received.append(parsed)
                        self.events.put(parsed)
                    event = {}
                elif raw.startswith(":"):
                    continue
                else:
                    name, _, value = raw.partition(":")
                    event[name] = value[1:] if value.startswith(" ") else value
        except Exception:  # the connection was closed by the test
            pass

    def wait_for(self, predicate, timeout=15):
        for event in self.received:
            if predicate(event):
                return event
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(event):
                return event
        raise AssertionError(f"no matching event; got {[e['event'] for e in self.received]}")

    def close(self):
        """Shut the socket down so the reader sees the end of the stream, then close."""
        connection = getattr(self.response.raw, "_connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        try:
            self.response.close()
        except RuntimeError:  # pragma: no cover - the reader still held the buffer
            pass
