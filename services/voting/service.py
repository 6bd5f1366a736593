"""Voting nameko service: votes, qualifications, trusted counts and scores, the voting
sequence, rankings and emergence. Learns proposals and questions from events."""
import logging
import os
import random
import time
from datetime import datetime, timedelta
from typing import NamedTuple

import eventlet
from nameko import config
from nameko.timer import timer
from nameko.exceptions import serialize
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage

from common import config as settings
from common.contracts import dump
from common.errors import EXPECTED, Conflict, NotFound, ServiceUnavailable, ValidationFailed
from common.nameko_support import Database, HealthMixin, ServiceRpc, load, reliable_handler
from common.observability import VOTE_BATCH_SIZE, VOTES
from common.rpc_client import RemoteError, ServiceUnavailable as RpcUnavailable
from services.voting import domain, persistence as store, schemas, scoring, sequence
from services.voting.persistence import aware, utcnow
from services.voting.sampling import VectorSampler

ERRORS = EXPECTED + (domain.DomainError,)
log = logging.getLogger(__name__)
# marshmallow schemas are reusable: built once, not per call
_VOTER_IN, _VOTE_IN, _RANKING_IN = schemas.VoterIn(), schemas.VoteIn(), schemas.RankingIn()
_VOTE_OUT, _VOTE_EVENT, _VOTE_BATCH_IN = schemas.VoteOut(), schemas.VoteEvent(), schemas.VoteBatchIn()


def _rules() -> domain.VotingRules:
    return domain.VotingRules.from_mapping(config.get("VOTING"))


def _sequence_rules() -> sequence.SequenceRules:
    return sequence.SequenceRules.from_mapping((config.get("VOTING") or {}).get("sequence"))


def _secret() -> str:
    return config.get("VOTE_KEY_SECRET") or settings.secret("VOTE_KEY_SECRET")


def _voter(data) -> tuple[str, dict]:
    v = load(_VOTER_IN, data)
    return (f"u:{v['user_id']}" if v["user_id"] else f"s:{v['session_id']}"), v


class _VoteRequest(NamedTuple):
    """A vote checked for everything that needs no database."""

    voter_id: str
    user_id: str | None
    proposal_id: str
    key: str
    qualifications: tuple
    trusted: bool
    from_sequence: bool


def _prepare_vote(voter, proposal_id, data) -> _VoteRequest:
    voter_id, who = _voter(voter)
    body = load(_VOTE_IN, data)
    key, qualifications = domain.validate_vote(body["key"], body["qualifications"])
    trusted, from_sequence = domain.check_proposal_key(_secret(), body["proposal_key"], str(proposal_id),
                                                       who["session_id"])
    return _VoteRequest(voter_id, who["user_id"], str(proposal_id), key, qualifications, trusted, from_sequence)


class _State:
    """A proposal's locked row (``store.lock_batch``), mutable: a batch keeps its
    counts from one vote to the next."""

    __slots__ = store.LOCKED_COLUMNS

    def __init__(self, row):
        for name in self.__slots__:
            setattr(self, name, getattr(row, name))


class _Batch:
    """What a batch writes at its end: proposal values by id, vote rows by (proposal,
    voter), and per question [trusted votes added, milestones, votes_target]."""

    def __init__(self):
        self.proposals: dict = {}
        self.votes: dict = {}
        self.counters: dict = {}
        self.milestones: list = []  # proposal milestones crossed: their events, recorded at the end


def _voted(uow, state, v: "_VoteRequest", previous, ballot, action) -> dict:
    """The vote's event (unless unchanged) and its answer."""
    if action != "unchanged":
        uow.emit("vote_cast" if action == "cast" else "vote_changed", _VOTE_EVENT.dump({
            "proposal_id": state.id, "question_id": state.question_id, "user_id": v.user_id,
            "key": ballot.key, "previous_key": previous.key if previous else None,
            "qualifications": list(ballot.qualifications), "trusted": ballot.trusted}))
    return _VOTE_OUT.dump({"proposal_id": state.id, "key": ballot.key, "qualifications": list(ballot.qualifications),
                           "trusted": ballot.trusted, "action": action})


def _parse_time(value):
    if isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(value)) if value else None


