"""Lobbying nameko service: crowd-lobbying campaigns on emerged proposals, supporters,
milestones, interpellations of public actors, and officials' responses."""
from datetime import datetime

from nameko import config
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage

from common.contracts import dump, schema
from common.errors import EXPECTED, Conflict, NotFound, ServiceUnavailable
from common.nameko_support import Database, HealthMixin, ServiceRpc, load, reliable_handler
from common.rpc_client import RemoteError, ServiceUnavailable as RpcUnavailable
from services.lobbying import domain, persistence as store, schemas
from services.lobbying.persistence import aware, utcnow

ERRORS = EXPECTED + (domain.DomainError,)


def _rules() -> domain.LobbyingRules:
    return domain.LobbyingRules.from_mapping(config.get("LOBBYING"))


def _time(value):
    if isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(value)) if value else None


def _campaign_out(campaign: store.Campaign, rules, supported=None) -> dict:
    upcoming = [m["milestone"] for m in domain.milestones_for(campaign.goal, rules)
                if m["milestone"] > campaign.supporters]
    return dump(schemas.CampaignOut, {
        "id": campaign.id, "proposal_id": campaign.proposal_id, "creator_id": campaign.creator_id,
        "title": campaign.title, "pitch": campaign.pitch, "goal": campaign.goal, "country": campaign.country,
        "status": campaign.status, "supporters": campaign.supporters, "created_at": aware(campaign.created_at),
        "milestones": [{"milestone": m.milestone, "kind": m.kind, "reached_at": aware(m.reached_at)}
                       for m in campaign.milestones],
        "next_milestone": upcoming[0] if upcoming else None,
        "targets": [{"actor_id": t.actor_id, "actor_name": t.actor_name, "country": t.country, "level": t.level,
                     "state": t.state, "stance": t.stance, "statement": t.statement,
                     "responded_at": aware(t.responded_at), "interpellations": t.interpellations}
                    for t in campaign.targets],
        "supported": supported,
    })


