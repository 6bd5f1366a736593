"""Single proposals, their moderation, and the caller's own proposals."""

from gateway import schemas
from gateway.blueprint import Blueprint
from gateway.auth import caller, login_required
from gateway.rpc import call

blp = Blueprint("proposals", __name__, url_prefix="/api/v1", description="Proposals and moderation")
BEARER = [{"bearerAuth": []}]
MODERATION_ERRORS = (
    (403, "not a moderator of this proposal's question"),
    (404, "no such proposal"),
    (409, "illegal transition, or locked by another moderator"),
)


def _moderation_doc(view):
    for status, text in MODERATION_ERRORS:
        view = blp.alt_response(status, schema=schemas.ApiError, description=text)(view)
    return blp.doc(security=BEARER)(view)


@blp.get("/proposals/<proposal_id>")
@blp.response(200, schemas.Proposal)
@blp.alt_response(404, schema=schemas.ApiError)
def get_proposal(proposal_id):
    """A proposal: accepted ones are public; others only for their author and moderators"""
    return call("proposals", "get_proposal", proposal_id, caller())


@blp.post("/proposals/<proposal_id>/accept")
@blp.arguments(schemas.AcceptRequest)
@blp.response(200, schemas.Proposal)
@_moderation_doc
@login_required
def accept(body, proposal_id):
    """Accept (optionally editing the text: the original is kept)"""
    return call("proposals", "accept_proposal", caller(), proposal_id, body)


@blp.post("/proposals/<proposal_id>/refuse")
@blp.arguments(schemas.RefuseRequest)
@blp.response(200, schemas.Proposal)
@blp.alt_response(400, schema=schemas.ApiError, description="reason missing or not in the list")
@_moderation_doc
@login_required
def refuse(body, proposal_id):
    """Refuse with a reason from the list"""
    return call("proposals", "refuse_proposal", caller(), proposal_id, body)


@blp.post("/proposals/<proposal_id>/postpone")
@blp.response(200, schemas.Proposal)
@_moderation_doc
@login_required
def postpone(proposal_id):
    """Postpone a pending proposal"""
    return call("proposals", "postpone_proposal", caller(), proposal_id)


@blp.get("/me/proposals")
@blp.arguments(schemas.MyProposalFilter, location="query")
@blp.response(200, schemas.MyProposalPage)
@blp.alt_response(400, schema=schemas.ApiError, description="unknown status, or bad page / per_page")
@blp.alt_response(401, schema=schemas.ApiError, description="login required")
@blp.alt_response(404, schema=schemas.ApiError, description="no such question (question filter)")
@blp.doc(security=BEARER)
@login_required
def my_proposals(filters):
    """Your proposals, every status, newest first, with the refusal reason and the question's title"""
    return call("proposals", "my_proposals", caller(), filters)
