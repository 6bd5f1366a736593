"""The voting RPC and event contract (marshmallow). Listed in this service's README."""
from marshmallow import Schema, fields, validate

from services.voting.scoring import KEYS

VOTE_BATCH_MAX = 200  # votes per vote_batch call


class VoterIn(Schema):
    """Who votes: a logged-in user (user_id) or an anonymous session; the session id is
    always given because proposal keys are bound to it."""

    user_id = fields.String(load_default=None, allow_none=True)
    session_id = fields.String(required=True, validate=validate.Length(min=8, max=64))


class VoteIn(Schema):
    key = fields.String(required=True, validate=validate.OneOf(KEYS))
    qualifications = fields.List(fields.String(), load_default=list)
    proposal_key = fields.String(load_default=None, allow_none=True)


class VoteBatchItem(Schema):
    voter = fields.Dict(required=True, metadata={"description": "VoterIn"})
    proposal_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    data = fields.Dict(required=True, metadata={"description": "VoteIn"})


class VoteBatchIn(Schema):
    votes = fields.List(fields.Nested(VoteBatchItem), required=True,
                        validate=validate.Length(min=1, max=VOTE_BATCH_MAX))


class VoteOutcome(Schema):
    """One vote of a batch: its result, or the error a single ``vote`` call would raise."""

    result = fields.Nested(lambda: VoteOut(), allow_none=True)
    error = fields.Dict(allow_none=True, metadata={"description": "{exc_type, value, exc_args}"})


class RankingIn(Schema):
    sort = fields.String(load_default="popular", validate=validate.OneOf(["popular", "controversial"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class VoteOut(Schema):
    proposal_id = fields.String()
    key = fields.String(allow_none=True)
    qualifications = fields.List(fields.String())
    trusted = fields.Boolean()
    action = fields.String(metadata={"description": "cast, changed, qualified, unchanged or removed"})


class ScoreOut(Schema):
    score = fields.Float()
    lower_bound = fields.Float()
    upper_bound = fields.Float()
    confidence = fields.Float()


class ResultsOut(Schema):
    proposal_id = fields.String()
    question_id = fields.String()
    counts = fields.Dict(metadata={"description": "per trust level (all, trusted, sequence): count per key and qualification"})
    votes = fields.Dict()
    rates = fields.Dict()
    top_score = fields.Nested(ScoreOut)
    controversy = fields.Nested(ScoreOut)
    rejection = fields.Nested(ScoreOut)
    zone = fields.String()
    emerged = fields.Boolean()
    emerged_at = fields.DateTime(allow_none=True)


class SequenceItemOut(Schema):
    proposal_id = fields.String()
    proposal_key = fields.String()


class RankedOut(Schema):
    proposal_id = fields.String()
    top_score_lower_bound = fields.Float()
    controversy_lower_bound = fields.Float()
    zone = fields.String()
    votes = fields.Integer()
    emerged = fields.Boolean()  # additive (0.2): a consumer on 0.1 ignores it


# -- events --------------------------------------------------------------------------------
class VoteEvent(Schema):
    """vote_cast / vote_changed / vote_removed."""

    proposal_id = fields.String(required=True)
    question_id = fields.String(required=True)
    user_id = fields.String(allow_none=True)
    key = fields.String(allow_none=True)
    previous_key = fields.String(allow_none=True)
    qualifications = fields.List(fields.String())
    trusted = fields.Boolean()


class ProposalEmerged(Schema):
    proposal_id = fields.String(required=True)
    question_id = fields.String(required=True)
    author_id = fields.String(required=True)
    country = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    trusted_votes = fields.Integer()
    top_score = fields.Float()
    top_score_lower_bound = fields.Float()
    agree_rate = fields.Float()


class VoteMilestoneReached(Schema):
    scope = fields.String(required=True, validate=validate.OneOf(["proposal", "question"]))
    question_id = fields.String(required=True)
    proposal_id = fields.String(allow_none=True)
    milestone = fields.Integer(required=True)
    votes = fields.Integer(required=True, metadata={
        "description": "trusted votes when the milestone was recorded (>= milestone; for a question, a "
                       "milestone crossed by concurrent votes is recorded by the next vote, so it can be "
                       "higher than milestone + 1)"})
    votes_target = fields.Integer(allow_none=True)


EVENTS = {"vote_cast": VoteEvent, "vote_changed": VoteEvent, "vote_removed": VoteEvent,
          "proposal_emerged": ProposalEmerged, "vote_milestone_reached": VoteMilestoneReached}
