"""Voting nameko service: votes, qualifications, trusted counts and scores, the voting
sequence, rankings and emergence. Learns proposals and questions from events."""
import random
from datetime import datetime

from nameko import config
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage

from common import config as settings
from common.errors import EXPECTED, Conflict, NotFound, ServiceUnavailable, ValidationFailed
from common.nameko_support import Database, HealthMixin, ServiceRpc, load, reliable_handler
from common.observability import VOTES
from common.rpc_client import RemoteError, ServiceUnavailable as RpcUnavailable
from services.voting import domain, persistence as store, schemas, scoring, sequence
from services.voting.persistence import aware, utcnow

ERRORS = EXPECTED + (domain.DomainError,)


def _rules() -> domain.VotingRules:
    return domain.VotingRules.from_mapping(config.get("VOTING"))


def _sequence_rules() -> sequence.SequenceRules:
    return sequence.SequenceRules.from_mapping((config.get("VOTING") or {}).get("sequence"))


def _secret() -> str:
    return config.get("VOTE_KEY_SECRET") or settings.secret("VOTE_KEY_SECRET")


def _voter(data) -> tuple[str, dict]:
    v = load(schemas.VoterIn(), data)
    return (f"u:{v['user_id']}" if v["user_id"] else f"s:{v['session_id']}"), v


def _parse_time(value):
    if isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(value)) if value else None


def _results(p: store.Proposal, rules: domain.VotingRules) -> dict:
    counts = p.counts or store.empty_counts()
    s = scoring.scores(counts["trusted"], rules.score)
    return schemas.ResultsOut().dump({
        "proposal_id": p.id, "question_id": p.question_id, "counts": counts,
        "votes": {level: sum(counts[level][k] for k in scoring.KEYS) for level in domain.LEVELS},
        "rates": {k: round(v, 6) for k, v in s["rates"].items()},
        "top_score": s["top_score"].as_dict(), "controversy": s["controversy"].as_dict(),
        "rejection": s["rejection"].as_dict(), "zone": s["zone"],
        "emerged": p.emerged_at is not None, "emerged_at": aware(p.emerged_at),
    })