def _score_values(counts: dict, rules: domain.VotingRules) -> tuple[dict, dict]:
    """The proposal columns derived from its counts, and the trusted scores."""
    s = scoring.scores(counts["trusted"], rules.score)
    return {
        "counts": counts,
        "votes_all": sum(counts["all"][k] for k in scoring.KEYS),
        "votes_trusted": sum(counts["trusted"][k] for k in scoring.KEYS),
        "votes_sequence": sum(counts["sequence"][k] for k in scoring.KEYS),
        "top_score": s["top_score"].value, "top_score_lb": s["top_score"].lower,
        "top_score_ub": s["top_score"].upper, "controversy_lb": s["controversy"].lower,
        "controversy_ub": s["controversy"].upper, "zone": s["zone"],
    }, s


def _ballot(key, qualifications, trusted, sequence_) -> domain.Ballot | None:
    return domain.Ballot(key, tuple(qualifications or ()), bool(trusted), bool(sequence_)) if key else None


# Sequence candidate pools per question, per process, for ``SequenceRules.pool_ttl`` seconds
# (dropped at once when this process learns a proposal change in that question).
_POOLS: dict = {}
_SAMPLER = VectorSampler()  # the Thompson draws of a sequence, vectorised (sampling.py)
_REFRESHING: set = set()
# Question milestones (question_id, milestone) this process found recorded and committed
_RECORDED_QUESTION_MILESTONES: set = set()
_RECORDED_MAX = 100_000


def _emitted_here(uow, question_id, milestone) -> bool:
    """Whether this transaction recorded (and announced) the question milestone itself."""
    return any(e["event_type"] == "vote_milestone_reached" and e["data"]["scope"] == "question"
               and e["data"]["question_id"] == question_id and e["data"]["milestone"] == milestone
               for e in uow.events)


def _read_pools(session, question_id, rules: sequence.SequenceRules) -> sequence.Pools:
    sizes = {"new": rules.new_pool, "top": rules.tested_pool, "controversy": rules.controversy_pool,
             "fill": rules.fill_pool}
    rows = store.sequence_pools(session, question_id, rules.new_max_sequence_votes, rules.tested_max_votes, sizes)
    pools = sequence.Pools(**{name: tuple(_candidate(r) for r in rows[name]) for name in sizes},
                           full={name: len(rows[name]) >= sizes[name] for name in sizes})
    if rules.pool_ttl > 0:
        _POOLS[question_id] = (time.monotonic() + rules.pool_ttl, pools)
    return pools


def _candidate(r) -> sequence.Candidate:
    return sequence.Candidate(
        id=r.id, author_id=r.author_id, created_at=aware(r.created_at).timestamp(), votes=r.votes_trusted,
        sequence_votes=r.votes_sequence, counts=(r.counts or store.empty_counts())["trusted"],
        keywords=tuple(r.keywords or ()))


def _results(p: store.Proposal, rules: domain.VotingRules) -> dict:
    counts = p.counts or store.empty_counts()
    s = scoring.scores(counts["trusted"], rules.score)
    return dump(schemas.ResultsOut, {
        "proposal_id": p.id, "question_id": p.question_id, "counts": counts,
        "votes": {level: sum(counts[level][k] for k in scoring.KEYS) for level in domain.LEVELS},
        "rates": {k: round(v, 6) for k, v in s["rates"].items()},
        "top_score": s["top_score"].as_dict(), "controversy": s["controversy"].as_dict(),
        "rejection": s["rejection"].as_dict(), "zone": s["zone"],
        "emerged": p.emerged_at is not None, "emerged_at": aware(p.emerged_at),
    })


# Question milestones are swept this often (seconds): the last votes of a question can
# cross one that no vote saw (see _question_milestones)
MILESTONE_SWEEP_SECONDS = max(1.0, float(os.environ.get("MILESTONE_SWEEP_SECONDS", "60")))