class LobbyingService(HealthMixin):
    name = "lobbying"
    db = Database("lobbying", store.metadata)
    commitments_rpc = ServiceRpc("commitments")

    # -- campaigns ------------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def create_campaign(self, caller, data):
        """A citizen starts a campaign on an emerged proposal, targeting public actors of
        the proposal's country (or European level)."""
        creator = domain.require_citizen(caller)
        rules = _rules()
        loaded = load(schema(schemas.CampaignIn), data)
        body = domain.validate_campaign(loaded, rules)
        proposal_id = loaded["proposal_id"]
        with self.db() as uow:
            proposal = uow.session.get(store.Proposal, proposal_id)
            if proposal is None or proposal.emerged_at is None or proposal.status not in (None, "accepted"):
                raise Conflict(f"proposal {proposal_id} has not emerged: campaigns start from emerged proposals")
            country = proposal.country
        try:
            actors = self.commitments_rpc.get_actors(body["target_actor_ids"])
        except (RemoteError, RpcUnavailable) as exc:
            raise ServiceUnavailable(f"cannot check the targets now ({exc})") from None
        domain.check_targets(country, body["target_actor_ids"], actors)
        by_id = {a["id"]: a for a in actors}
        with self.db() as uow:
            campaign = store.Campaign(proposal_id=proposal_id, creator_id=creator, title=body["title"],
                                      pitch=body["pitch"], goal=body["goal"], country=country)
            for position, actor_id in enumerate(body["target_actor_ids"]):
                actor = by_id[actor_id]
                campaign.targets.append(store.Target(
                    actor_id=actor_id, position=position, actor_name=actor["name"], country=actor.get("country"),
                    level=actor.get("level"), locale=actor.get("locale") or "en",
                    contact_emails=list(actor.get("contact_emails") or []), state="not_contacted"))
            uow.session.add(campaign)
            uow.session.flush()
            uow.emit("campaign_started", dump(schemas.CampaignStarted, {
                "campaign_id": campaign.id, "proposal_id": campaign.proposal_id, "creator_id": creator,
                "title": campaign.title, "country": country, "goal": campaign.goal,
                "target_actor_ids": body["target_actor_ids"]}))
            return _campaign_out(campaign, rules, supported=False)

    @rpc(expected_exceptions=ERRORS)
    def get_campaign(self, campaign_id, caller=None):
        with self.db() as uow:
            campaign = uow.session.get(store.Campaign, str(campaign_id))
            if campaign is None:
                raise NotFound(f"campaign {campaign_id} not found")
            supported = None
            if caller and caller.get("user_id"):
                supported = store.is_supporter(uow.session, campaign.id, caller["user_id"])
            return _campaign_out(campaign, _rules(), supported)

    @rpc(expected_exceptions=ERRORS)
    def list_campaigns(self, filters=None):
        f = load(schema(schemas.CampaignFilterIn), filters)
        rules = _rules()
        with self.db() as uow:
            rows, total = store.list_campaigns(uow.session, f["proposal"], f["actor"], f["status"], f["per_page"],
                                               (f["page"] - 1) * f["per_page"])
            items = [_campaign_out(c, rules) for c in rows]
        return {"items": items, "total": total, "page": f["page"], "per_page": f["per_page"]}

    # -- supporters and milestones ---------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def support(self, caller, campaign_id):
        """One support per citizen (idempotent). Each milestone is reached exactly once and
        interpellates the targets that have not responded."""
        user_id = domain.require_citizen(caller)
        rules = _rules()
        with self.db() as uow:
            campaign = store.locked(uow.session, store.Campaign, str(campaign_id))
            if campaign is None:
                raise NotFound(f"campaign {campaign_id} not found")
            if campaign.status != "active":
                raise Conflict("the campaign is closed")
            added = store.add_support(uow.session, campaign.id, user_id)
            if added:
                before = campaign.supporters
                campaign.supporters = before + 1
                for milestone in domain.crossed(before, campaign.supporters,
                                                domain.milestones_for(campaign.goal, rules)):
                    self._reach(uow, campaign, milestone, rules)
            return dump(schemas.SupportOut, {"campaign_id": campaign.id, "supporting": True, "changed": added,
                                              "supporters": campaign.supporters})

    @rpc(expected_exceptions=ERRORS)
    def withdraw_support(self, caller, campaign_id):
        user_id = domain.require_citizen(caller)
        with self.db() as uow:
            campaign = store.locked(uow.session, store.Campaign, str(campaign_id))
            if campaign is None:
                raise NotFound(f"campaign {campaign_id} not found")
            removed = store.remove_support(uow.session, campaign.id, user_id)
            if removed:
                campaign.supporters -= 1  # milestones once reached stay reached
            return dump(schemas.SupportOut, {"campaign_id": campaign.id, "supporting": False, "changed": removed,
                                              "supporters": campaign.supporters})

    @rpc(expected_exceptions=ERRORS)
    def supporter_ids(self, campaign_id, after=None, limit=1000):
        """Supporters' user ids in keyset pages (for notifications' batched fan-out)."""
        with self.db() as uow:
            return store.supporter_ids(uow.session, str(campaign_id), after, min(int(limit), 5000))

    def _reach(self, uow, campaign, milestone, rules):
        if not store.record_milestone(uow.session, campaign.id, milestone["milestone"], milestone["kind"]):
            return
        uow.emit("campaign_milestone_reached", dump(schemas.CampaignMilestoneReached, {
            "campaign_id": campaign.id, "proposal_id": campaign.proposal_id, "country": campaign.country,
            "title": campaign.title, "milestone": milestone["milestone"], "kind": milestone["kind"],
            "supporters": campaign.supporters, "goal": campaign.goal,
            "target_actor_ids": [t.actor_id for t in campaign.targets]}))
        proposal = uow.session.get(store.Proposal, campaign.proposal_id)
        now = utcnow()
        for target in campaign.targets:
            if not domain.should_interpellate(target.state):
                continue
            target.state, target.interpellations, target.last_interpellated_at = (
                "interpellated", target.interpellations + 1, now)
            uow.emit("target_interpellated", dump(schemas.TargetInterpellated, {
                "campaign_id": campaign.id, "proposal_id": campaign.proposal_id, "country": campaign.country,
                "actor_id": target.actor_id, "actor_name": target.actor_name,
                "contact_emails": target.contact_emails, "locale": target.locale,
                "campaign_title": campaign.title, "pitch": campaign.pitch,
                "proposal_content": proposal.content if proposal else None,
                "milestone": milestone["milestone"], "supporters": campaign.supporters, "goal": campaign.goal,
                "send_policy": {"window_start_hour": rules.send_window_start_hour,
                                "window_end_hour": rules.send_window_end_hour,
                                "max_per_hour": rules.max_messages_per_hour_per_target}}))

    # -- officials respond ---------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def respond(self, caller, campaign_id, data):
        """An official answers for their public actor: commit, decline or other. A commit
        becomes a commitment in the commitments service (event official_committed)."""
        body = load(schema(schemas.ResponseIn), data)
        rules = _rules()
        with self.db() as uow:
            campaign = store.locked(uow.session, store.Campaign, str(campaign_id))
            if campaign is None:
                raise NotFound(f"campaign {campaign_id} not found")
            user_id = domain.require_official_for(caller, [t.actor_id for t in campaign.targets])
            answer = domain.validate_response(body, rules)
            target = next(t for t in campaign.targets if t.actor_id == caller["actor_id"])
            domain.check_can_respond(target.stance, answer["stance"])
            now = utcnow()
            response = store.Response(campaign_id=campaign.id, actor_id=target.actor_id, stance=answer["stance"],
                                      statement=answer["statement"], responded_by=user_id, created_at=now)
            uow.session.add(response)
            target.state, target.stance, target.statement, target.responded_at = (
                "responded", answer["stance"], answer["statement"], now)
            uow.session.flush()
            uow.emit("official_responded", dump(schemas.OfficialResponded, {
                "response_id": response.id, "campaign_id": campaign.id, "proposal_id": campaign.proposal_id,
                "country": campaign.country, "actor_id": target.actor_id, "actor_name": target.actor_name,
                "stance": answer["stance"], "statement": answer["statement"], "responded_at": now,
                "responded_by": user_id}))
            if answer["stance"] == "commit":
                uow.emit("official_committed", dump(schemas.OfficialCommitted, {
                    "response_id": response.id, "campaign_id": campaign.id, "proposal_id": campaign.proposal_id,
                    "actor_id": target.actor_id, "statement": answer["statement"], "responded_at": now,
                    "responded_by": user_id}))
            return dump(schemas.ResponseOut, {
                "id": response.id, "campaign_id": campaign.id, "actor_id": target.actor_id,
                "stance": answer["stance"], "statement": answer["statement"], "created_at": now})

    # -- what lobbying learns from the others --------------------------------------------------
    @reliable_handler("proposals", "proposal_accepted")
    def on_proposal_accepted(self, event):
        self._proposal_status(event, "lobbying.on_proposal_accepted")

    @reliable_handler("proposals", "proposal_refused")
    def on_proposal_refused(self, event):
        self._proposal_status(event, "lobbying.on_proposal_refused")

    @reliable_handler("voting", "proposal_emerged")
    def on_proposal_emerged(self, event):
        data = event["data"]
        with self.db() as uow:
            if not uow.first_delivery(event["event_id"], "lobbying.on_proposal_emerged"):
                return
            proposal = store.locked(uow.session, store.Proposal, data["proposal_id"])
            if proposal is None:
                proposal = store.Proposal(id=data["proposal_id"])
                uow.session.add(proposal)
            proposal.question_id = proposal.question_id or data.get("question_id")
            proposal.author_id = proposal.author_id or data.get("author_id")
            proposal.country = proposal.country or data.get("country")
            proposal.language = proposal.language or data.get("language")
            proposal.emerged_at = proposal.emerged_at or _time(event["occurred_at"])

    def _proposal_status(self, event, handler):
        data, at = event["data"], _time(event["occurred_at"])
        with self.db() as uow:
            if not uow.first_delivery(event["event_id"], handler):
                return
            proposal = store.locked(uow.session, store.Proposal, data["proposal_id"])
            if proposal is None:
                proposal = store.Proposal(id=data["proposal_id"])
                uow.session.add(proposal)
            elif proposal.status_at is not None and aware(proposal.status_at) > at:
                return
            proposal.question_id, proposal.author_id = data["question_id"], data["author_id"]
            proposal.content, proposal.country, proposal.language = data["content"], data["country"], data["language"]
            proposal.status, proposal.status_at = data["status"], at
