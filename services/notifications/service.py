"""Notifications nameko service: listens to the other services' events and tells people
what concerns them, once, in their language: an in-app inbox, e-mails (immediately or
in daily / weekly digests, per kind and person), officials' interpellations within their
send window, and moderators' daily queue summary.

Thin entrypoints: validate (schemas), decide (domain), store (persistence). Guarantees:
- one inbox row per (event, person) (a unique constraint), whatever is redelivered;
- fan-outs to voters and supporters go in keyset pages of ``fanout_page_size`` (one RPC
  and one transaction per page), with their progress stored so a crash resumes where it
  stopped (a timer takes over stalled fan-outs);
- e-mails are rows (``deliveries``) written with the notification, sent by a timer-driven
  sender that claims due ones with ``FOR UPDATE SKIP LOCKED``, retries with exponential
  backoff, records failures (``email_failed`` event) and stops writing to hard-bounced
  addresses.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from marshmallow import ValidationError
from nameko import config
from common.nameko_support import rpc  # nameko's @rpc, surviving a broker outage
from nameko.timer import Timer

from common import config as settings
from common.contracts import dump, schema
from common.errors import EXPECTED
from common.nameko_support import Database, HealthMixin, ServiceRpc, load, reliable_handler
from services.notifications import domain, persistence as store, schemas
from services.notifications.domain import (DAILY, DIGEST_FREQUENCIES, DIGEST_KINDS, IMMEDIATE, INTERPELLATION,
                                           MODERATION_SUMMARY, OFF, NotFound, ValidationFailed)
from services.notifications.mailer import SmtpConnection, SmtpSettings, build_message
from services.notifications.persistence import aware, utcnow
from services.notifications.templates import renderer

log = logging.getLogger(__name__)
ERRORS = EXPECTED + (domain.DomainError,)
NAME = "notifications"


def _section() -> dict:
    return dict(config.get("NOTIFICATIONS") or {})


def _rules() -> domain.NotificationRules:
    section = _section()
    if not section.get("public_url") and os.environ.get("PUBLIC_URL"):
        section["public_url"] = os.environ["PUBLIC_URL"]
    return domain.NotificationRules.from_mapping(section)


def _smtp() -> SmtpSettings:
    return SmtpSettings.from_config(_section().get("smtp"))


def _secret() -> str:
    return settings.secret("NOTIFICATIONS_SECRET")


class ConfigTimer(Timer):
    """A nameko timer whose interval is read from ``NOTIFICATIONS.<key>`` at setup."""

    def __init__(self, key, default, **kwargs):
        super().__init__(interval=default, **kwargs)
        self.key, self.default = key, default

    def setup(self):
        self.interval = float(_section().get(self.key) or self.default)
        super().setup()


config_timer = ConfigTimer.decorator


def _event(event, contract):
    """(event_id, data) of a valid envelope, else None (logged and dropped: a malformed
    event cannot become valid by redelivery). Other errors raise: the reliable handler
    requeues the event a bounded number of times, then parks it in the dead-letter queue;
    every effect is idempotent, so a retry never notifies twice."""
    if not isinstance(event, dict) or not event.get("event_id"):
        log.error("notifications: event without envelope ignored: %r", event)
        return None
    try:
        return str(event["event_id"]), contract.load(event.get("data") or {})
    except ValidationError as exc:
        log.error("notifications: %s %s ignored: invalid data %s", event.get("event_type"), event["event_id"],
                  exc.messages)
        return None


def _notification_out(n: store.Notification) -> dict:
    return dump(schemas.NotificationOut, {
        "id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link, "data": n.data or {},
        "created_at": aware(n.created_at), "read_at": aware(n.read_at)})


def _lower(value):
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _upper(value):
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


class NotificationsService(HealthMixin):
    name = NAME
    db = Database(NAME, store.metadata)
    voting_rpc = ServiceRpc("voting")
    lobbying_rpc = ServiceRpc("lobbying")
    proposals_rpc = ServiceRpc("proposals")

    # -- inbox -----------------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def list_notifications(self, user_id, params=None):
        """The user's inbox, newest first: {items, total, unread_count, page, per_page}."""
        p = load(schema(schemas.InboxIn), params)
        limit, offset = _rules().page(p["page"], p["per_page"])
        with self.db() as uow:
            rows, total = store.inbox(uow.session, str(user_id), p["unread"], limit, offset)
            unread = store.unread_count(uow.session, str(user_id))
            items = [_notification_out(n) for n in rows]
        return {"items": items, "total": total, "unread_count": unread, "page": p["page"], "per_page": limit}

    @rpc(expected_exceptions=ERRORS)
    def mark_read(self, user_id, notification_id):
        """Marks one of the user's notifications read (idempotent); NotFound otherwise."""
        try:
            key = int(notification_id)
        except (TypeError, ValueError):
            raise NotFound(f"notification {notification_id} not found") from None
        with self.db() as uow:
            n = uow.session.get(store.Notification, key)
            if n is None or n.user_id != str(user_id):
                raise NotFound(f"notification {notification_id} not found")
            if n.read_at is None:
                n.read_at = utcnow()
                uow.session.flush()
            return _notification_out(n)

    @rpc(expected_exceptions=ERRORS)
    def mark_all_read(self, user_id):
        with self.db() as uow:
            return {"updated": store.mark_all_read(uow.session, str(user_id), utcnow())}

    # -- preferences -----------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def get_preferences(self, user_id):
        with self.db() as uow:
            explicit = store.preferences_of(uow.session, str(user_id))
        return self._preferences_out(explicit)

    @rpc(expected_exceptions=ERRORS)
    def set_preferences(self, user_id, preferences):
        """{kind: immediate | daily | weekly | off}; the kinds not named keep their value.
        Notifications still waiting for a digest follow their kind's new frequency (to
        the other digest, or inbox only)."""
        changes = domain.validate_preferences(preferences)
        with self.db() as uow:
            store.set_preferences(uow.session, str(user_id), changes)
            self._move_pending(uow.session, str(user_id), changes)
            explicit = store.preferences_of(uow.session, str(user_id))
        return self._preferences_out(explicit)

    @rpc(expected_exceptions=ERRORS)
    def unsubscribe(self, token):
        """One-click unsubscribe from the signed token of a mail (no login): the mail's kind
        (every kind of a digest) is turned off for that user, or, for an official's
        address, that address no longer receives that kind. Idempotent."""
        rules = _rules()
        info = domain.read_unsubscribe_token(_secret(), token, rules.unsubscribe_max_age_days * 86400)
        with self.db() as uow:
            if info["user_id"]:
                explicit = store.preferences_of(uow.session, info["user_id"])
                changes = {kind: OFF for kind in domain.kinds_turned_off_by(info["kind"], explicit, rules)}
                store.set_preferences(uow.session, info["user_id"], changes)
                self._move_pending(uow.session, info["user_id"], changes)
            else:
                store.add_suppression(uow.session, info["email"], info["kind"])
        return dump(schemas.UnsubscribeOut, {"kind": info["kind"], "email": info["email"]})

    @staticmethod
    def _preferences_out(explicit):
        return {"preferences": domain.all_preferences(explicit, _rules()), "kinds": list(domain.USER_KINDS),
                "frequencies": list(domain.FREQUENCIES)}

    @staticmethod
    def _move_pending(session, user_id, changes):
        for kind, frequency in changes.items():
            session.execute(sa.update(store.N).where(
                store.N.c.user_id == user_id, store.N.c.kind == kind, store.N.c.digest.is_not(None),
                store.N.c.digest_id.is_(None)).values(digest=frequency if frequency in DIGEST_FREQUENCIES else None))

    # -- operators -------------------------------------------------------------------------------
    @rpc(expected_exceptions=ERRORS)
    def send_digests(self, frequency):
        """Sends now the ``daily`` or ``weekly`` digest of the current period to everyone
        with notifications waiting for it (once per person and period; the timer does
        the same when each period starts)."""
        if frequency not in DIGEST_FREQUENCIES:
            raise ValidationFailed({"frequency": f"must be one of {', '.join(DIGEST_FREQUENCIES)}"})
        return {"mails": self._send_digests(frequency, utcnow(), force=True)}

    @rpc(expected_exceptions=ERRORS)
    def send_moderation_summaries(self):
        """Writes today's queue summary now for every moderator who has not had it
        (the timer does it at ``moderation_summary_hour``)."""
        return {"notifications": self._moderation_summaries(utcnow(), force=True)}

    @rpc(expected_exceptions=ERRORS)
    def delivery_report(self, params=None):
        """E-mail deliveries, newest first, optionally of one status, with counts per status."""
        p = load(schema(schemas.DeliveryReportIn), params)
        limit, offset = _rules().page(p["page"], p["per_page"])
        with self.db() as uow:
            rows, total, counts = store.delivery_report(uow.session, p["status"], limit, offset)
            items = [{"id": d.id, "to": d.to_address, "kind": d.kind, "status": d.status, "attempts": d.attempts,
                      "last_error": d.last_error, "subject": d.subject, "created_at": aware(d.created_at),
                      "sent_at": aware(d.sent_at),
                      "next_attempt_at": aware(d.next_attempt_at) if d.status == "pending" else None}
                     for d in rows]
        return dump(schemas.DeliveryReportOut, {
            "items": items, "total": total, "page": p["page"], "per_page": limit,
            "counts": {status: int(counts.get(status, 0)) for status in domain.DELIVERY_STATUSES}})

    # -- what accounts and proposals tell us -----------------------------------------------------
    @reliable_handler("accounts", "user_registered")
    def on_user_registered(self, event):
        parsed = _event(event, schemas.UserRegistered())
        if parsed is None:
            return
        event_id, data = parsed
        with self.db() as uow:
            if not uow.first_delivery(event_id, "notifications.on_user_registered"):
                return
            store.upsert_recipient(uow.session, data["user_id"], email=domain.normalise_email(data["email"]),
                                   display_name=data["display_name"], language=_lower(data["language"]),
                                   country=_upper(data["country"]))

    @reliable_handler("accounts", "roles_changed")
    def on_roles_changed(self, event):
        parsed = _event(event, schemas.RolesChanged())
        if parsed is None:
            return
        event_id, data = parsed
        moderator = "moderator" in data["roles"] and bool(data["moderated_questions"])
        with self.db() as uow:
            if not uow.first_delivery(event_id, "notifications.on_roles_changed"):
                return
            store.upsert_recipient(uow.session, data["user_id"], is_moderator=moderator,
                                   moderated_questions=list(data["moderated_questions"]) if moderator else [])

    @reliable_handler("proposals", "question_created")
    def on_question_created(self, event):
        parsed = _event(event, schemas.QuestionCreated())
        if parsed is None:
            return
        event_id, data = parsed
        with self.db() as uow:
            if uow.first_delivery(event_id, "notifications.on_question_created"):
                store.remember_question(uow.session, data["id"], data["title"], data["slug"])

    @reliable_handler("proposals", "proposal_accepted")
    def on_proposal_accepted(self, event):
        self._proposal_news(event, "proposal_accepted")

    @reliable_handler("proposals", "proposal_refused")
    def on_proposal_refused(self, event):
        self._proposal_news(event, "proposal_refused")

    @reliable_handler("proposals", "proposal_postponed")
    def on_proposal_postponed(self, event):
        self._proposal_news(event, "proposal_postponed")

    def _proposal_news(self, event, kind):
        parsed = _event(event, schemas.ProposalEvent())
        if parsed is None:
            return
        event_id, data = parsed
        rules = _rules()
        context = {"proposal_id": data["proposal_id"], "question_id": data["question_id"], "content": data["content"]}
        if kind == "proposal_refused":
            context["refusal_reason"] = data["refusal_reason"]
        if kind == "proposal_accepted" and data["original_content"] and data["original_content"] != data["content"]:
            context["original_content"] = data["original_content"]
        link = (rules.link("question", question_id=data["question_id"]) if kind == "proposal_refused"
                else rules.link("proposal", proposal_id=data["proposal_id"]))
        with self.db() as uow:
            if not uow.first_delivery(event_id, f"notifications.on_{kind}"):
                return
            store.remember_proposal(uow.session, data["proposal_id"], author_id=data["author_id"],
                                    question_id=data["question_id"], content=data["content"],
                                    language=_lower(data["language"]), country=_upper(data["country"]))
            author = domain.author_recipient(kind, data, None)
            if author:
                self._notify(uow.session, event_id, kind, [author], context, link, rules, _lower(data["language"]))

    # -- the author's news from voting, lobbying and commitments ---------------------------------
    @reliable_handler("voting", "proposal_emerged")
    def on_proposal_emerged(self, event):
        parsed = _event(event, schemas.ProposalEmerged())
        if parsed is None:
            return
        event_id, data = parsed
        proposal = self._proposal(data["proposal_id"])
        context = {"proposal_id": data["proposal_id"], "question_id": data["question_id"],
                   "content": proposal.get("content"), "trusted_votes": data["trusted_votes"],
                   "agree_rate": data["agree_rate"]}
        self._author_news(event_id, "proposal_emerged", data, proposal, context,
                          _rules().link("proposal", proposal_id=data["proposal_id"]),
                          remember={"author_id": data["author_id"], "question_id": data["question_id"],
                                    "language": _lower(data["language"]), "country": _upper(data["country"])})

    @reliable_handler("lobbying", "campaign_started")
    def on_campaign_started(self, event):
        parsed = _event(event, schemas.CampaignStarted())
        if parsed is None:
            return
        event_id, data = parsed
        with self.db() as uow:
            store.remember_campaign(uow.session, data["campaign_id"], data["proposal_id"], data["title"])
        proposal = self._proposal(data["proposal_id"])
        context = {"proposal_id": data["proposal_id"], "campaign_id": data["campaign_id"],
                   "campaign_title": data["title"], "goal": data["goal"], "content": proposal.get("content")}
        self._author_news(event_id, "campaign_started", data, proposal, context,
                          _rules().link("campaign", campaign_id=data["campaign_id"]))

    @reliable_handler("commitments", "commitment_made")
    def on_commitment_made(self, event):
        parsed = _event(event, schemas.CommitmentMade())
        if parsed is None:
            return
        event_id, data = parsed
        proposal_id = data["proposal_id"] or self._campaign(data["campaign_id"]).get("proposal_id")
        if not proposal_id:
            return  # made outside any proposal: no author to tell
        data = dict(data, proposal_id=proposal_id)
        proposal = self._proposal(proposal_id)
        context = {"proposal_id": proposal_id, "campaign_id": data["campaign_id"],
                   "commitment_id": data["commitment_id"], "actor_id": data["actor_id"],
                   "actor_name": data["actor_name"], "statement": data["statement"], "content": proposal.get("content"),
                   "campaign_title": self._campaign(data["campaign_id"]).get("title")}
        rules = _rules()
        # the commitment is shown (with its timeline) on the official's page
        link = ((data["actor_id"] and rules.link("actor", actor_id=data["actor_id"]))
                or rules.link("proposal", proposal_id=proposal_id))
        self._author_news(event_id, "commitment_made", data, proposal, context, link)

    def _author_news(self, event_id, kind, data, proposal, context, link, remember=None):
        rules = _rules()
        with self.db() as uow:
            if not uow.first_delivery(event_id, f"notifications.on_{kind}"):
                return
            if remember:
                store.remember_proposal(uow.session, data["proposal_id"], **remember)
            author = domain.author_recipient(kind, data, proposal.get("author_id"))
            if author:
                self._notify(uow.session, event_id, kind, [author], context, link, rules, proposal.get("language"))
            else:
                log.info("notifications: no author known for %s of proposal %s", kind, data.get("proposal_id"))

    def _proposal(self, proposal_id) -> dict:
        """What we know of a proposal; asks the proposals service once when we do not know
        its author (e.g. a proposal older than this service)."""
        if not proposal_id:
            return {}
        with self.db() as uow:
            p = uow.session.get(store.Proposal, proposal_id)
            known = ({"author_id": p.author_id, "content": p.content, "language": p.language,
                      "question_id": p.question_id} if p else {})
        if known.get("author_id") and known.get("content"):
            return known
        try:
            found = self.proposals_rpc.get_proposals([proposal_id]) or []
        except Exception as exc:  # the proposals service is down: do with what we have
            log.warning("notifications: proposal %s unknown and proposals.get_proposals failed: %s", proposal_id, exc)
            return known
        if not found:
            return known
        p = found[0]
        with self.db() as uow:
            store.remember_proposal(uow.session, proposal_id, author_id=p.get("author_id"),
                                    question_id=p.get("question_id"), content=p.get("content"),
                                    language=_lower(p.get("language")), country=_upper(p.get("country")))
        return {"author_id": p.get("author_id"), "content": p.get("content"), "language": _lower(p.get("language")),
                "question_id": p.get("question_id")}

    def _campaign(self, campaign_id) -> dict:
        if not campaign_id:
            return {}
        with self.db() as uow:
            c = uow.session.get(store.Campaign, campaign_id)
            return {"proposal_id": c.proposal_id, "title": c.title} if c else {}

    # -- news for voters who agreed and supporters: batched fan-out ------------------------------
    @reliable_handler("lobbying", "campaign_milestone_reached")
    def on_campaign_milestone_reached(self, event):
        parsed = _event(event, schemas.CampaignMilestoneReached())
        if parsed is None:
            return
        _, data = parsed
        with self.db() as uow:
            store.remember_campaign(uow.session, data["campaign_id"], data["proposal_id"], data["title"])
        context = {"campaign_id": data["campaign_id"], "proposal_id": data["proposal_id"],
                   "campaign_title": data["title"], "milestone": data["milestone"], "milestone_kind": data["kind"],
                   "supporters": data["supporters"], "goal": data["goal"]}
        self._start_fanout(parsed, "campaign_milestone_reached", context,
                           _rules().link("campaign", campaign_id=data["campaign_id"]))

    @reliable_handler("lobbying", "official_responded")
    def on_official_responded(self, event):
        parsed = _event(event, schemas.OfficialResponded())
        if parsed is None:
            return
        _, data = parsed
        campaign = self._campaign(data["campaign_id"])
        context = {"campaign_id": data["campaign_id"],
                   "proposal_id": data["proposal_id"] or campaign.get("proposal_id"),
                   "campaign_title": campaign.get("title"), "actor_id": data["actor_id"],
                   "actor_name": data["actor_name"], "stance": data["stance"], "statement": data["statement"]}
        self._start_fanout(parsed, "official_responded", context,
                           _rules().link("campaign", campaign_id=data["campaign_id"]),
                           domain.excluded_recipients("official_responded", data))

    @reliable_handler("commitments", "commitment_status_changed")
    def on_commitment_status_changed(self, event):
        parsed = _event(event, schemas.CommitmentStatusChanged())
        if parsed is None:
            return
        _, data = parsed
        if not data["proposal_id"] and not data["campaign_id"]:
            return  # a commitment made outside the platform: nobody here follows it
        campaign = self._campaign(data["campaign_id"])
        proposal_id = data["proposal_id"] or campaign.get("proposal_id")
        proposal = {}
        if proposal_id:
            with self.db() as uow:
                p = uow.session.get(store.Proposal, proposal_id)
                proposal = {"content": p.content} if p else {}
        context = {"commitment_id": data["commitment_id"], "campaign_id": data["campaign_id"],
                   "proposal_id": data["proposal_id"], "campaign_title": campaign.get("title"),
                   "content": proposal.get("content"), "actor_id": data["actor_id"],
                   "actor_name": data["actor_name"], "status": data["status"],
                   "previous_status": data["previous_status"], "evidence_url": data["evidence_url"],
                   "note": data["note"]}
        rules = _rules()
        # the commitment and its timeline are on the official's page
        link = ((data["actor_id"] and rules.link("actor", actor_id=data["actor_id"]))
                or (rules.link("campaign", campaign_id=data["campaign_id"]) if data["campaign_id"]
                    else rules.link("proposal", proposal_id=data["proposal_id"])))
        self._start_fanout(parsed, "commitment_status_changed", context, link,
                           domain.excluded_recipients("commitment_status_changed", data))

    def _start_fanout(self, parsed, kind, context, link, excluded=frozenset()):
        """Records the fan-out (exactly once per event) and runs it; if it stops midway (a
        crash, an RPC failure), ``resume_fanouts`` continues from the last page written.
        ``excluded``: who caused the event (not told, and not named in the inbox data)."""
        event_id, _ = parsed
        rules = _rules()
        sources = domain.follower_sources(kind, context)
        if not sources:
            return
        with self.db() as uow:
            if not uow.first_delivery(event_id, f"notifications.on_{kind}"):
                return
            store.create_fanout(uow.session, event_id, kind, {"data": context, "link": link}, sources, excluded,
                                rules.fanout_lease_seconds)
        self._run_fanout(event_id)

    @config_timer("fanout_resume_interval_seconds", 10.0)
    def resume_fanouts(self):
        rules = _rules()
        with self.db() as uow:
            event_ids = store.claim_stalled_fanouts(uow.session, utcnow(), rules.fanout_lease_seconds)
        for event_id in event_ids:
            log.info("notifications: resuming fan-out of event %s", event_id)
            self._run_fanout(event_id)

    def _run_fanout(self, event_id) -> None:
        rules = _rules()
        size = rules.fanout_page_size
        texts = {}  # rendered once per language for the whole fan-out
        while True:
            with self.db() as uow:
                job = store.locked_fanout(uow.session, event_id)
                if job is None or job.done_at is not None:
                    return
                if job.source_index >= len(job.sources):
                    job.done_at = utcnow()
                    return
                index, cursor = job.source_index, job.cursor
                source, ref = job.sources[index]
                kind, context, excluded = job.kind, dict(job.context), set(job.excluded or [])
                job.lease_until = utcnow() + timedelta(seconds=rules.fanout_lease_seconds)
            try:
                ids = self._recipient_page(source, ref, cursor, size)
            except Exception as exc:  # the source service is down or failing: the timer resumes later
                log.warning("notifications: fan-out of %s stopped at %s/%s after %r: %s", event_id, source, ref,
                            cursor, exc)
                with self.db() as uow:
                    job = store.locked_fanout(uow.session, event_id)
                    if job is not None:
                        job.last_error = f"{source}: {exc}"[:2000]
                return
            with self.db() as uow:
                job = store.locked_fanout(uow.session, event_id)
                if job is None or job.done_at is not None:
                    return
                if job.source_index != index or job.cursor != cursor:
                    continue  # another worker moved it meanwhile: read it again
                page = domain.page_recipients(ids, excluded)
                written, _ = self._notify(uow.session, event_id, kind, page, context.get("data") or {},
                                          context.get("link"), rules, texts=texts)
                job.pages += 1
                job.written += written
                if len(ids) < size:
                    job.source_index, job.cursor = index + 1, None
                else:
                    job.cursor = str(ids[-1])
                job.last_error = None
                job.lease_until = utcnow() + timedelta(seconds=rules.fanout_lease_seconds)
                if job.source_index >= len(job.sources):
                    job.done_at = utcnow()

    def _recipient_page(self, source, ref, after, limit) -> list:
        if source == "voters":
            return list(self.voting_rpc.voters(ref, key="agree", after=after, limit=limit) or [])
        if source == "supporters":
            return list(self.lobbying_rpc.supporter_ids(ref, after=after, limit=limit) or [])
        raise ValueError(f"unknown recipient source {source}")

    def _notify(self, session, event_id, kind, user_ids, context, link, rules, language_hint=None, texts=None):
        """Writes one page of recipients in the caller's transaction: inbox rows in bulk
        (skipping those already there for this event), and e-mail deliveries for the new
        ones whose preference is immediate. Recipients, preferences and bounces come in
        one query per page; texts are rendered once per language (``texts``: a cache the
        caller may keep across the pages of one fan-out). Returns (notifications written,
        deliveries queued)."""
        if not user_ids:
            return 0, 0
        recipients = store.recipients_page(session, user_ids, kind)
        texts = {} if texts is None else texts
        page = []
        default_frequency = domain.resolve_frequency(kind, None, rules)
        for user_id in user_ids:
            r = recipients.get(user_id)
            language = (r and r["language"]) or language_hint or rules.default_language
            if language not in texts:
                text = renderer().render(kind, language, {
                    "data": context, "link": link, "recipient": {}, "public_url": rules.base_url})
                texts[language] = (text.language, text.subject[:300], text.summary)
            explicit = r and r["frequency"]
            frequency = domain.resolve_frequency(kind, {kind: explicit}, rules) if explicit else default_frequency
            channel = domain.email_channel(frequency, r["email"], r["bounced"]) if r else None
            page.append((user_id, language, channel if channel in DIGEST_FREQUENCIES else None,
                         r["email"] if channel == IMMEDIATE else None))
        return store.write_page(session, event_id, kind, link, context, utcnow(),
                                {key: texts[key] for key in {p[1] for p in page}}, page)

    # -- officials -------------------------------------------------------------------------------
    @reliable_handler("lobbying", "target_interpellated")
    def on_target_interpellated(self, event):
        """E-mails to each contact address of the targeted actor, in its locale, inside
        the send window of its country and under the hourly cap per actor."""
        parsed = _event(event, schemas.TargetInterpellated())
        if parsed is None:
            return
        event_id, data = parsed
        rules = _rules()
        policy = domain.SendPolicy.from_mapping(data["send_policy"])
        tz = rules.timezone_for(data["country"])
        now = utcnow()
        link = rules.link("campaign", campaign_id=data["campaign_id"])
        context = {k: data[k] for k in ("campaign_id", "proposal_id", "country", "actor_id", "actor_name",
                                        "campaign_title", "pitch", "proposal_content", "milestone", "supporters",
                                        "goal")}
        with self.db() as uow:
            if not uow.first_delivery(event_id, "notifications.on_target_interpellated"):
                return
            store.remember_campaign(uow.session, data["campaign_id"], data["proposal_id"], data["campaign_title"])
            addresses = domain.official_addresses(data["contact_emails"])
            unreachable = store.unreachable_addresses(uow.session, addresses, INTERPELLATION)
            addresses = [a for a in addresses if a not in unreachable]
            if not addresses:
                return
            store.lock_key(uow.session, f"notifications.target:{data['actor_id']}")
            booked = store.booked_times(uow.session, data["actor_id"], now.replace(minute=0, second=0, microsecond=0))
            rows = []
            for address in addresses:
                at = domain.schedule_in_window(now, tz, policy, booked)
                booked.append(at)
                rows.append({"dedupe_key": f"i:{event_id}:{address}", "to_address": address, "user_id": None,
                             "kind": INTERPELLATION, "language": _lower(data["locale"]) or rules.default_language,
                             "notification_id": None, "digest_id": None,
                             "context": {"data": context, "link": link, "display_name": data["actor_name"],
                                         "timezone": tz.key, "window": policy.as_dict()},
                             "target_key": data["actor_id"], "status": "pending", "attempts": 0,
                             "last_error": None, "subject": None, "next_attempt_at": at, "created_at": now,
                             "sent_at": None})
            store.insert_deliveries(uow.session, rows)

    # -- digests and moderators' summaries -------------------------------------------------------
    @config_timer("scheduler_interval_seconds", 60.0)
    def run_schedules(self):
        """Sends each digest when its period starts (per recipient's time zone) and the
        moderators' daily summary; idempotent per person and period."""
        now = utcnow()
        for frequency in DIGEST_FREQUENCIES:
            self._send_digests(frequency, now, force=False)
        self._moderation_summaries(now, force=False)

    def _timezone_groups(self, rules):
        """[(tz, countries or None, other_countries or None)]: one group per configured
        time zone, and one for every other (or unknown) country."""
        groups: dict[str, list] = {}
        for country, tz_name in rules.country_timezones.items():
            groups.setdefault(tz_name, []).append(country)
        plan = []
        for tz_name, countries in groups.items():
            plan.append((rules.timezone_for(countries[0]), countries, None))
        plan.append((rules.timezone_for(None), None, list(rules.country_timezones)))
        return plan

    def _send_digests(self, frequency, now, force) -> int:
        rules = _rules()
        mails = 0
        for tz, countries, others in self._timezone_groups(rules):
            period_key, start = domain.digest_period(frequency, now, tz, rules)
            cutoff = now if force else start
            after = None
            while True:
                with self.db() as uow:
                    users = store.users_with_pending_digest(uow.session, frequency, cutoff, countries, others,
                                                            period_key, after, 500)
                if not users:
                    break
                for user_id in users:
                    mails += self._digest_for(user_id, frequency, period_key, cutoff, rules)
                after = users[-1]
        return mails

    def _digest_for(self, user_id, frequency, period_key, cutoff, rules) -> int:
        """One digest (one transaction): its notifications are attached to it and one
        delivery is queued, or none when the person has no usable address."""
        now = utcnow()
        with self.db() as uow:
            ids = store.pending_for_digest(uow.session, user_id, frequency, cutoff)
            if not ids:
                return 0
            digest_id = store.create_digest(uow.session, user_id, frequency, period_key)
            if digest_id is None:
                return 0
            store.attach_to_digest(uow.session, digest_id, ids)
            recipient = uow.session.get(store.Recipient, user_id)
            if recipient is None or not recipient.email or store.is_bounced(uow.session, recipient.email):
                return 0
            store.insert_deliveries(uow.session, [{
                "dedupe_key": f"d:{digest_id}", "to_address": recipient.email, "user_id": user_id,
                "kind": DIGEST_KINDS[frequency], "language": recipient.language, "notification_id": None,
                "digest_id": digest_id, "context": None, "target_key": None, "status": "pending", "attempts": 0,
                "last_error": None, "subject": None, "next_attempt_at": now, "created_at": now, "sent_at": None}])
            return 1

    def _moderation_summaries(self, now, force) -> int:
        rules = _rules()
        with self.db() as uow:
            mods = [(m.user_id, m.country, list(m.moderated_questions or [])) for m in store.moderators(uow.session)]
        due = []
        for user_id, country, questions in mods:
            key = domain.summary_period(now, rules.timezone_for(country), rules, force)
            if key and questions:
                due.append((user_id, key, questions))
        if not due:
            return 0
        with self.db() as uow:
            done = store.summaries_done(uow.session, [d[0] for d in due], [d[1] for d in due])
            due = [d for d in due if (d[0], d[1]) not in done]
            all_questions = sorted({q for _, _, qs in due for q in qs})
            titles = store.question_titles(uow.session, all_questions)
        if not due:
            return 0
        sizes = {}
        try:
            for start in range(0, len(all_questions), 500):
                sizes.update(self.proposals_rpc.queue_sizes(all_questions[start:start + 500]) or {})
        except Exception as exc:  # retried at the next tick
            log.warning("notifications: moderators' summary postponed: proposals.queue_sizes failed: %s", exc)
            return 0
        written = 0
        for user_id, key, questions in due:
            total, rows = domain.moderator_queue(questions, sizes)
            with self.db() as uow:
                if not store.claim_summary(uow.session, user_id, key) or total == 0:
                    continue
                context = {"total": total, "period": key,
                           "questions": [dict(r, title=titles.get(r["question_id"])) for r in rows]}
                count, _ = self._notify(uow.session, f"moderation_summary:{key}", MODERATION_SUMMARY, [user_id],
                                        context, rules.link("moderation"), rules)
                written += count
        return written

    # -- the sender ------------------------------------------------------------------------------
    @config_timer("sender_interval_seconds", 1.0)
    def send_due_mail(self):
        self._send_due()

    def _send_due(self) -> Counter:
        """Claims due deliveries in batches and sends them over one SMTP session. A
        failing mail is rescheduled and the next one goes on; when no session can be
        opened at all (the server is down), the round stops there and the other claimed
        mails are given back for the next tick."""
        rules, smtp = _rules(), _smtp()
        stats = Counter()
        started = time.monotonic()
        with SmtpConnection(smtp) as connection:
            for _ in range(100):
                with self.db() as uow:
                    ids = store.claim_due_deliveries(uow.session, utcnow(), rules.send_batch_size,
                                                     rules.send_lease_seconds)
                if not ids:
                    break
                for position, delivery_id in enumerate(ids):
                    if time.monotonic() - started > rules.send_lease_seconds / 2:
                        with self.db() as uow:  # give the rest back before their lease matters
                            store.release_deliveries(uow.session, ids[position:], utcnow())
                        return stats
                    stats[self._deliver(connection, delivery_id, rules, smtp)] += 1
                    if connection.unreachable:
                        # no session could be opened (server down): that mail was rescheduled;
                        # give the others back instead of composing and failing each of them,
                        # and try again at the next tick
                        with self.db() as uow:
                            store.release_deliveries(uow.session, ids[position + 1:], utcnow())
                        stats["unreachable"] += 1
                        return stats
        return stats

    def _deliver(self, connection, delivery_id, rules, smtp) -> str:
        with self.db() as uow:
            d = uow.session.get(store.Delivery, delivery_id)
            if d is None or d.status != "pending":
                return "gone"
            to, kind = d.to_address, d.kind
            try:
                message, skip = self._compose(uow.session, d, rules, smtp)
            except Exception as exc:  # a rendering bug must not stop the other mails
                log.exception("notifications: composing delivery %s failed", delivery_id)
                message, skip = None, None
                failure = ("retry", f"composing failed: {exc.__class__.__name__}: {exc}")
            else:
                failure = None
        if skip:
            self._record(delivery_id, "skipped", skip, rules)
            return "skipped"
        if failure:
            self._record(delivery_id, *failure, rules)
            return failure[0]
        try:
            connection.send(message, to)
        except Exception as exc:
            outcome, error = domain.classify_smtp_error(exc, to)
            log.warning("notifications: delivery %s (%s) to %s: %s", delivery_id, kind, to, error)
            self._record(delivery_id, outcome, error, rules)
            return outcome
        self._record(delivery_id, "sent", None, rules, subject=str(message["Subject"]))
        return "sent"

    def _compose(self, session, d, rules, smtp):
        """(message, None) ready to send, or (None, reason) when it must not go out."""
        if store.is_bounced(session, d.to_address):
            return None, "address bounced earlier"
        base = {"public_url": rules.base_url, "preferences_url": rules.link("preferences")}
        if d.notification_id is not None:
            n = session.get(store.Notification, d.notification_id)
            if n is None:
                return None, "notification gone"
            if domain.resolve_frequency(n.kind, store.preferences_of(session, n.user_id), rules) == OFF:
                return None, "turned off by the recipient"
            recipient = session.get(store.Recipient, n.user_id)
            template, unsubscribe_kind = n.kind, n.kind
            language = (recipient.language if recipient else None) or n.language
            name = recipient.display_name if recipient else None
            context = dict(base, data=n.data or {}, link=n.link, recipient={"display_name": name})
        elif d.digest_id is not None:
            recipient = session.get(store.Recipient, d.user_id)
            items = [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
                      "created_at": aware(n.created_at)} for n in store.digest_items(session, d.digest_id)]
            if not items:
                return None, "empty digest"
            frequency = DAILY if d.kind == DIGEST_KINDS[DAILY] else "weekly"
            template, unsubscribe_kind = "digest", d.kind
            language = recipient.language if recipient else d.language
            name = recipient.display_name if recipient else None
            context = dict(base, sections=domain.group_digest(items), total=len(items), frequency=frequency,
                           link=rules.link("inbox"), recipient={"display_name": name})
        else:
            if store.is_suppressed(session, d.to_address, d.kind):
                return None, "unsubscribed"
            stored = d.context or {}
            template, unsubscribe_kind, language = d.kind, d.kind, d.language
            name = stored.get("display_name")
            context = dict(base, data=stored.get("data") or {}, link=stored.get("link"),
                           recipient={"display_name": name})
        token = domain.make_unsubscribe_token(_secret(), unsubscribe_kind, d.to_address, d.user_id)
        context["unsubscribe_url"] = rules.link("unsubscribe", token=token)
        text = renderer().render(template, language, context)
        message = build_message(sender=smtp.sender, to=d.to_address, display_name=name, subject=text.subject,
                                text=text.text, html=text.html, language=text.language,
                                unsubscribe_url=context["unsubscribe_url"], kind=d.kind,
                                reference=f"delivery-{d.id}", domain=smtp.domain)
        return message, None

    def _record(self, delivery_id, outcome, error, rules, subject=None):
        """Writes a send's outcome; the update only applies to a still pending delivery."""
        now = utcnow()
        with self.db() as uow:
            d = uow.session.get(store.Delivery, delivery_id)
            if d is None or d.status != "pending":
                return
            if subject:
                d.subject = subject[:300]
            if outcome == "skipped":
                d.status, d.last_error, d.next_attempt_at = "skipped", error, now
                return
            d.attempts += 1
            if outcome == "sent":
                d.status, d.sent_at, d.next_attempt_at, d.last_error = "sent", now, now, None
                return
            d.last_error = (error or "")[:2000]
            retry_at = domain.next_attempt(d.attempts, now, rules) if outcome == domain.RETRY else None
            if retry_at is not None:
                window = (d.context or {}).get("window")
                if window:
                    retry_at = domain.into_window(retry_at, ZoneInfo((d.context or {}).get("timezone") or "UTC"),
                                                  domain.SendPolicy.from_mapping(window))
                d.next_attempt_at = retry_at
                return
            d.status, d.next_attempt_at = "failed", now
            if outcome == domain.BOUNCE:
                store.add_bounce(uow.session, d.to_address, d.last_error)
            uow.session.flush()
            uow.emit("email_failed", dump(schemas.EmailFailed, {
                "delivery_id": d.id, "to": d.to_address, "kind": d.kind, "attempts": d.attempts,
                "last_error": d.last_error}))