class VotingService(HealthMixin):
    name = "voting"
    db = Database("voting", store.metadata)
    proposals_rpc = ServiceRpc("proposals")

    # -- votes --------------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def vote(self, voter, proposal_id, data):
        """Cast, change or qualify a vote. Same key again: no change (qualifications are
        set); another key: replaces the vote and drops its qualifications."""
        ballot = _prepare_vote(voter, proposal_id, data)
        with self.db() as uow:
            return self._cast(uow, ballot, _rules())

    @rpc(expected_exceptions=ERRORS)
    def vote_batch(self, votes):
        """Several votes (of any voters, in arrival order) in one transaction: what the
        gateway sends when votes arrive faster than single calls return. Each vote is
        decided exactly as ``vote`` decides it; its outcome is ``{"result": VoteOut}`` or
        ``{"error": {exc_type, value, exc_args}}`` (a refused vote writes nothing and does
        not affect the others). Proposals are locked in id order (one statement) and the
        questions' counters updated once per question at the end, in question order, so
        concurrent batches and single votes never deadlock. An unexpected failure (database down)
        fails the whole batch: nothing of it is written."""
        items = load(_VOTE_BATCH_IN, {"votes": votes})["votes"]
        outcomes: list = [None] * len(items)
        prepared = []
        for i, item in enumerate(items):
            try:
                prepared.append((i, _prepare_vote(item["voter"], item["proposal_id"], item["data"])))
            except ERRORS as exc:
                outcomes[i] = {"error": serialize(exc)}
        rules = _rules()
        with self.db() as uow:
            if len(prepared) == 1:  # alone: the single vote's path (fewer round trips)
                i, ballot = prepared[0]
                try:
                    outcomes[i] = {"result": self._cast(uow, ballot, rules)}
                except ERRORS as exc:
                    outcomes[i] = {"error": serialize(exc)}
            elif prepared:
                self._cast_batch(uow, prepared, rules, outcomes)
        VOTE_BATCH_SIZE.observe(len(items))
        return outcomes

    def _cast(self, uow, v: "_VoteRequest", rules) -> dict:
        """Decide and write one prepared vote (the caller's transaction)."""
        state, question = self._votable(uow.session, v.proposal_id, v.voter_id)
        previous = _ballot(state.v_key, state.v_qualifications, state.v_trusted, state.v_sequence)
        ballot, action = domain.resolve_vote(previous, v.key, v.qualifications, v.trusted, v.from_sequence)
        VOTES.labels(action, str(ballot.trusted).lower()).inc()
        if action != "unchanged":
            self._change(uow, state, question, v.voter_id, v.user_id, previous, ballot, rules)
        return _voted(uow, state, v, previous, ballot, action)

    def _cast_batch(self, uow, prepared, rules, outcomes) -> None:
        """Decide several prepared votes in arrival order against the proposals and votes
        read once for all (``store.lock_batch``, one round trip), keeping
        each proposal's counts in memory from one vote to the next; then write everything
        at once with the question counters (``store.write_batch``, one round trip), and the
        proposals' milestones the batch crossed (``store.record_milestones``, one more when
        any was)."""
        session = uow.session
        locked, found = store.lock_batch(session, {(v.proposal_id, v.voter_id) for _, v in prepared})
        states = {r.id: _State(r) for r in locked}
        current = {pair: _ballot(r.key, r.qualifications, r.trusted, r.sequence) for pair, r in found.items()}
        batch = _Batch()
        for i, v in prepared:
            try:
                state = states.get(v.proposal_id)
                question = self._check_votable(session, state, v.proposal_id)
            except ERRORS as exc:
                outcomes[i] = {"error": serialize(exc)}
                continue
            pair = (v.proposal_id, v.voter_id)
            previous = current.get(pair)
            ballot, action = domain.resolve_vote(previous, v.key, v.qualifications, v.trusted, v.from_sequence)
            VOTES.labels(action, str(ballot.trusted).lower()).inc()
            if action != "unchanged":
                self._change(uow, state, question, v.voter_id, v.user_id, previous, ballot, rules, batch)
                current[pair] = ballot
                batch.votes[pair] = {"pid": state.id, "qid": state.question_id, "voter": v.voter_id,
                                     "user_id": v.user_id, "key": ballot.key, "quals": list(ballot.qualifications),
                                     "trusted": ballot.trusted, "seq": ballot.sequence}
            outcomes[i] = {"result": _voted(uow, state, v, previous, ballot, action)}
        totals = store.write_batch(
            session, inserts=[row for pair, row in batch.votes.items() if pair not in found],
            updates=[row for pair, row in batch.votes.items() if pair in found],
            proposals=[dict(values, pid=pid, emerged_at=states[pid].emerged_at)
                       for pid, values in batch.proposals.items()],
            counters={qid: c[0] for qid, c in batch.counters.items()})
        if batch.milestones:  # proposals' milestones crossed by the batch: recorded in one statement
            recorded = store.record_milestones(session, "proposal",
                                               [(e["proposal_id"], e["milestone"]) for e in batch.milestones])
            for event in batch.milestones:
                key = (event["proposal_id"], event["milestone"])
                if key in recorded:
                    recorded.discard(key)  # once, should the batch cross it twice
                    uow.emit("vote_milestone_reached", dump(schemas.VoteMilestoneReached, event))
        for question_id in sorted(totals):  # the question milestones the batch reached
            _, targets, votes_target = batch.counters[question_id]
            total = totals[question_id]
            self._question_milestones(uow, question_id, total, targets, votes_target)

    @rpc(expected_exceptions=ERRORS)
    def remove_vote(self, voter, proposal_id):
        voter_id, who = _voter(voter)
        with self.db() as uow:
            state, question = self._votable(uow.session, str(proposal_id), voter_id)
            previous = _ballot(state.v_key, state.v_qualifications, state.v_trusted, state.v_sequence)
            if previous is None:
                raise NotFound("no vote to remove")
            self._change(uow, state, question, voter_id, who["user_id"], previous, None, _rules())
            uow.emit("vote_removed", _VOTE_EVENT.dump({
                "proposal_id": state.id, "question_id": state.question_id, "user_id": who["user_id"],
                "key": None, "previous_key": previous.key, "qualifications": [], "trusted": previous.trusted}))
        return _VOTE_OUT.dump({"proposal_id": state.id, "key": None, "qualifications": [],
                               "trusted": False, "action": "removed"})

    @rpc(expected_exceptions=ERRORS)
    def get_votes(self, voter, proposal_ids):
        """The caller's own votes on some proposals (for clients)."""
        voter_id, _ = _voter(voter)
        ids = [str(i) for i in (proposal_ids or [])][:200]
        with self.db() as uow:
            rows = {r.proposal_id: r for r in store.votes_on(uow.session, voter_id, ids)}
        return [{"proposal_id": r.proposal_id, "key": r.key, "qualifications": r.qualifications,
                 "trusted": r.trusted} for r in (rows.get(pid) for pid in dict.fromkeys(ids)) if r is not None]

    @rpc(expected_exceptions=ERRORS)
    def voters(self, proposal_id, key="agree", after=None, limit=1000):
        """User ids of logged-in voters holding ``key`` on a proposal, in keyset pages
        (``after`` = last id of the previous page): for notifications' batched fan-out."""
        if key not in scoring.KEYS:
            raise ValidationFailed({"key": f"must be one of {', '.join(scoring.KEYS)}"})
        with self.db() as uow:
            return store.voters_with_key(uow.session, str(proposal_id), key, after, max(1, min(int(limit), 5000)))

    # -- reads --------------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def results(self, proposal_id):
        with self.db() as uow:
            proposal = uow.session.get(store.Proposal, str(proposal_id))
            if proposal is None or proposal.status != "accepted":
                raise NotFound(f"no results for proposal {proposal_id}")
            return _results(proposal, _rules())

    @rpc(expected_exceptions=ERRORS)
    def ranking(self, question_id, params=None):
        """Accepted proposals by topScore lower bound (popular) or controversy lower bound."""
        p = load(_RANKING_IN, params)
        with self.db() as uow:
            rows, total = store.ranking(uow.session, str(question_id), p["sort"], p["per_page"],
                                        (p["page"] - 1) * p["per_page"])
            items = dump(schemas.RankedOut, [{
                "proposal_id": r.id, "top_score_lower_bound": round(r.top_score_lb, 6),
                "controversy_lower_bound": round(r.controversy_lb, 6), "zone": r.zone, "votes": r.votes_trusted,
                "emerged": r.emerged_at is not None,
            } for r in rows], many=True)
        return {"items": items, "total": total, "page": p["page"], "per_page": p["per_page"], "sort": p["sort"]}

    @rpc(expected_exceptions=ERRORS)
    def sequence(self, question_id, voter):
        """Up to 12 accepted proposals the voter has not voted on, chosen by the sequence
        algorithm; each with the proposal_key that makes a vote on it trusted.

        The candidates come from the question's bounded pools (``_pools``), minus the
        voter's votes in the question (one index lookup); when the voter has voted on so
        much of a full pool that it might run short, from a bounded query instead."""
        voter_id, who = _voter(voter)
        rules = _sequence_rules()
        with self.db() as uow:
            question = self._question(uow.session, str(question_id))
            pools = self._pools(uow.session, question.id, rules)
            voted = store.voted_proposal_ids(uow.session, voter_id, question.id)
            candidates, short = sequence.from_pools(pools, voted, rules)
            if short:
                candidates = [_candidate(r) for r in store.sequence_candidates(uow.session, question.id, voter_id)]
        chosen = sequence.select(candidates, rules, random.Random(), _rules().score, sampler=_SAMPLER)
        secret = _secret()
        return {"question_id": question.id, "items": [
            {"proposal_id": pid, "proposal_key": domain.proposal_key(secret, pid, who["session_id"], "sequence")}
            for pid in chosen]}

    def _pools(self, session, question_id, rules):
        """The question's candidate pools: read now when this process has none (or its
        copy is far too old); otherwise the cached ones, refreshed in the background once
        they are older than ``pool_ttl`` (the request does not wait for the refresh)."""
        now = time.monotonic()
        cached = _POOLS.get(question_id)
        if cached is not None:
            expires, pools = cached
            if now < expires:
                return pools
            if now < expires + 10 * rules.pool_ttl:
                if question_id not in _REFRESHING:
                    _REFRESHING.add(question_id)
                    eventlet.spawn_n(self._refresh_pools, self.db, question_id, rules)
                return pools
        return _read_pools(session, question_id, rules)

    @staticmethod
    def _refresh_pools(db, question_id, rules):
        try:
            with db() as uow:
                _read_pools(uow.session, question_id, rules)
        except Exception as exc:  # the stale pools serve until the next try
            log.warning("sequence pools of question %s not refreshed: %s", question_id, exc)
        finally:
            _REFRESHING.discard(question_id)

    @rpc(expected_exceptions=ERRORS)
    def proposal_keys(self, session_id, proposal_ids):
        """Keys for proposals served outside the sequence (listings): trusted, not sequence."""
        secret = _secret()
        return {str(pid): domain.proposal_key(secret, str(pid), str(session_id), "listing")
                for pid in (proposal_ids or [])[:200]}

    # -- anonymous votes follow the session into the account ----------------------------------
    @rpc(expected_exceptions=ERRORS)
    def merge_session(self, session_id, user_id):
        with self.db() as uow:
            return self._merge(uow, str(session_id), str(user_id))

    @reliable_handler("accounts", "session_authenticated")
    def on_session_authenticated(self, event):
        data = event["data"]
        with self.db() as uow:
            if uow.first_delivery(event["event_id"], "voting.on_session_authenticated"):
                self._merge(uow, data["session_id"], data["user_id"])

    def _merge(self, uow, session_id, user_id):
        """Move a session's votes to the account; where the account voted too, its own
        vote wins and the session's stops counting (no double counting)."""
        session_voter, account_voter = f"s:{session_id}", f"u:{user_id}"
        moved = dropped = 0
        rules = _rules()
        for row in store.vote_rows_of_voter(uow.session, session_voter):
            state = store.lock_for_vote(uow.session, row.proposal_id, account_voter)
            account_voted = (state.v_key is not None if state is not None
                             else store.vote_of(uow.session, row.proposal_id, account_voter) is not None)
            if not account_voted:
                store.move_vote(uow.session, row.proposal_id, session_voter, account_voter, user_id)
                moved += 1
                continue
            previous = _ballot(row.key, row.qualifications, row.trusted, row.sequence)
            if state is not None:
                question = self._question(uow.session, state.question_id) if state.q_id is None else None
                self._change(uow, state, question, session_voter, None, previous, None, rules)
            else:  # a vote on a proposal voting no longer knows: nothing to recount
                store.delete_vote(uow.session, row.proposal_id, session_voter)
            dropped += 1
        return {"moved": moved, "dropped": dropped}

    # -- what voting learns from proposals ------------------------------------------------------
    @reliable_handler("proposals", "question_created")
    def on_question_created(self, event):
        with self.db() as uow:
            if uow.first_delivery(event["event_id"], "voting.on_question_created"):
                self._store_question(uow.session, event["data"])

    @reliable_handler("proposals", "proposal_submitted")
    def on_proposal_submitted(self, event):
        self._proposal_event(event, "voting.on_proposal_submitted")

    @reliable_handler("proposals", "proposal_accepted")
    def on_proposal_accepted(self, event):
        self._proposal_event(event, "voting.on_proposal_accepted")

    @reliable_handler("proposals", "proposal_refused")
    def on_proposal_refused(self, event):
        self._proposal_event(event, "voting.on_proposal_refused")

    @reliable_handler("proposals", "proposal_postponed")
    def on_proposal_postponed(self, event):
        self._proposal_event(event, "voting.on_proposal_postponed")

    def _proposal_event(self, event, handler):
        """Idempotent and order-tolerant: a status only replaces an older one."""
        data, at = event["data"], _parse_time(event["occurred_at"])
        with self.db() as uow:
            if not uow.first_delivery(event["event_id"], handler):
                return
            proposal = store.proposal_for_update(uow.session, data["proposal_id"])
            was_accepted = proposal is not None and proposal.status == "accepted"
            if proposal is None:
                proposal = store.Proposal(
                    id=data["proposal_id"], question_id=data["question_id"], author_id=data["author_id"],
                    status=data["status"], status_at=at, created_at=_parse_time(data["created_at"]),
                    keywords=list(data.get("tags") or []), counts=store.empty_counts())
                uow.session.add(proposal)
            elif aware(proposal.status_at) > at:
                return  # a newer status already arrived
            else:
                proposal.status, proposal.status_at = data["status"], at
                proposal.keywords = list(data.get("tags") or [])
            if data["status"] == "accepted" and proposal.accepted_at is None:
                proposal.accepted_at = at
            store.add_accepted(uow.session, proposal.question_id, int(data["status"] == "accepted") - int(was_accepted))
        _POOLS.pop(data["question_id"], None)

    # -- helpers --------------------------------------------------------------------------------
    def _store_question(self, session, data):
        store.upsert_question(session, {
            "id": data["id"], "country": data["country"], "language": data["language"],
            "starts_at": _parse_time(data["starts_at"]), "ends_at": _parse_time(data["ends_at"]),
            "votes_target": data.get("votes_target")})

    def _question(self, session, question_id):
        question = session.get(store.Question, question_id)
        if question is None:  # created before voting listened: ask its owner once
            try:
                data = self.proposals_rpc.get_question(question_id)
            except RemoteError as exc:
                if exc.exc_type == "NotFound":
                    raise NotFound(f"question {question_id} not found") from None
                raise
            except RpcUnavailable as exc:
                raise ServiceUnavailable(f"proposals service unavailable: {exc}") from None
            self._store_question(session, data)
            session.flush()
            question = session.get(store.Question, data["id"])
        return question

    def _votable(self, session, proposal_id, voter_id):
        """Lock the proposal and read it with the voter's vote; check it takes votes.
        Returns (state row, ORM question or None when the row carried it)."""
        state = store.lock_for_vote(session, proposal_id, voter_id)
        return state, self._check_votable(session, state, proposal_id)

    def _check_votable(self, session, state, proposal_id):
        """Raise unless the proposal (``state``: its locked row, or None) takes votes; the
        ORM question when the row did not carry it (else None)."""
        if state is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if state.status != "accepted":
            raise Conflict(f"proposal {proposal_id} is {state.status}: only accepted proposals take votes")
        question = None
        starts_at, ends_at = state.q_starts_at, state.q_ends_at
        if state.q_id is None:  # a question voting has not heard of yet: ask its owner once
            question = self._question(session, state.question_id)
            starts_at, ends_at = question.starts_at, question.ends_at
        now = utcnow()
        if not aware(starts_at) <= now < aware(ends_at):
            raise Conflict("the question is not open for votes")
        return question

    def _change(self, uow, state, question, voter_id, user_id, previous, ballot, rules, batch=None):
        """Write a vote change (``ballot`` None: the vote is deleted) with the proposal's
        new counts and scores (the proposal row is locked); publish emergence and
        milestones. ``question``: the ORM question when ``state`` did not carry it.
        ``batch``: None to write now (the vote, the proposal and the question counter in one
        round trip); a ``_Batch`` to leave the writes to the caller (``_cast_batch``): the
        proposal's new values and the question's counter change are added to it, and
        ``state`` (a mutable ``_State``) takes the new counts for the batch's next vote."""
        delta = domain.count_delta(previous, ballot)
        counts = {level: dict(items) for level, items in (state.counts or store.empty_counts()).items()}
        for (level, item), change in delta.items():
            counts[level][item] = counts[level].get(item, 0) + change
        values, s = _score_values(counts, rules)
        before_trusted = state.votes_trusted
        after_trusted = values["votes_trusted"]
        emerged = state.emerged_at is None and domain.has_emerged(counts["trusted"], rules)
        values["emerged_at"] = utcnow() if emerged else None
        if question is not None:
            country, language, votes_target = question.country, question.language, question.votes_target
        else:
            country, language, votes_target = state.q_country, state.q_language, state.q_votes_target
        targets = domain.question_milestones(votes_target, rules)
        trusted_change = after_trusted - before_trusted
        if batch is None:
            if previous is None:
                vote_op = "insert"
            elif ballot is None:
                vote_op = "delete"
            else:
                vote_op = "update" if previous != ballot else None
            params = {"pid": state.id, "qid": state.question_id, "voter": voter_id, "user_id": user_id}
            if ballot is not None:
                params.update(key=ballot.key, quals=list(ballot.qualifications), trusted=ballot.trusted,
                              seq=ballot.sequence, now=utcnow())
            total = store.write_vote(uow.session, vote_op=vote_op, params=params, proposal_values=values,
                                     counter_delta=trusted_change, want_total=bool(targets))
        else:
            total = None
            batch.proposals[state.id] = values
            state.counts, state.votes_trusted = values["counts"], after_trusted
            if emerged:
                state.emerged_at = values["emerged_at"]
            if trusted_change:
                batch.counters.setdefault(state.question_id, [0, targets, votes_target])[0] += trusted_change
        if emerged:
            uow.emit("proposal_emerged", dump(schemas.ProposalEmerged, {
                "proposal_id": state.id, "question_id": state.question_id, "author_id": state.author_id,
                "country": country, "language": language, "trusted_votes": after_trusted,
                "top_score": s["top_score"].value, "top_score_lower_bound": s["top_score"].lower,
                "agree_rate": s["rates"]["agree"]}))
        for milestone in domain.crossed(before_trusted, after_trusted, rules.vote_milestones):
            event = {"scope": "proposal", "question_id": state.question_id, "proposal_id": state.id,
                     "milestone": milestone, "votes": after_trusted, "votes_target": None}
            if batch is not None:
                batch.milestones.append(event)
            elif store.record_milestone(uow.session, "proposal", state.id, milestone):
                uow.emit("vote_milestone_reached", dump(schemas.VoteMilestoneReached, event))
        if total is not None:
            self._question_milestones(uow, state.question_id, total, targets, votes_target)

    @timer(interval=MILESTONE_SWEEP_SECONDS)
    def sweep_question_milestones(self):
        """Records and publishes the question milestones that votes crossed unseen. Two
        votes on different proposals committed at once each read the question's total
        without the other's vote; the next vote records what their sum reached, but when
        they were the question's last votes there is no next vote: this sweep is it. One
        aggregate over the counters of the questions with a target not ended a day ago;
        milestones already recorded are remembered by the process. Every instance sweeps;
        recording is idempotent, so each milestone is published once."""
        rules = _rules()
        try:
            with self.db() as uow:
                for question_id, votes_target, total in store.question_totals(uow.session,
                                                                              utcnow() - timedelta(days=1)):
                    self._question_milestones(uow, question_id, int(total),
                                              domain.question_milestones(votes_target, rules), votes_target)
        except Exception as exc:  # database down or slow: the next sweep tries again
            log.warning("question milestone sweep failed (%s: %s); next in %.0f s",
                        type(exc).__name__, exc, MILESTONE_SWEEP_SECONDS)

    @staticmethod
    def _question_milestones(uow, question_id, total, targets, votes_target):
        """Every milestone the question's total has reached and that is not recorded yet
        (``domain.reached``: concurrent votes on different proposals can cross one unseen).
        A milestone found already recorded is remembered by the process, so a question past
        its milestones costs one lookup per milestone and process, not one per vote."""
        for milestone in domain.reached(total, targets):
            if (question_id, milestone) in _RECORDED_QUESTION_MILESTONES:
                continue
            if not store.record_milestone(uow.session, "question", question_id, milestone):
                if _emitted_here(uow, question_id, milestone):
                    continue  # recorded earlier in this transaction, which may yet roll back
                # committed by another transaction (a concurrent one is waited for)
                if len(_RECORDED_QUESTION_MILESTONES) >= _RECORDED_MAX:
                    _RECORDED_QUESTION_MILESTONES.clear()
                _RECORDED_QUESTION_MILESTONES.add((question_id, milestone))
            else:
                uow.emit("vote_milestone_reached", dump(schemas.VoteMilestoneReached, {
                    "scope": "question", "question_id": question_id, "proposal_id": None,
                    "milestone": milestone, "votes": total, "votes_target": votes_target}))