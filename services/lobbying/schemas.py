"""The lobbying RPC and event contract (marshmallow). Listed in this service's README."""
from marshmallow import Schema, fields, validate

from services.lobbying.domain import STANCES


class CampaignIn(Schema):
    proposal_id = fields.String(required=True)
    title = fields.String(required=True)
    pitch = fields.String(required=True)
    target_actor_ids = fields.List(fields.String(), required=True)
    goal = fields.Integer(required=True, strict=True)


class CampaignFilterIn(Schema):
    proposal = fields.String(load_default=None)
    actor = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "closed"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ResponseIn(Schema):
    stance = fields.String(required=True, validate=validate.OneOf(STANCES))
    statement = fields.String(required=True)


class TargetOut(Schema):
    actor_id = fields.String()
    actor_name = fields.String()
    country = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "not_contacted, interpellated or responded"})
    stance = fields.String(allow_none=True, metadata={"description": "commit, decline or other"})
    statement = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    interpellations = fields.Integer()


class MilestoneOut(Schema):
    milestone = fields.Integer()
    kind = fields.String()
    reached_at = fields.DateTime()


class CampaignOut(Schema):
    id = fields.String()
    proposal_id = fields.String()
    creator_id = fields.String()
    title = fields.String()
    pitch = fields.String()
    goal = fields.Integer()
    country = fields.String()
    status = fields.String()
    supporters = fields.Integer()
    created_at = fields.DateTime()
    milestones = fields.List(fields.Nested(MilestoneOut))
    next_milestone = fields.Integer(allow_none=True)
    targets = fields.List(fields.Nested(TargetOut))
    supported = fields.Boolean(allow_none=True, metadata={"description": "whether the caller supports it"})


class SupportOut(Schema):
    campaign_id = fields.String()
    supporting = fields.Boolean()
    changed = fields.Boolean()
    supporters = fields.Integer()


class ResponseOut(Schema):
    id = fields.String()
    campaign_id = fields.String()
    actor_id = fields.String()
    stance = fields.String()
    statement = fields.String()
    created_at = fields.DateTime()


# -- events --------------------------------------------------------------------------------
class CampaignStarted(Schema):
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    creator_id = fields.String(required=True)
    title = fields.String(required=True)
    country = fields.String(required=True)
    goal = fields.Integer(required=True)
    target_actor_ids = fields.List(fields.String())


class CampaignMilestoneReached(Schema):
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    country = fields.String(required=True)
    title = fields.String()
    milestone = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "count, goal_share or goal"})
    supporters = fields.Integer(required=True)
    goal = fields.Integer(required=True)
    target_actor_ids = fields.List(fields.String())


class SendPolicy(Schema):
    window_start_hour = fields.Integer()
    window_end_hour = fields.Integer()
    max_per_hour = fields.Integer()


class TargetInterpellated(Schema):
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    country = fields.String(required=True)
    actor_id = fields.String(required=True)
    actor_name = fields.String(required=True)
    contact_emails = fields.List(fields.String(), required=True)
    locale = fields.String(required=True)
    campaign_title = fields.String(required=True)
    pitch = fields.String(required=True)
    proposal_content = fields.String(allow_none=True)
    milestone = fields.Integer(required=True)
    supporters = fields.Integer(required=True)
    goal = fields.Integer(required=True)
    send_policy = fields.Nested(SendPolicy, required=True)


class OfficialResponded(Schema):
    response_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    country = fields.String(required=True)
    actor_id = fields.String(required=True)
    actor_name = fields.String(required=True)
    stance = fields.String(required=True)
    statement = fields.String(required=True)
    responded_at = fields.DateTime(required=True)
    responded_by = fields.String(required=True)


class OfficialCommitted(Schema):
    """The contract the commitments service consumes."""

    response_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    actor_id = fields.String(required=True)
    statement = fields.String(required=True)
    responded_at = fields.DateTime(required=True)
    responded_by = fields.String(required=True)


EVENTS = {"campaign_started": CampaignStarted, "campaign_milestone_reached": CampaignMilestoneReached,
          "target_interpellated": TargetInterpellated, "official_responded": OfficialResponded,
          "official_committed": OfficialCommitted}
