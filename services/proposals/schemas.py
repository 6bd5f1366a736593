"""The proposals RPC and event contract (marshmallow). Listed in this service's README."""
from marshmallow import Schema, fields, validate

from services.proposals.domain import REFUSAL_REASONS, SCOPES, Status


class CallerIn(Schema):
    user_id = fields.String(allow_none=True)
    roles = fields.List(fields.String(), load_default=list)
    moderated_questions = fields.List(fields.String(), load_default=list)
    actor_id = fields.String(allow_none=True, load_default=None)


class QuestionIn(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True, validate=validate.Length(min=3, max=300))
    country = fields.String(required=True)
    language = fields.String(required=True)
    scope = fields.String(required=True, validate=validate.OneOf(SCOPES))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    votes_target = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class QuestionOut(Schema):
    id = fields.String()
    slug = fields.String()
    title = fields.String()
    country = fields.String()
    language = fields.String()
    scope = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    votes_target = fields.Integer(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    # for clients, in RPC answers only (not in the question_created event)
    proposal_prefix = fields.String()
    proposal_min_length = fields.Integer()
    proposal_max_length = fields.Integer()


class QuestionFilterIn(Schema):
    country = fields.String(load_default=None)
    language = fields.String(load_default=None)
    scope = fields.String(load_default=None, validate=validate.OneOf(SCOPES))
    status = fields.String(load_default=None, validate=validate.OneOf(["upcoming", "open", "finished"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ProposalIn(Schema):
    content = fields.String(required=True)


class ProposalListIn(Schema):
    q = fields.String(load_default=None)
    sort = fields.String(load_default="recent", validate=validate.OneOf(["recent"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class MyProposalsIn(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in Status]))
    question = fields.String(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class SimilarIn(Schema):
    content = fields.String(required=True)


class AcceptIn(Schema):
    content = fields.String(load_default=None)
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=None)


class RefuseIn(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(REFUSAL_REASONS))


class QueueIn(Schema):
    question = fields.String(load_default=None)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class ProposalOut(Schema):
    id = fields.String()
    question_id = fields.String()
    author_id = fields.String()
    content = fields.String()
    original_content = fields.String(allow_none=True)
    status = fields.String()
    refusal_reason = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    country = fields.String()
    language = fields.String()
    created_at = fields.DateTime()
    moderated_at = fields.DateTime(allow_none=True)


class MyProposalOut(ProposalOut):
    question_slug = fields.String()
    question_title = fields.String()


class DuplicateOut(Schema):
    id = fields.String()
    content = fields.String()
    score = fields.Float()


class SimilarOut(DuplicateOut):
    status = fields.String()


class SimilarResultOut(Schema):
    likely_duplicates = fields.List(fields.Nested(SimilarOut))
    pending_similar = fields.Integer()


class CountryOut(Schema):
    country = fields.String()
    languages = fields.List(fields.String())
    default_language = fields.String()


# -- events (the ``data`` of the envelope, see common.events) -----------------------------
class ProposalEvent(Schema):
    """Data of proposal_submitted / proposal_accepted / proposal_refused / proposal_postponed."""

    proposal_id = fields.String(required=True)
    question_id = fields.String(required=True)
    country = fields.String(required=True)
    language = fields.String(required=True)
    author_id = fields.String(required=True)
    content = fields.String(required=True)
    status = fields.String(required=True)
    original_content = fields.String(allow_none=True)
    refusal_reason = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    moderator_id = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


EVENTS = {name: ProposalEvent for name in (
    "proposal_submitted", "proposal_accepted", "proposal_refused", "proposal_postponed")}
