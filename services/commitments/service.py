"""Commitments nameko service: public actors (elected officials, parties, governments,
organisations), their commitments and how they are kept (PolitiFact's scale), with a
timeline of every rating and its source.

Thin entrypoints: validate input (schemas), apply the rules (domain), store and emit
events in one transaction (persistence + outbox). Learns officials' commitments from
``lobbying.official_committed``, idempotently.
"""
import logging

from nameko import config
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from common.contracts import dump, schema
from common.errors import EXPECTED
from common.nameko_support import Database, HealthMixin, load, reliable_handler
from services.commitments import domain, persistence as store, schemas
from services.commitments.domain import Conflict, NotFound, ValidationFailed
from services.commitments.persistence import aware, utcnow

log = logging.getLogger(__name__)
ERRORS = EXPECTED + (domain.DomainError,)
HANDLER_OFFICIAL_COMMITTED = "commitments.on_official_committed"


def _rules() -> domain.CommitmentRules:
    return domain.CommitmentRules.from_mapping(config.get("COMMITMENTS"))


def _actor_fields(actor: store.Actor) -> dict:
    return {name: getattr(actor, name) for name in domain.ACTOR_FIELDS}


def _actor_out(actor: store.Actor) -> dict:
    data = _actor_fields(actor)
    data.update(id=actor.id, contact_emails=list(actor.contact_emails or []),
                created_at=aware(actor.created_at), updated_at=aware(actor.updated_at))
    return dump(schemas.ActorOut, data)


def _commitment_data(c: store.Commitment, actor: store.Actor) -> dict:
    return {
        "id": c.id, "actor_id": c.actor_id, "actor": {"id": actor.id, "name": actor.name, "country": actor.country},
        "proposal_id": c.proposal_id, "campaign_id": c.campaign_id, "statement": c.statement,
        "made_at": aware(c.made_at), "source_url": c.source_url, "source_response_id": c.source_response_id,
        "status": c.status, "country": c.country, "created_at": aware(c.created_at),
        "updated_at": aware(c.updated_at),
    }


def _commitment_out(c: store.Commitment, actor: store.Actor) -> dict:
    return dump(schemas.CommitmentOut, _commitment_data(c, actor))


def _entry_data(e: store.TimelineEntry) -> dict:
    return {"status": e.status, "previous_status": e.previous_status, "evidence_url": e.evidence_url,
            "note": e.note, "changed_by": e.changed_by, "changed_at": aware(e.changed_at)}


def _made_event(c: store.Commitment, actor: store.Actor) -> dict:
    return dump(schemas.CommitmentMade, {
        "commitment_id": c.id, "actor_id": actor.id, "actor_name": actor.name, "proposal_id": c.proposal_id,
        "campaign_id": c.campaign_id, "country": c.country, "statement": c.statement, "status": c.status,
        "made_at": aware(c.made_at), "source_url": c.source_url, "source_response_id": c.source_response_id})


def _status_event(c: store.Commitment, actor: store.Actor, e: store.TimelineEntry) -> dict:
    return dump(schemas.CommitmentStatusChanged, {
        "commitment_id": c.id, "actor_id": actor.id, "actor_name": actor.name, "proposal_id": c.proposal_id,
        "campaign_id": c.campaign_id, "country": c.country, "status": e.status,
        "previous_status": e.previous_status, "evidence_url": e.evidence_url, "note": e.note,
        "changed_at": aware(e.changed_at), "changed_by": e.changed_by})


def _upper(value):
    return value.strip().upper() if value else None


