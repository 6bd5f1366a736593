"""Proposals nameko service: questions, proposals, moderation, search.

Thin entrypoints: validate input (schemas), apply the rules (domain), store and emit
events in one transaction (persistence + outbox).
"""
from nameko import config
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage
from sqlalchemy.exc import IntegrityError

from common.contracts import dump, schema
from common.errors import EXPECTED, Conflict, NotFound
from common.nameko_support import Database, HealthMixin, load
from services.proposals import domain, persistence as store, schemas
from services.proposals.persistence import aware, utcnow

ERRORS = EXPECTED + (domain.DomainError,)


def _rules() -> domain.ProposalRules:
    return domain.ProposalRules.from_mapping(config.get("PROPOSALS"))


def _question_or_404(session, id_or_slug) -> store.Question:
    question = store.question_by_id_or_slug(session, str(id_or_slug))
    if question is None:
        raise NotFound(f"question {id_or_slug} not found")
    return question


def _question_out(question: store.Question, now, rules: domain.ProposalRules | None = None) -> dict:
    """A question; with ``rules``, also what a client needs to help proposing on it (the
    language's customary prefix, the length bounds). Events carry the question without them."""
    data = {c: getattr(question, c) for c in (
        "id", "slug", "title", "country", "language", "scope", "votes_target", "created_at")}
    data["starts_at"], data["ends_at"] = aware(question.starts_at), aware(question.ends_at)
    data["created_at"] = aware(question.created_at)
    data["status"] = domain.question_status(data["starts_at"], data["ends_at"], now)
    if rules is not None:
        data["proposal_prefix"] = domain.proposal_prefix(question.language)
        data["proposal_min_length"], data["proposal_max_length"] = rules.min_length, rules.max_length
    return dump(schemas.QuestionOut, data)


def _proposal_out(p: store.Proposal) -> dict:
    return dump(schemas.ProposalOut, {
        "id": p.id, "question_id": p.question_id, "author_id": p.author_id, "content": p.content,
        "original_content": p.original_content, "status": p.status, "refusal_reason": p.refusal_reason,
        "tags": p.tags or [], "country": p.country, "language": p.language,
        "created_at": aware(p.created_at), "moderated_at": aware(p.moderated_at),
    })


def _event_data(p: store.Proposal, moderator_id=None) -> dict:
    return dump(schemas.ProposalEvent, {
        "proposal_id": p.id, "question_id": p.question_id, "country": p.country, "language": p.language,
        "author_id": p.author_id, "content": p.content, "status": p.status,
        "original_content": p.original_content, "refusal_reason": p.refusal_reason, "tags": p.tags or [],
        "moderator_id": moderator_id, "created_at": aware(p.created_at),
    })


def _page(params):
    return params["per_page"], (params["page"] - 1) * params["per_page"]


