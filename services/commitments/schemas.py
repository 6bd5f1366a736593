"""The commitments RPC and event contract (marshmallow). Listed in this service's README.

Input schemas check shapes and types; the rules (vocabularies, lengths, URLs, e-mails,
the status scale) are in ``domain.py`` so that one ValidationFailed names every faulty
field.
"""
from marshmallow import Schema, fields, validate

from services.commitments.domain import KINDS, LEVELS, STATUSES


class CallerIn(Schema):
    """What the gateway passes as ``caller`` (from the token); None for anonymous."""

    user_id = fields.String(allow_none=True)
    roles = fields.List(fields.String(), load_default=list)
    moderated_questions = fields.List(fields.String(), load_default=list)
    actor_id = fields.String(allow_none=True, load_default=None)


def _opt_string(**kwargs):
    return fields.String(load_default=None, allow_none=True, **kwargs)


# -- actors ---------------------------------------------------------------------------------------
class ActorIn(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    party = _opt_string()
    mandate = _opt_string()
    level = fields.String(required=True, metadata={"enum": list(LEVELS)})
    country = fields.String(required=True, metadata={"description": "FR, DE, GB, BE, CH, LU or EU (configurable)"})
    constituency = _opt_string()
    contact_emails = fields.List(fields.String(), load_default=list)
    locale = _opt_string(metadata={"description": "fr, de, en, nl or it; defaults to the country's"})
    external_id = _opt_string(metadata={"description": "the key of CSV imports"})


class ActorUpdateIn(ActorIn):
    """Loaded with ``partial=True``: only the given fields change (the result is
    validated whole)."""


class ActorFilterIn(Schema):
    country = _opt_string()
    level = _opt_string(validate=validate.OneOf(LEVELS))
    kind = _opt_string(validate=validate.OneOf(KINDS))
    q = _opt_string(validate=validate.Length(max=200))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=None, allow_none=True,
                              metadata={"description": "1..page_size_max (100), default page_size_default (20)"})


class ActorOut(Schema):
    id = fields.String()
    external_id = fields.String(allow_none=True)
    name = fields.String()
    kind = fields.String()
    party = fields.String(allow_none=True)
    mandate = fields.String(allow_none=True)
    level = fields.String()
    country = fields.String()
    constituency = fields.String(allow_none=True)
    contact_emails = fields.List(fields.String())
    locale = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ActorSummaryOut(Schema):
    id = fields.String()
    name = fields.String()
    country = fields.String()


class ScoreboardOut(Schema):
    total = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(),
                            metadata={"description": "count for each of the 6 statuses"})
    kept_share = fields.Float(allow_none=True, metadata={"description": "kept / rated (null when none rated)"})
    broken_share = fields.Float(allow_none=True, metadata={"description": "broken / rated (null when none rated)"})


class ImportResultOut(Schema):
    total = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(fields.Dict(), metadata={
        "description": "[{row: 1-based data row (file line = row + 1 with a header), fields: {field: message}}]"})
    dry_run = fields.Boolean()


# -- commitments ------------------------------------------------------------------------------------
class CommitmentIn(Schema):
    actor_id = fields.String(required=True)
    proposal_id = _opt_string()
    campaign_id = _opt_string()
    statement = fields.String(required=True)
    made_at = fields.AwareDateTime(required=True)
    source_url = _opt_string(metadata={"description": "required when there is neither proposal_id nor campaign_id"})


class StatusIn(Schema):
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    evidence_url = _opt_string(metadata={"description": "required for every status but not_yet_rated"})
    note = _opt_string()


class CommitmentFilterIn(Schema):
    actor = _opt_string()
    proposal = _opt_string()
    campaign = _opt_string()
    status = _opt_string(validate=validate.OneOf(STATUSES))
    country = _opt_string()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=None, allow_none=True)


class TimelineEntryOut(Schema):
    status = fields.String()
    previous_status = fields.String(allow_none=True)
    evidence_url = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    changed_by = fields.String(allow_none=True)
    changed_at = fields.DateTime()


class CommitmentOut(Schema):
    id = fields.String()
    actor_id = fields.String()
    actor = fields.Nested(ActorSummaryOut)
    proposal_id = fields.String(allow_none=True)
    campaign_id = fields.String(allow_none=True)
    statement = fields.String()
    made_at = fields.DateTime()
    source_url = fields.String(allow_none=True)
    source_response_id = fields.String(allow_none=True)
    status = fields.String()
    country = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CommitmentDetailOut(CommitmentOut):
    timeline = fields.List(fields.Nested(TimelineEntryOut), metadata={"description": "oldest first"})


class ActorDetailOut(ActorOut):
    commitments = fields.List(fields.Nested(CommitmentOut), metadata={"description": "most recent first, capped"})
    scoreboard = fields.Nested(ScoreboardOut)


# -- events (the ``data`` of the envelope, see common.events) -----------------------------------------
class ActorEvent(ActorOut):
    """actor_created / actor_updated: the actor as ``ActorOut``."""


class CommitmentMade(Schema):
    commitment_id = fields.String(required=True)
    actor_id = fields.String(required=True)
    actor_name = fields.String(required=True)
    proposal_id = fields.String(allow_none=True)
    campaign_id = fields.String(allow_none=True)
    country = fields.String(required=True)
    statement = fields.String(required=True)
    status = fields.String(required=True)
    made_at = fields.DateTime(required=True)
    source_url = fields.String(allow_none=True)
    source_response_id = fields.String(allow_none=True)


class CommitmentStatusChanged(Schema):
    commitment_id = fields.String(required=True)
    actor_id = fields.String(required=True)
    actor_name = fields.String(required=True)
    proposal_id = fields.String(allow_none=True)
    campaign_id = fields.String(allow_none=True)
    country = fields.String(required=True)
    status = fields.String(required=True)
    previous_status = fields.String(required=True)
    evidence_url = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    changed_at = fields.DateTime(required=True)
    changed_by = fields.String(allow_none=True)


class OfficialCommitted(Schema):
    """Consumed: ``lobbying.official_committed`` (an official answered a campaign with
    stance commit). Unknown keys are ignored so lobbying may add fields."""

    class Meta:
        unknown = "exclude"

    response_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    campaign_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    proposal_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    actor_id = fields.String(required=True)
    statement = fields.String(required=True)
    responded_at = fields.AwareDateTime(required=True)
    responded_by = fields.String(load_default=None, allow_none=True)


EVENTS = {"actor_created": ActorEvent, "actor_updated": ActorEvent, "commitment_made": CommitmentMade,
          "commitment_status_changed": CommitmentStatusChanged}
CONSUMED = {"lobbying.official_committed": OfficialCommitted}
