"""common.observability.freeze_startup_objects: the startup objects leave Python's full
collections once per process (the pauses they caused were the votes' p99)."""
import gc

from common import observability


def test_startup_objects_are_frozen_once_per_process(monkeypatch):
    monkeypatch.setattr(observability, "_FROZEN", [])
    gc.unfreeze()
    try:
        observability.freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # this test process's modules, classes, functions...
        made_later = [[i] for i in range(1_000)]
        observability.freeze_startup_objects()  # a second service starting in the process
        # not frozen again (a frozen object freed by its reference count leaves the count)
        assert gc.get_freeze_count() < frozen + len(made_later)
        assert made_later
    finally:
        gc.unfreeze()


def test_garbage_is_collected_before_freezing(monkeypatch):
    monkeypatch.setattr(observability, "_FROZEN", [])
    gc.unfreeze()
    try:
        cycle = []
        cycle.append(cycle)
        del cycle
        collected = []
        gc.callbacks.append(lambda phase, info: collected.append(info["collected"]) if phase == "stop" else None)
        observability.freeze_startup_objects()
        assert sum(collected) >= 1
    finally:
        gc.callbacks.pop()
        gc.unfreeze()