class ProposalsService(HealthMixin):
    name = "proposals"
    db = Database("proposals", store.metadata)

    # -- questions ---------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def create_question(self, caller, data):
        """Admin only. Country/language pairs follow the configured rules."""
        who = domain.Caller.from_mapping(caller)
        domain.require_admin(who)
        q = load(schema(schemas.QuestionIn), data)
        rules = _rules()
        q["slug"] = domain.validate_slug(q["slug"])
        q["country"], q["language"] = q["country"].upper(), q["language"].lower()
        domain.validate_country_language(q["country"], q["language"], rules)
        domain.validate_question_dates(q["starts_at"], q["ends_at"])
        try:
            with self.db() as uow:
                if store.question_by_id_or_slug(uow.session, q["slug"]):
                    raise Conflict(f"the slug {q['slug']!r} is already used")
                question = store.Question(created_by=who.user_id, **q)
                uow.session.add(question)
                uow.session.flush()
                uow.emit("question_created", _question_out(question, utcnow()))
                out = _question_out(question, utcnow(), rules)
        except IntegrityError:
            raise Conflict(f"the slug {q['slug']!r} is already used") from None
        return out

    @rpc(expected_exceptions=ERRORS)
    def list_questions(self, filters=None):
        f = load(schema(schemas.QuestionFilterIn), filters)
        limit, offset = _page(f)
        now, rules = utcnow(), _rules()
        with self.db() as uow:
            rows, total = store.list_questions(uow.session, now, f["country"], f["language"], f["status"], limit, offset,
                                               scope=f["scope"])
            items = [_question_out(q, now, rules) for q in rows]
        return {"items": items, "total": total, "page": f["page"], "per_page": f["per_page"]}

    @rpc(expected_exceptions=ERRORS)
    def get_question(self, id_or_slug):
        with self.db() as uow:
            question = _question_or_404(uow.session, id_or_slug)
            return _question_out(question, utcnow(), _rules())

    @rpc(expected_exceptions=ERRORS)
    def list_countries(self):
        """The configured countries and their languages (the first is the default)."""
        rules = _rules()
        return [dump(schemas.CountryOut, {"country": c, "languages": list(langs), "default_language": langs[0]})
                for c, langs in rules.country_languages.items()]

    # -- proposals ---------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def submit_proposal(self, caller, question_id, data):
        """A logged-in citizen proposes on an open question; created pending.
        Returns the proposal and the likely duplicates among accepted proposals."""
        who = domain.Caller.from_mapping(caller)
        domain.require_authenticated(who)
        body = load(schema(schemas.ProposalIn), data)
        rules = _rules()
        now = utcnow()
        with self.db() as uow:
            question = _question_or_404(uow.session, question_id)
            content = domain.validate_content(body["content"], rules, question.language)
            if domain.question_status(aware(question.starts_at), aware(question.ends_at), now) != "open":
                raise Conflict("the question is not open for proposals")
            proposal = store.Proposal(
                question_id=question.id, author_id=who.user_id, content=content, status="pending",
                country=question.country, language=question.language, tags=[], created_at=now,
            )
            store.set_search_vector(uow.session, proposal)
            uow.session.add(proposal)
            uow.session.flush()
            duplicates = self._duplicates(uow.session, question.id, content, rules, exclude_id=proposal.id)
            uow.emit("proposal_submitted", _event_data(proposal))
            out = _proposal_out(proposal)
        return {"proposal": out, "likely_duplicates": duplicates}

    @rpc(expected_exceptions=ERRORS)
    def similar_proposals(self, caller, question_id, data):
        """Dry run of a submission's duplicate check, for a draft: the most similar proposals
        the caller may see (accepted ones; pending and postponed ones too for the question's
        moderators and for their own author), and how many other proposals awaiting
        moderation are similar (a count only: their text is not public yet)."""
        who = domain.Caller.from_mapping(caller)
        body = load(schema(schemas.SimilarIn), data)
        rules = _rules()
        with self.db() as uow:
            question = _question_or_404(uow.session, question_id)
            content = domain.validate_content(body["content"], rules, question.language)
            visible, hidden = store.similar_clauses(who.user_id, domain.can_moderate(who, question.id))
            found = store.similar_proposals(
                uow.session, question.id, content, rules.duplicate_min_score, rules.duplicate_limit, visible)
            hidden_count = store.count_similar(uow.session, question.id, content, rules.duplicate_min_score, hidden)
            if found is None:  # no pg_trgm: rank in Python
                rows = store.candidates(uow.session, question.id, visible)
                status = {pid: st for pid, _, st in rows}
                found = [dict(d, status=status[d["id"]])
                         for d in domain.rank_duplicates(content, [(pid, text) for pid, text, _ in rows], rules)]
                hidden_count = sum(
                    domain.similarity(content, text) >= rules.duplicate_min_score
                    for _, text, _ in store.candidates(uow.session, question.id, hidden))
        return dump(schemas.SimilarResultOut, {"likely_duplicates": found, "pending_similar": hidden_count})

    @rpc(expected_exceptions=ERRORS)
    def my_proposals(self, caller, params=None):
        """The caller's own proposals, every status, newest first, with the refusal reason
        and their question's slug and title."""
        who = domain.Caller.from_mapping(caller)
        domain.require_authenticated(who)
        p = load(schema(schemas.MyProposalsIn), params)
        limit, offset = _page(p)
        with self.db() as uow:
            question_id = None
            if p["question"]:
                question = _question_or_404(uow.session, p["question"])
                question_id = question.id
            rows, total = store.proposals_by_author(uow.session, who.user_id, p["status"], question_id, limit, offset)
            items = [dict(_proposal_out(proposal), question_slug=slug, question_title=title)
                     for proposal, slug, title in rows]
        return {"items": items, "total": total, "page": p["page"], "per_page": p["per_page"]}

    @rpc(expected_exceptions=ERRORS)
    def get_proposal(self, proposal_id, caller=None):
        """Accepted proposals are public; others only for their author and moderators."""
        who = domain.Caller.from_mapping(caller)
        with self.db() as uow:
            proposal = uow.session.get(store.Proposal, str(proposal_id))
            visible = proposal is not None and (
                proposal.status == "accepted"
                or (who.user_id and who.user_id == proposal.author_id)
                or domain.can_moderate(who, proposal.question_id)
            )
            if not visible:
                raise NotFound(f"proposal {proposal_id} not found")
            return _proposal_out(proposal)

    @rpc(expected_exceptions=ERRORS)
    def get_proposals(self, proposal_ids):
        """Batch read for other services and the gateway: accepted proposals by id."""
        ids = [str(i) for i in (proposal_ids or [])][:500]
        with self.db() as uow:
            rows = store.accepted_by_ids(uow.session, ids)
            return [_proposal_out(p) for p in rows]

    @rpc(expected_exceptions=ERRORS)
    def list_proposals(self, question_id, params=None):
        p = load(schema(schemas.ProposalListIn), params)
        limit, offset = _page(p)
        with self.db() as uow:
            question = _question_or_404(uow.session, question_id)
            settings = config.get("PROPOSALS") or {}
            rows, total, exact = store.list_accepted(
                uow.session, question, (p["q"] or "").strip() or None, limit, offset,
                rank_window=int(settings.get("search_rank_window", store.RANK_WINDOW)),
                count_cap=int(settings.get("search_count_cap", store.COUNT_CAP)))
            items = [_proposal_out(r) for r in rows]
        return {"items": items, "total": total, "total_exact": exact, "page": p["page"], "per_page": p["per_page"]}

    @rpc(expected_exceptions=ERRORS)
    def queue_sizes(self, question_ids=None):
        """{question_id: pending proposals}, for all questions or the given ones."""
        with self.db() as uow:
            return store.pending_counts(uow.session, None if question_ids is None else [str(q) for q in question_ids])

    # -- moderation --------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def moderation_queue(self, caller, params=None):
        """Pending proposals grouped by author, oldest first, each with its likely
        duplicates; the returned ones are locked to the caller for ``lock_seconds``."""
        who = domain.Caller.from_mapping(caller)
        p = load(schema(schemas.QueueIn), params)
        rules = _rules()
        scope = domain.moderated_scope(who)
        if p["question"]:
            domain.require_authenticated(who)
        elif scope is not None and not scope:
            raise domain.Forbidden("you moderate no question")
        now = utcnow()
        until = domain.new_lock_until(now, rules)
        with self.db() as uow:
            if p["question"]:  # an id or a slug, as everywhere else; rights are per question id
                question = store.question_by_id_or_slug(uow.session, p["question"])
                question_id = question.id if question is not None else p["question"]
                domain.require_moderator(who, question_id)
                scope = {question_id}
            authors = store.queue_authors(uow.session, scope, who.user_id, now, p["limit"])
            items = []
            for proposal in store.queue_proposals(uow.session, scope, who.user_id, now, authors):
                if not store.take_lock(uow.session, proposal.id, who.user_id, now, until):
                    continue  # another moderator took it in the meantime
                item = _proposal_out(proposal)
                item["locked_until"] = until.isoformat()
                item["likely_duplicates"] = self._duplicates(
                    uow.session, proposal.question_id, proposal.content, rules, exclude_id=proposal.id)
                items.append(item)
        return {"groups": domain.group_queue(items, p["limit"]), "lock_seconds": rules.lock_seconds}

    @rpc(expected_exceptions=ERRORS)
    def accept_proposal(self, caller, proposal_id, data=None):
        body = load(schema(schemas.AcceptIn), data)
        rules = _rules()

        def apply(proposal):
            new_status = domain.accept(proposal.status)
            if body["content"] is not None:
                edited = domain.validate_content(body["content"], rules, proposal.language)
                if edited != proposal.content:
                    proposal.original_content = proposal.original_content or proposal.content
                    proposal.content = edited
            if body["tags"] is not None:
                proposal.tags = sorted(set(body["tags"]))
            proposal.refusal_reason = None
            return new_status

        return self._moderate(caller, proposal_id, apply, "proposal_accepted")

    @rpc(expected_exceptions=ERRORS)
    def refuse_proposal(self, caller, proposal_id, data=None):
        body = load(schema(schemas.RefuseIn), data)

        def apply(proposal):
            new_status = domain.refuse(proposal.status, body["reason"])
            proposal.refusal_reason = body["reason"]
            return new_status

        return self._moderate(caller, proposal_id, apply, "proposal_refused")

    @rpc(expected_exceptions=ERRORS)
    def postpone_proposal(self, caller, proposal_id):
        return self._moderate(caller, proposal_id, lambda p: domain.postpone(p.status), "proposal_postponed")

    def _moderate(self, caller, proposal_id, apply, event_type):
        who = domain.Caller.from_mapping(caller)
        now = utcnow()
        with self.db() as uow:
            proposal = store.proposal_for_update(uow.session, str(proposal_id))
            if proposal is None:
                raise NotFound(f"proposal {proposal_id} not found")
            domain.require_moderator(who, proposal.question_id)
            domain.check_lock(proposal.locked_by, aware(proposal.locked_until), who.user_id, now)
            new_status = apply(proposal)
            proposal.status = new_status.value
            proposal.moderated_at, proposal.moderated_by = now, who.user_id
            proposal.locked_by = proposal.locked_until = None
            store.set_search_vector(uow.session, proposal)
            uow.session.flush()
            uow.emit(event_type, _event_data(proposal, who.user_id))
            return _proposal_out(proposal)

    @staticmethod
    def _duplicates(session, question_id, content, rules, exclude_id=None):
        found = store.similar_accepted(
            session, question_id, content, rules.duplicate_min_score, rules.duplicate_limit, exclude_id)
        if found is None:
            candidates = store.accepted_candidates(session, question_id, exclude_id=exclude_id)
            found = domain.rank_duplicates(content, candidates, rules)
        return found
