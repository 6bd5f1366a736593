"""Per-process objects the gateway makes on first use (after gunicorn's fork) and keeps in
``app.extensions``: the event hub, the proposal cache, the batch callers."""
import threading

_lock = threading.RLock()  # re-entrant: one make() may need another extension


def once(app, key, make):
    """``app.extensions[key]``, made by ``make()`` the first time (once, whatever the
    concurrency)."""
    found = app.extensions.get(key)
    if found is None:
        with _lock:
            found = app.extensions.get(key)
            if found is None:
                found = app.extensions[key] = make()
    return found
