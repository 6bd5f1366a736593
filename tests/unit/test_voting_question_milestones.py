"""VotingService._question_milestones: which reached milestones are recorded, announced and
remembered by the process (the recording itself is stubbed: its SQL is covered on
PostgreSQL by tests/service/test_voting_service.py)."""
import uuid

import pytest

from services.voting import service as voting


class _Uow:
    def __init__(self):
        self.session, self.events = object(), []

    def emit(self, event_type, data):
        self.events.append({"event_type": event_type, "data": data})


@pytest.fixture
def recorded(monkeypatch):
    """The milestones table: record_milestone answers True the first time only."""
    rows, calls = set(), []

    def record(session, scope, subject_id, milestone):
        calls.append((subject_id, milestone))
        if (subject_id, milestone) in rows:
            return False
        rows.add((subject_id, milestone))
        return True

    monkeypatch.setattr(voting.store, "record_milestone", record)
    monkeypatch.setattr(voting, "_RECORDED_QUESTION_MILESTONES", set())
    return calls


def _announced(uow):
    return [e["data"]["milestone"] for e in uow.events]


def test_every_reached_milestone_not_recorded_is_announced_once(recorded):
    q, uow = str(uuid.uuid4()), _Uow()
    voting.VotingService._question_milestones(uow, q, 9, [4, 8, 16], 16)
    assert _announced(uow) == [4, 8] and uow.events[0]["data"]["votes"] == 9
    again = _Uow()
    voting.VotingService._question_milestones(again, q, 10, [4, 8, 16], 16)
    assert _announced(again) == []


def test_a_milestone_found_recorded_is_not_asked_again_by_the_process(recorded):
    q = str(uuid.uuid4())
    voting.VotingService._question_milestones(_Uow(), q, 5, [4, 8], 8)  # records 4
    voting.VotingService._question_milestones(_Uow(), q, 6, [4, 8], 8)  # finds it: remembered
    recorded.clear()
    voting.VotingService._question_milestones(_Uow(), q, 7, [4, 8], 8)
    assert recorded == []


def test_a_milestone_recorded_earlier_in_the_same_transaction_is_not_remembered(recorded):
    """The transaction may still roll back: the process must ask again next time."""
    q, uow = str(uuid.uuid4()), _Uow()
    voting.VotingService._question_milestones(uow, q, 4, [4, 8], 8)
    voting.VotingService._question_milestones(uow, q, 5, [4, 8], 8)  # same transaction: finds its own row
    assert _announced(uow) == [4]
    assert (q, 4) not in voting._RECORDED_QUESTION_MILESTONES
