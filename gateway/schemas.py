"""HTTP contract of the public API (documented in OpenAPI). Services validate the
business rules again: these schemas check shape and types at the edge."""
from marshmallow import Schema, fields, validate

COUNTRY = fields.String(metadata={"example": "FR"})


class ApiError(Schema):
    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    errors = fields.Dict()


class Page(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageOut(Schema):
    """What every paginated answer carries besides its ``items``."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


# -- accounts ----------------------------------------------------------------------------
class RegisterRequest(Schema):
    email = fields.String(required=True, metadata={"example": "claire@example.org"})
    password = fields.String(required=True, load_only=True, metadata={"description": "at least 10 characters"})
    display_name = fields.String(required=True)
    country = fields.String(required=True, metadata={"example": "FR"})
    language = fields.String(required=True, metadata={"example": "fr"})
    postcode = fields.String(allow_none=True)


class User(Schema):
    id = fields.String()
    email = fields.String()
    display_name = fields.String()
    country = fields.String()
    language = fields.String()
    postcode = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    moderated_questions = fields.List(fields.String())
    actor_id = fields.String(allow_none=True)
    created_at = fields.String()


class TokenRequest(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class Token(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    user_id = fields.String()


# -- questions ---------------------------------------------------------------------------
class QuestionCreate(Schema):
    slug = fields.String(required=True, metadata={"example": "climat-2027"})
    title = fields.String(required=True)
    country = fields.String(required=True, metadata={"example": "FR"})
    language = fields.String(required=True, metadata={"example": "fr"})
    scope = fields.String(required=True, validate=validate.OneOf(["local", "national", "european"]))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    votes_target = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class Question(Schema):
    id = fields.String()
    slug = fields.String()
    title = fields.String()
    country = fields.String()
    language = fields.String()
    scope = fields.String()
    starts_at = fields.String()
    ends_at = fields.String()
    votes_target = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "upcoming, open or finished (from the dates)"})
    created_at = fields.String()
    proposal_prefix = fields.String(metadata={"description": "how a proposal customarily starts in the question's "
                                                             "language (\"Il faut\", \"Man sollte\", \"We should\"); "
                                                             "a hint, never enforced"})
    proposal_min_length = fields.Integer(metadata={"description": "a proposal's minimum length (characters)"})
    proposal_max_length = fields.Integer(metadata={"description": "a proposal's maximum length (characters)"})


class QuestionFilter(Page):
    country = fields.String()
    language = fields.String()
    status = fields.String(validate=validate.OneOf(["upcoming", "open", "finished"]))
    scope = fields.String(validate=validate.OneOf(["local", "national", "european"]))


class Country(Schema):
    country = fields.String(metadata={"example": "CH"})
    languages = fields.List(fields.String(), metadata={"example": ["de", "fr", "it"]})
    default_language = fields.String(metadata={"example": "de"})


class QuestionPage(PageOut):
    items = fields.List(fields.Nested(Question))


# -- proposals ---------------------------------------------------------------------------
class ProposalCreate(Schema):
    content = fields.String(required=True, metadata={"example": "Il faut planter des arbres dans les cours d'école"})


class Proposal(Schema):
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
    created_at = fields.String()
    moderated_at = fields.String(allow_none=True)


class Duplicate(Schema):
    id = fields.String()
    content = fields.String()
    score = fields.Float()


class SimilarQuery(Schema):
    content = fields.String(required=True, metadata={"description": "the draft (same length rule as a proposal)"})


class SimilarProposal(Duplicate):
    status = fields.String(metadata={"description": "accepted; pending or postponed only for the question's "
                                                    "moderators and the proposal's own author"})


class Similar(Schema):
    likely_duplicates = fields.List(fields.Nested(SimilarProposal))
    pending_similar = fields.Integer(metadata={"description": "similar proposals awaiting moderation that the caller "
                                                              "may not read (counted, not shown)"})


class MyProposalFilter(Page):
    status = fields.String(validate=validate.OneOf(["pending", "accepted", "refused", "postponed", "archived"]))
    question = fields.String(metadata={"description": "a question id or slug"})


class MyProposal(Proposal):
    question_slug = fields.String()
    question_title = fields.String()


class MyProposalPage(PageOut):
    items = fields.List(fields.Nested(MyProposal))


class ProposalSubmitted(Schema):
    proposal = fields.Nested(Proposal)
    likely_duplicates = fields.List(fields.Nested(Duplicate))


class ProposalFilter(Page):
    q = fields.String(metadata={"description": "full-text search in the question's language (sort=recent): the "
                                              "matches among the 10,000 most recent proposals by relevance, then "
                                              "older matches, newest first"})
    sort = fields.String(load_default="recent", validate=validate.OneOf(["recent", "popular", "controversial"]),
                         metadata={"description": "recent; popular (topScore lower bound); controversial"})


class RankScore(Schema):
    top_score_lower_bound = fields.Float()
    controversy_lower_bound = fields.Float()
    zone = fields.String()
    votes = fields.Integer()
    emerged = fields.Boolean(metadata={"description": "the proposal has emerged (MISSION.md rules)"})


class ListedProposal(Proposal):
    score = fields.Nested(RankScore, metadata={"description": "with sort=popular or controversial"})


class ProposalPage(PageOut):
    items = fields.List(fields.Nested(ListedProposal))
    total_exact = fields.Boolean(metadata={"description": "false when a search has more matches than it counts "
                                                          "exactly: total is then a lower bound"})


class AcceptRequest(Schema):
    content = fields.String(metadata={"description": "the moderator's edit (the original is kept)"})
    tags = fields.List(fields.String())


class RefuseRequest(Schema):
    reason = fields.String(required=True, metadata={"example": "already-exists"})


class QueueFilter(Schema):
    question = fields.String()
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class QueueItem(Proposal):
    likely_duplicates = fields.List(fields.Nested(Duplicate))
    locked_until = fields.String()


class QueueGroup(Schema):
    author_id = fields.String()
    proposals = fields.List(fields.Nested(QueueItem))


class Queue(Schema):
    groups = fields.List(fields.Nested(QueueGroup))
    lock_seconds = fields.Integer()


# -- voting ------------------------------------------------------------------------------
QUALIFICATIONS_HELP = ("agree: likeIt, doable, platitudeAgree; disagree: noWay, impossible, platitudeDisagree; "
                       "neutral: doNotCare, doNotUnderstand, noOpinion")


# OpenAPI header of the 429 answers
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}


class VoteRequest(Schema):
    key = fields.String(required=True, validate=validate.OneOf(["agree", "disagree", "neutral"]))
    qualifications = fields.List(fields.String(), load_default=list, metadata={"description": QUALIFICATIONS_HELP})
    proposal_key = fields.String(allow_none=True, metadata={"description": "the key served with the proposal"})


class Vote(Schema):
    proposal_id = fields.String()
    key = fields.String(allow_none=True)
    qualifications = fields.List(fields.String())
    trusted = fields.Boolean()
    action = fields.String()


class ScoreBounds(Schema):
    score = fields.Float()
    lower_bound = fields.Float()
    upper_bound = fields.Float()
    confidence = fields.Float()


class Results(Schema):
    proposal_id = fields.String()
    question_id = fields.String()
    counts = fields.Dict(metadata={"description": "all / trusted / sequence -> key or qualification -> count"})
    votes = fields.Dict()
    rates = fields.Dict()
    top_score = fields.Nested(ScoreBounds)
    controversy = fields.Nested(ScoreBounds)
    rejection = fields.Nested(ScoreBounds)
    zone = fields.String()
    emerged = fields.Boolean()
    emerged_at = fields.String(allow_none=True)


class SequenceItem(Proposal):
    proposal_key = fields.String()


class Sequence(Schema):
    question_id = fields.String()
    items = fields.List(fields.Nested(SequenceItem))


class MyVotesFilter(Schema):
    proposal = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "proposal ids (repeat the parameter)"})


class StreamFilter(Schema):
    actor = fields.String()
    proposal = fields.String()
    campaign = fields.String()
    country = fields.String()
    last_event_id = fields.String(metadata={"description": "same as the Last-Event-ID header"})


# -- public actors and commitments ----------------------------------------------------------
ACTOR_KINDS = ["elected", "party", "government", "organisation"]
LEVELS = ["local", "national", "european"]
COMMITMENT_STATUSES = ["not_yet_rated", "in_the_works", "stalled", "kept", "compromise", "broken"]


class ActorCreate(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ACTOR_KINDS))
    party = fields.String(allow_none=True)
    mandate = fields.String(allow_none=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    country = fields.String(required=True, metadata={"example": "FR", "description": "or EU for European bodies"})
    constituency = fields.String(allow_none=True)
    contact_emails = fields.List(fields.String(), load_default=list)
    locale = fields.String(required=True, metadata={"example": "fr"})
    external_id = fields.String(allow_none=True)


class Actor(ActorCreate):
    id = fields.String()
    created_at = fields.String()


class ActorFilter(Page):
    country = fields.String()
    level = fields.String(validate=validate.OneOf(LEVELS))
    kind = fields.String(validate=validate.OneOf(ACTOR_KINDS))
    q = fields.String()


class ActorPage(PageOut):
    items = fields.List(fields.Nested(Actor))


class TimelineEntry(Schema):
    status = fields.String()
    previous_status = fields.String(allow_none=True)
    evidence_url = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    changed_by = fields.String(allow_none=True)
    changed_at = fields.String()


class Commitment(Schema):
    id = fields.String()
    actor_id = fields.String()
    proposal_id = fields.String(allow_none=True)
    campaign_id = fields.String(allow_none=True)
    statement = fields.String()
    made_at = fields.String()
    source_url = fields.String(allow_none=True)
    source_response_id = fields.String(allow_none=True)
    status = fields.String()
    country = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    actor = fields.Dict()
    timeline = fields.List(fields.Nested(TimelineEntry))


class Scoreboard(Schema):
    total = fields.Integer()
    by_status = fields.Dict()
    kept_share = fields.Float(allow_none=True)
    broken_share = fields.Float(allow_none=True)


class ActorDetail(Actor):
    commitments = fields.List(fields.Nested(Commitment))
    scoreboard = fields.Nested(Scoreboard)


class CommitmentCreate(Schema):
    actor_id = fields.String(required=True)
    proposal_id = fields.String(allow_none=True)
    campaign_id = fields.String(allow_none=True)
    statement = fields.String(required=True)
    made_at = fields.AwareDateTime(required=True)
    source_url = fields.String(allow_none=True)


class StatusChange(Schema):
    status = fields.String(required=True, validate=validate.OneOf(COMMITMENT_STATUSES))
    evidence_url = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class CommitmentFilter(Page):
    actor = fields.String()
    proposal = fields.String()
    campaign = fields.String()
    status = fields.String(validate=validate.OneOf(COMMITMENT_STATUSES))
    country = fields.String()


class CommitmentPage(PageOut):
    items = fields.List(fields.Nested(Commitment))


# -- campaigns ----------------------------------------------------------------------------
class CampaignCreate(Schema):
    proposal_id = fields.String(required=True)
    title = fields.String(required=True)
    pitch = fields.String(required=True)
    target_actor_ids = fields.List(fields.String(), required=True)
    goal = fields.Integer(required=True, strict=True)


class CampaignTarget(Schema):
    actor_id = fields.String()
    actor_name = fields.String()
    country = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    state = fields.String()
    stance = fields.String(allow_none=True)
    statement = fields.String(allow_none=True)
    responded_at = fields.String(allow_none=True)
    interpellations = fields.Integer()


class CampaignMilestone(Schema):
    milestone = fields.Integer()
    kind = fields.String()
    reached_at = fields.String()


class Campaign(Schema):
    id = fields.String()
    proposal_id = fields.String()
    creator_id = fields.String()
    title = fields.String()
    pitch = fields.String()
    goal = fields.Integer()
    country = fields.String()
    status = fields.String()
    supporters = fields.Integer()
    created_at = fields.String()
    milestones = fields.List(fields.Nested(CampaignMilestone))
    next_milestone = fields.Integer(allow_none=True)
    targets = fields.List(fields.Nested(CampaignTarget))
    supported = fields.Boolean(allow_none=True)


class CampaignFilter(Page):
    proposal = fields.String()
    actor = fields.String()
    status = fields.String(validate=validate.OneOf(["active", "closed"]))


class CampaignPage(PageOut):
    items = fields.List(fields.Nested(Campaign))


class SupportState(Schema):
    campaign_id = fields.String()
    supporting = fields.Boolean()
    changed = fields.Boolean()
    supporters = fields.Integer()


class OfficialResponse(Schema):
    stance = fields.String(required=True, validate=validate.OneOf(["commit", "decline", "other"]))
    statement = fields.String(required=True)


class OfficialResponseOut(Schema):
    id = fields.String()
    campaign_id = fields.String()
    actor_id = fields.String()
    stance = fields.String()
    statement = fields.String()
    created_at = fields.String()


# -- notifications ---------------------------------------------------------------------
class NotificationFilter(Page):
    unread = fields.Boolean(load_default=False)


class Notification(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    data = fields.Dict()
    created_at = fields.String()
    read_at = fields.String(allow_none=True)


class NotificationPage(PageOut):
    items = fields.List(fields.Nested(Notification))
    unread_count = fields.Integer()


class Preferences(Schema):
    preferences = fields.Dict(keys=fields.String(), values=fields.String())
    kinds = fields.List(fields.String())
    frequencies = fields.List(fields.String())


class PreferencesUpdate(Schema):
    preferences = fields.Dict(keys=fields.String(), values=fields.String(
        validate=validate.OneOf(["immediate", "daily", "weekly", "off"])), required=True)


class Updated(Schema):
    updated = fields.Integer()


class Unsubscribed(Schema):
    kind = fields.String()
    email = fields.String()


class DeliveryFilter(Page):
    status = fields.String(validate=validate.OneOf(["pending", "sent", "failed", "skipped"]))
