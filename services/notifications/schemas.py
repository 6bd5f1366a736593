"""The notifications RPC and event contract (marshmallow). Listed in this service's README.

Consumed events are read leniently (unknown keys ignored): other services may add fields.
"""
from marshmallow import EXCLUDE, Schema, fields, validate

from services.notifications.domain import DELIVERY_STATUSES, FREQUENCIES, USER_KINDS


class InboxIn(Schema):
    unread = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class InboxOut(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    total = fields.Integer()
    unread_count = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class PreferencesOut(Schema):
    preferences = fields.Dict(keys=fields.String(), values=fields.String(),
                              metadata={"description": "kind -> immediate | daily | weekly | off"})
    kinds = fields.List(fields.String(), metadata={"enum": list(USER_KINDS)})
    frequencies = fields.List(fields.String(), metadata={"enum": list(FREQUENCIES)})


class UnsubscribeOut(Schema):
    kind = fields.String()
    email = fields.String()


class DeliveryReportIn(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class DeliveryOut(Schema):
    id = fields.Integer()
    to = fields.String()
    kind = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    subject = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryReportOut(Schema):
    items = fields.List(fields.Nested(DeliveryOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "deliveries per status"})


# -- events consumed ---------------------------------------------------------------------------
class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class UserRegistered(_Lenient):
    user_id = fields.String(required=True)
    email = fields.String(required=True)
    display_name = fields.String(load_default=None, allow_none=True)
    country = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default=None, allow_none=True)


class RolesChanged(_Lenient):
    user_id = fields.String(required=True)
    roles = fields.List(fields.String(), load_default=list)
    moderated_questions = fields.List(fields.String(), load_default=list)


class QuestionCreated(_Lenient):
    id = fields.String(required=True)
    title = fields.String(load_default=None, allow_none=True)
    slug = fields.String(load_default=None, allow_none=True)


class ProposalEvent(_Lenient):
    proposal_id = fields.String(required=True)
    question_id = fields.String(load_default=None, allow_none=True)
    author_id = fields.String(load_default=None, allow_none=True)
    content = fields.String(load_default=None, allow_none=True)
    original_content = fields.String(load_default=None, allow_none=True)
    refusal_reason = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default=None, allow_none=True)
    country = fields.String(load_default=None, allow_none=True)


class ProposalEmerged(_Lenient):
    proposal_id = fields.String(required=True)
    question_id = fields.String(load_default=None, allow_none=True)
    author_id = fields.String(load_default=None, allow_none=True)
    country = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default=None, allow_none=True)
    trusted_votes = fields.Integer(load_default=None, allow_none=True)
    agree_rate = fields.Float(load_default=None, allow_none=True)


class CampaignStarted(_Lenient):
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(required=True)
    creator_id = fields.String(load_default=None, allow_none=True)
    title = fields.String(load_default=None, allow_none=True)
    goal = fields.Integer(load_default=None, allow_none=True)


class CampaignMilestoneReached(_Lenient):
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(load_default=None, allow_none=True)
    title = fields.String(load_default=None, allow_none=True)
    milestone = fields.Integer(required=True)
    kind = fields.String(load_default=None, allow_none=True)
    supporters = fields.Integer(load_default=None, allow_none=True)
    goal = fields.Integer(load_default=None, allow_none=True)


class OfficialResponded(_Lenient):
    response_id = fields.String(load_default=None, allow_none=True)
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(load_default=None, allow_none=True)
    actor_id = fields.String(load_default=None, allow_none=True)
    actor_name = fields.String(load_default=None, allow_none=True)
    stance = fields.String(load_default=None, allow_none=True)
    statement = fields.String(load_default=None, allow_none=True)
    responded_by = fields.String(load_default=None, allow_none=True)


class SendPolicy(_Lenient):
    window_start_hour = fields.Integer(load_default=None, allow_none=True)
    window_end_hour = fields.Integer(load_default=None, allow_none=True)
    max_per_hour = fields.Integer(load_default=None, allow_none=True)


class TargetInterpellated(_Lenient):
    campaign_id = fields.String(required=True)
    proposal_id = fields.String(load_default=None, allow_none=True)
    country = fields.String(load_default=None, allow_none=True)
    actor_id = fields.String(required=True)
    actor_name = fields.String(load_default=None, allow_none=True)
    contact_emails = fields.List(fields.String(), load_default=list)
    locale = fields.String(load_default=None, allow_none=True)
    campaign_title = fields.String(load_default=None, allow_none=True)
    pitch = fields.String(load_default=None, allow_none=True)
    proposal_content = fields.String(load_default=None, allow_none=True)
    milestone = fields.Integer(load_default=None, allow_none=True)
    supporters = fields.Integer(load_default=None, allow_none=True)
    goal = fields.Integer(load_default=None, allow_none=True)
    send_policy = fields.Nested(SendPolicy, load_default=None, allow_none=True)


class CommitmentMade(_Lenient):
    commitment_id = fields.String(required=True)
    actor_id = fields.String(load_default=None, allow_none=True)
    actor_name = fields.String(load_default=None, allow_none=True)
    proposal_id = fields.String(load_default=None, allow_none=True)
    campaign_id = fields.String(load_default=None, allow_none=True)
    statement = fields.String(load_default=None, allow_none=True)


class CommitmentStatusChanged(_Lenient):
    commitment_id = fields.String(required=True)
    actor_id = fields.String(load_default=None, allow_none=True)
    actor_name = fields.String(load_default=None, allow_none=True)
    proposal_id = fields.String(load_default=None, allow_none=True)
    campaign_id = fields.String(load_default=None, allow_none=True)
    status = fields.String(required=True)
    previous_status = fields.String(load_default=None, allow_none=True)
    evidence_url = fields.String(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True)
    changed_by = fields.String(load_default=None, allow_none=True)


# -- events published ----------------------------------------------------------------------------
class EmailFailed(Schema):
    delivery_id = fields.Integer(required=True)
    to = fields.String(required=True)
    kind = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