class VotingService(HealthMixin):
    name = "voting"
    db = Database("voting", store.metadata)
    proposals_rpc = ServiceRpc("proposals")

    # -- votes --------------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def vote(self, voter, proposal_id, data):
        """Cast, change or qualify a vote. Same key again: no change (qualifications are
        set); another key: replaces the vote and drops its qualifications."""
        voter_id, who = _voter(voter)
        body = load(schemas.VoteIn(), data)
        key, qualifications = domain.validate_vote(body["key"], body["qualifications"])
        trusted, from_sequence = domain.check_proposal_key(_secret(), body["proposal_key"], str(proposal_id),
                                                           who["session_id"])
        rules = _rules()
        with self.db() as uow:
            proposal = self._votable(uow.session, str(proposal_id))
            row = store.vote_of(uow.session, proposal.id, voter_id)
            previous = domain.Ballot(row.key, tuple(row.qualifications), row.trusted, row.sequence) if row else None
            ballot, action = domain.resolve_vote(previous, key, qualifications, trusted, from_sequence)
            VOTES.labels(action, str(ballot.trusted).lower()).inc()
            if action != "unchanged":
                if row is None:
                    row = store.Vote(proposal_id=proposal.id, question_id=proposal.question_id, voter=voter_id,
                                     user_id=who["user_id"])
                    uow.session.add(row)
                row.key, row.qualifications = ballot.key, list(ballot.qualifications)
                row.trusted, row.sequence, row.updated_at = ballot.trusted, ballot.sequence, utcnow()
                self._apply(uow, proposal, previous, ballot, rules)
                event = "vote_cast" if action == "cast" else "vote_changed"
                uow.emit(event, schemas.VoteEvent().dump({
                    "proposal_id": proposal.id, "question_id": proposal.question_id, "user_id": who["user_id"],
                    "key": ballot.key, "previous_key": previous.key if previous else None,
                    "qualifications": list(ballot.qualifications), "trusted": ballot.trusted}))
            return schemas.VoteOut().dump({"proposal_id": proposal.id, "key": ballot.key,
                                           "qualifications": list(ballot.qualifications),
                                           "trusted": ballot.trusted, "action": action})

    @rpc(expected_exceptions=ERRORS)
    def remove_vote(self, voter, proposal_id):
        voter_id, who = _voter(voter)
        with self.db() as uow:
            proposal = self._votable(uow.session, str(proposal_id))
            row = store.vote_of(uow.session, proposal.id, voter_id)
            if row is None:
                raise NotFound("no vote to remove")
            previous = domain.Ballot(row.key, tuple(row.qualifications), row.trusted, row.sequence)
            uow.session.delete(row)
            self._apply(uow, proposal, previous, None, _rules())
            uow.emit("vote_removed", schemas.VoteEvent().dump({
                "proposal_id": proposal.id, "question_id": proposal.question_id, "user_id": who["user_id"],
                "key": None, "previous_key": previous.key, "qualifications": [], "trusted": previous.trusted}))
        return schemas.VoteOut().dump({"proposal_id": proposal.id, "key": None, "qualifications": [],
                                       "trusted": False, "action": "removed"})

    @rpc(expected_exceptions=ERRORS)
    def get_votes(self, voter, proposal_ids):
        """The caller's own votes on some proposals (for clients)."""
        voter_id, _ = _voter(voter)
        ids = [str(i) for i in (proposal_ids or [])][:200]
        with self.db() as uow:
            rows = [store.vote_of(uow.session, pid, voter_id) for pid in ids]
            return [{"proposal_id": r.proposal_id, "key": r.key, "qualifications": r.qualifications,
                     "trusted": r.trusted} for r in rows if r is not None]

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
        p = load(schemas.RankingIn(), params)
        with self.db() as uow:
            rows, total = store.ranking(uow.session, str(question_id), p["sort"], p["per_page"],
                                        (p["page"] - 1) * p["per_page"])
            items = [schemas.RankedOut().dump({
                "proposal_id": r.id, "top_score_lower_bound": round(r.top_score_lb, 6),
                "controversy_lower_bound": round(r.controversy_lb, 6), "zone": r.zone, "votes": r.votes_trusted,
            }) for r in rows]
        return {"items": items, "total": total, "page": p["page"], "per_page": p["per_page"], "sort": p["sort"]}

    @rpc(expected_exceptions=ERRORS)
    def sequence(self, question_id, voter):
        """Up to 12 accepted proposals the voter has not voted on, chosen by the sequence
        algorithm; each with the proposal_key that makes a vote on it trusted."""
        voter_id, who = _voter(voter)
        with self.db() as uow:
            question = self._question(uow.session, str(question_id))
            rows = store.sequence_candidates(uow.session, question.id, voter_id)
            candidates = [sequence.Candidate(
                id=r.id, author_id=r.author_id, created_at=aware(r.created_at).timestamp(), votes=r.votes_trusted,
                sequence_votes=r.votes_sequence, counts=(r.counts or store.empty_counts())["trusted"],
                keywords=tuple(r.keywords or ())) for r in rows]
        chosen = sequence.select(candidates, _sequence_rules(), random.Random(), _rules().score)
        secret = _secret()
        return {"question_id": question.id, "items": [
            {"proposal_id": pid, "proposal_key": domain.proposal_key(secret, pid, who["session_id"], "sequence")}
            for pid in chosen]}

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
        for row in store.votes_of_voter(uow.session, session_voter):
            proposal = store.proposal_for_update(uow.session, row.proposal_id)
            existing = store.vote_of(uow.session, row.proposal_id, account_voter)
            if existing is None:
                row.voter, row.user_id = account_voter, user_id
                moved += 1
            else:
                previous = domain.Ballot(row.key, tuple(row.qualifications), row.trusted, row.sequence)
                uow.session.delete(row)
                if proposal is not None:
                    self._apply(uow, proposal, previous, None, rules)
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

    def _votable(self, session, proposal_id):
        proposal = store.proposal_for_update(session, proposal_id)
        if proposal is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if proposal.status != "accepted":
            raise Conflict(f"proposal {proposal_id} is {proposal.status}: only accepted proposals take votes")
        question = self._question(session, proposal.question_id)
        now = utcnow()
        if not aware(question.starts_at) <= now < aware(question.ends_at):
            raise Conflict("the question is not open for votes")
        return proposal

    def _apply(self, uow, proposal, previous, ballot, rules):
        """Apply a vote change to the counts and scores; publish emergence and milestones."""
        delta = domain.count_delta(previous, ballot)
        if not delta:
            return
        counts = {level: dict(items) for level, items in (proposal.counts or store.empty_counts()).items()}
        for (level, item), change in delta.items():
            counts[level][item] = counts[level].get(item, 0) + change
        before_trusted = proposal.votes_trusted
        proposal.counts = counts
        proposal.votes_all = sum(counts["all"][k] for k in scoring.KEYS)
        proposal.votes_trusted = sum(counts["trusted"][k] for k in scoring.KEYS)
        proposal.votes_sequence = sum(counts["sequence"][k] for k in scoring.KEYS)
        s = scoring.scores(counts["trusted"], rules.score)
        proposal.top_score = s["top_score"].value
        proposal.top_score_lb = s["top_score"].lower
        proposal.controversy_lb = s["controversy"].lower
        proposal.zone = s["zone"]
        if proposal.emerged_at is None and domain.has_emerged(counts["trusted"], rules):
            proposal.emerged_at = utcnow()
            question = uow.session.get(store.Question, proposal.question_id)
            uow.emit("proposal_emerged", schemas.ProposalEmerged().dump({
                "proposal_id": proposal.id, "question_id": proposal.question_id, "author_id": proposal.author_id,
                "country": question.country if question else None, "language": question.language if question else None,
                "trusted_votes": proposal.votes_trusted, "top_score": s["top_score"].value,
                "top_score_lower_bound": s["top_score"].lower, "agree_rate": s["rates"]["agree"]}))
        for milestone in domain.crossed(before_trusted, proposal.votes_trusted, rules.vote_milestones):
            if store.record_milestone(uow.session, "proposal", proposal.id, milestone):
                uow.emit("vote_milestone_reached", schemas.VoteMilestoneReached().dump({
                    "scope": "proposal", "question_id": proposal.question_id, "proposal_id": proposal.id,
                    "milestone": milestone, "votes": proposal.votes_trusted, "votes_target": None}))
        trusted_change = proposal.votes_trusted - before_trusted
        if trusted_change:
            total = store.add_question_votes(uow.session, proposal.question_id, trusted_change)
            question = uow.session.get(store.Question, proposal.question_id)
            targets = domain.question_milestones(question.votes_target if question else None, rules)
            for milestone in domain.crossed(total - trusted_change, total, targets):
                if store.record_milestone(uow.session, "question", proposal.question_id, milestone):
                    uow.emit("vote_milestone_reached", schemas.VoteMilestoneReached().dump({
                        "scope": "question", "question_id": proposal.question_id, "proposal_id": None,
                        "milestone": milestone, "votes": total, "votes_target": question.votes_target}))