class CommitmentsService(HealthMixin):
    name = "commitments"
    db = Database("commitments", store.metadata)

    # -- public actors ---------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def create_actor(self, caller, data):
        """Admin only. Conflict when the external_id is already used."""
        who = domain.Caller.from_mapping(caller)
        domain.require_admin(who)
        actor_data = domain.validate_actor(load(schema(schemas.ActorIn), data), _rules())
        now = utcnow()
        try:
            with self.db() as uow:
                if actor_data["external_id"] and store.actor_by_external_id(uow.session, actor_data["external_id"]):
                    raise Conflict(f"external_id {actor_data['external_id']!r} is already used")
                actor = store.Actor(created_by=who.user_id, created_at=now, updated_at=now, **actor_data)
                uow.session.add(actor)
                uow.session.flush()
                out = _actor_out(actor)
                uow.emit("actor_created", out)
        except IntegrityError:
            raise Conflict(f"external_id {actor_data['external_id']!r} is already used") from None
        return out

    @rpc(expected_exceptions=ERRORS)
    def update_actor(self, caller, actor_id, data):
        """Admin only. Only the given fields change; the result is validated whole."""
        domain.require_admin(domain.Caller.from_mapping(caller))
        changes_in = load(schema(schemas.ActorUpdateIn), data, partial=True)
        rules = _rules()
        try:
            with self.db() as uow:
                actor = uow.session.get(store.Actor, str(actor_id), with_for_update=store.is_postgres(uow.session))
                if actor is None:
                    raise NotFound(f"actor {actor_id} not found")
                current = _actor_fields(actor)
                merged = domain.validate_actor({**current, **changes_in}, rules)
                changes = domain.actor_changes(current, merged)
                if changes.get("external_id") and store.actor_by_external_id(uow.session, changes["external_id"]):
                    raise Conflict(f"external_id {changes['external_id']!r} is already used")
                if changes:
                    self._apply_changes(uow, actor, changes)
                return _actor_out(actor)
        except IntegrityError:
            raise Conflict("external_id is already used") from None

    @rpc(expected_exceptions=ERRORS)
    def list_actors(self, filters=None):
        f = load(schema(schemas.ActorFilterIn), filters)
        limit, offset = _rules().page(f["page"], f["per_page"])
        q = (f["q"] or "").strip() or None
        with self.db() as uow:
            rows, total = store.list_actors(uow.session, _upper(f["country"]), f["level"], f["kind"], q,
                                            limit, offset)
            items = [_actor_out(a) for a in rows]
        return {"items": items, "total": total, "page": f["page"], "per_page": limit}

    @rpc(expected_exceptions=ERRORS)
    def get_actor(self, actor_id):
        """The actor, its most recent commitments (capped) and its scoreboard."""
        rules = _rules()
        with self.db() as uow:
            actor = uow.session.get(store.Actor, str(actor_id))
            if actor is None:
                raise NotFound(f"actor {actor_id} not found")
            out = _actor_out(actor)
            out["commitments"] = [_commitment_out(c, actor) for c in
                                  store.commitments_of_actor(uow.session, actor.id, rules.actor_commitments_cap)]
            out["scoreboard"] = dump(schemas.ScoreboardOut, 
                domain.scoreboard(store.status_counts(uow.session, actor.id)))
        return out

    @rpc(expected_exceptions=ERRORS)
    def get_actors(self, actor_ids):
        """Batch read for other services (lobbying validates its targets with it): the
        actors that exist among ``actor_ids``, with contact_emails and locale."""
        if actor_ids is None:
            actor_ids = []
        if not isinstance(actor_ids, (list, tuple)):
            raise ValidationFailed({"actor_ids": "must be a list of ids"})
        rules = _rules()
        if len(actor_ids) > rules.get_actors_max_ids:
            raise ValidationFailed({"actor_ids": f"at most {rules.get_actors_max_ids} ids"})
        ids = {str(i) for i in actor_ids}
        with self.db() as uow:
            return [_actor_out(a) for a in store.actors_by_ids(uow.session, ids)]

    @rpc(expected_exceptions=ERRORS)
    def import_actors(self, caller, rows, dry_run=False, start_row=1):
        """Admin only. Idempotent upsert of CSV rows on external_id; every row is
        accounted for: {total, created, updated, unchanged, errors: [{row, fields}], dry_run}."""
        who = domain.Caller.from_mapping(caller)
        domain.require_admin(who)
        if not isinstance(start_row, int) or isinstance(start_row, bool) or start_row < 1:
            raise ValidationFailed({"start_row": "must be an integer >= 1"})
        valid, errors = domain.prepare_import(rows, _rules(), start_row)
        now = utcnow()
        try:
            with self.db() as uow:
                existing = store.actors_by_external_ids(uow.session, [a["external_id"] for _, a in valid])
                plan = domain.plan_import(valid, {k: _actor_fields(a) for k, a in existing.items()})
                if not dry_run:
                    for _, actor_data in plan["create"]:
                        actor = store.Actor(created_by=who.user_id, created_at=now, updated_at=now, **actor_data)
                        uow.session.add(actor)
                        uow.session.flush()
                        uow.emit("actor_created", _actor_out(actor))
                    for _, external_id, changes in plan["update"]:
                        self._apply_changes(uow, existing[external_id], changes, now)
        except IntegrityError:
            raise Conflict("another change to these actors happened meanwhile; run the import again "
                           "(it is idempotent)") from None
        return dump(schemas.ImportResultOut, {
            "total": len(rows), "created": len(plan["create"]), "updated": len(plan["update"]),
            "unchanged": len(plan["unchanged"]), "errors": sorted(errors, key=lambda e: e["row"]),
            "dry_run": bool(dry_run)})

    def _apply_changes(self, uow, actor, changes, now=None):
        for name, value in changes.items():
            setattr(actor, name, value)
        actor.updated_at = now or utcnow()
        if "country" in changes:  # a commitment carries its actor's country
            uow.session.execute(
                store.Commitment.__table__.update().where(store.Commitment.actor_id == actor.id)
                .values(country=changes["country"]))
        uow.session.flush()
        uow.emit("actor_updated", _actor_out(actor))

    # -- commitments -----------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def create_commitment(self, caller, data):
        """Editors and admins record a commitment (e.g. one made outside the platform)."""
        who = domain.Caller.from_mapping(caller)
        domain.require_editor(who)
        now = utcnow()
        body = domain.validate_commitment(load(schema(schemas.CommitmentIn), data), _rules(), now)
        with self.db() as uow:
            actor = uow.session.get(store.Actor, body["actor_id"])
            if actor is None:
                raise ValidationFailed({"actor_id": "unknown actor"})
            commitment = self._add_commitment(uow, actor, body, who.user_id, now)
            return self._detail(uow.session, commitment, actor)

    @rpc(expected_exceptions=ERRORS)
    def set_status(self, caller, commitment_id, data):
        """Editors and admins rate a commitment; each change is a timeline entry citing
        its source (evidence_url, required for every status but not_yet_rated)."""
        who = domain.Caller.from_mapping(caller)
        domain.require_editor(who)
        body = load(schema(schemas.StatusIn), data)
        rules = _rules()
        with self.db() as uow:
            commitment = store.commitment_for_update(uow.session, str(commitment_id))
            if commitment is None:
                raise NotFound(f"commitment {commitment_id} not found")
            change = domain.change_status(commitment.status, body["status"], body["evidence_url"], body["note"],
                                          rules)
            now = utcnow()
            entry = store.TimelineEntry(commitment_id=commitment.id, changed_by=who.user_id, changed_at=now,
                                        **change)
            uow.session.add(entry)
            commitment.status, commitment.updated_at = change["status"], now
            uow.session.flush()
            actor = uow.session.get(store.Actor, commitment.actor_id)
            uow.emit("commitment_status_changed", _status_event(commitment, actor, entry))
            return self._detail(uow.session, commitment, actor)

    @rpc(expected_exceptions=ERRORS)
    def list_commitments(self, filters=None):
        f = load(schema(schemas.CommitmentFilterIn), filters)
        limit, offset = _rules().page(f["page"], f["per_page"])
        with self.db() as uow:
            rows, total = store.list_commitments(
                uow.session, actor=f["actor"], proposal=f["proposal"], campaign=f["campaign"], status=f["status"],
                country=_upper(f["country"]), limit=limit, offset=offset)
            items = [_commitment_out(c, a) for c, a in rows]
        return {"items": items, "total": total, "page": f["page"], "per_page": limit}

    @rpc(expected_exceptions=ERRORS)
    def get_commitment(self, commitment_id):
        """The commitment with its actor summary and timeline (oldest first)."""
        with self.db() as uow:
            commitment = uow.session.get(store.Commitment, str(commitment_id))
            if commitment is None:
                raise NotFound(f"commitment {commitment_id} not found")
            return self._detail(uow.session, commitment, uow.session.get(store.Actor, commitment.actor_id))

    # -- what commitments learns from lobbying -----------------------------------------------------
    @reliable_handler("lobbying", "official_committed")
    def on_official_committed(self, event):
        """An official answered a campaign with a commitment: record it, exactly once per
        response (the event id is marked processed, and source_response_id is unique, so a
        re-sent event under a new id cannot duplicate it either)."""
        event_id = event.get("event_id") if isinstance(event, dict) else None
        try:
            data = schema(schemas.OfficialCommitted).load((event or {}).get("data") or {})
        except (ValidationError, AttributeError) as exc:
            log.error("official_committed %s ignored: invalid data %s", event_id, getattr(exc, "messages", exc))
            return
        if not event_id:
            log.error("official_committed without event_id ignored: %s", data["response_id"])
            return
        statement = domain.clean_text(data["statement"])
        with self.db() as uow:
            if not uow.first_delivery(str(event_id), HANDLER_OFFICIAL_COMMITTED):
                return
            if store.commitment_by_response(uow.session, data["response_id"]) is not None:
                return
            actor = uow.session.get(store.Actor, data["actor_id"])
            if actor is None or statement is None:
                log.error("official_committed %s (response %s) ignored: %s", event_id, data["response_id"],
                          "unknown actor " + data["actor_id"] if actor is None else "empty statement")
                return
            body = {"proposal_id": data["proposal_id"], "campaign_id": data["campaign_id"], "statement": statement,
                    "made_at": data["responded_at"], "source_url": None,
                    "source_response_id": data["response_id"]}
            try:
                with uow.session.begin_nested():
                    commitment = self._add_commitment(uow, actor, body, data["responded_by"], utcnow(), emit=False)
            except IntegrityError:
                return  # the same response, recorded concurrently by another delivery
            uow.emit("commitment_made", _made_event(commitment, actor))

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _add_commitment(uow, actor, body, created_by, now, emit=True):
        commitment = store.Commitment(
            actor_id=actor.id, proposal_id=body.get("proposal_id"), campaign_id=body.get("campaign_id"),
            statement=body["statement"], made_at=body["made_at"], source_url=body.get("source_url"),
            source_response_id=body.get("source_response_id"), status=domain.UNRATED, country=actor.country,
            created_by=created_by, created_at=now, updated_at=now)
        uow.session.add(commitment)
        uow.session.flush()
        uow.session.add(store.TimelineEntry(
            commitment_id=commitment.id, status=domain.UNRATED, previous_status=None,
            evidence_url=body.get("source_url"), note=None, changed_by=created_by, changed_at=now))
        uow.session.flush()
        if emit:
            uow.emit("commitment_made", _made_event(commitment, actor))
        return commitment

    @staticmethod
    def _detail(session, commitment, actor):
        data = _commitment_data(commitment, actor)
        data["timeline"] = [_entry_data(e) for e in store.timeline(session, commitment.id)]
        return dump(schemas.CommitmentDetailOut, data)
