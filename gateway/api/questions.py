"""Questions (consultations), the proposals made on them, and the countries they are in."""

from flask import g

from gateway import schemas
from gateway.blueprint import Blueprint
from gateway.auth import caller, login_required
from gateway.ratelimit import enforce, similar_admission
from gateway.rpc import call

blp = Blueprint("questions", __name__, url_prefix="/api/v1", description="Questions and their proposals")
BEARER = [{"bearerAuth": []}]


@blp.post("/questions")
@blp.arguments(schemas.QuestionCreate)
@blp.response(201, schemas.Question)
@blp.alt_response(400, schema=schemas.ApiError)
@blp.alt_response(403, schema=schemas.ApiError, description="admins only")
@blp.alt_response(409, schema=schemas.ApiError, description="the slug is taken")
@blp.doc(security=BEARER)
@login_required
def create_question(body):
    """Open a question (admin)"""
    for key in ("starts_at", "ends_at"):
        body[key] = body[key].isoformat()
    return call("proposals", "create_question", caller(), body)


@blp.get("/questions")
@blp.arguments(schemas.QuestionFilter, location="query")
@blp.response(200, schemas.QuestionPage)
@blp.alt_response(400, schema=schemas.ApiError, description="a filter's value is not allowed (the field is named)")
def list_questions(filters):
    """Questions, filtered by country, language, scope and status; newest start first"""
    return call("proposals", "list_questions", filters)


@blp.get("/questions/<id_or_slug>")
@blp.response(200, schemas.Question)
@blp.alt_response(404, schema=schemas.ApiError)
def get_question(id_or_slug):
    """One question, by id or slug"""
    return call("proposals", "get_question", id_or_slug)


@blp.post("/questions/<question_id>/proposals")
@blp.arguments(schemas.ProposalCreate)
@blp.response(201, schemas.ProposalSubmitted)
@blp.alt_response(400, schema=schemas.ApiError, description="content too short or too long")
@blp.alt_response(404, schema=schemas.ApiError)
@blp.alt_response(409, schema=schemas.ApiError, description="the question is not open")
@blp.doc(security=BEARER)
@login_required
def submit_proposal(body, question_id):
    """Propose a solution (pending until moderated); lists likely duplicates"""
    return call("proposals", "submit_proposal", caller(), question_id, body)


@blp.get("/questions/<question_id>/proposals")
@blp.arguments(schemas.ProposalFilter, location="query")
@blp.response(200, schemas.ProposalPage)
@blp.alt_response(404, schema=schemas.ApiError)
def list_proposals(filters, question_id):
    """Accepted proposals: recent (with full-text search), popular or controversial"""
    if filters["sort"] in ("popular", "controversial"):
        from gateway.api.voting import ranked_proposals

        return ranked_proposals(question_id, filters)
    return call("proposals", "list_proposals", question_id, filters)


@blp.get("/questions/<question_id>/similar")
@blp.arguments(schemas.SimilarQuery, location="query")
@blp.response(200, schemas.Similar)
@blp.alt_response(400, schema=schemas.ApiError, description="content missing, too short or too long")
@blp.alt_response(404, schema=schemas.ApiError)
@blp.alt_response(429, schema=schemas.ApiError, description="searching too often (per session or account, per IP)",
                  headers=schemas.RETRY_AFTER)
def similar(query, question_id):
    """Likely duplicates of a draft, before proposing it (the check a submission runs).

    Accepted proposals are shown to everybody; proposals awaiting moderation (pending,
    postponed) are shown to the question's moderators and to their own author, and only
    counted (`pending_similar`) for anybody else: their text is not public until accepted.
    Refused and archived proposals are never listed. Logging in is optional."""
    who = caller()
    enforce(similar_admission(who["user_id"] if who else None, g.session_id))
    return call("proposals", "similar_proposals", who, question_id, query)


@blp.get("/countries")
@blp.response(200, schemas.Country(many=True))
def countries():
    """The countries questions are asked in, with their languages (the first is the default)"""
    return call("proposals", "list_countries")
