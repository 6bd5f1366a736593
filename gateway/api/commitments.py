"""Public actors and their commitments (commitments service)."""
from flask_smorest import abort

from gateway import schemas
from gateway.auth import caller, login_required
from gateway.blueprint import Blueprint
from gateway.rpc import call

blp = Blueprint("commitments", __name__, url_prefix="/api/v1", description="Public actors and their commitments")
BEARER = [{"bearerAuth": []}]


@blp.post("/actors")
@blp.arguments(schemas.ActorCreate)
@blp.response(201, schemas.Actor)
@blp.alt_response(400, schema=schemas.ApiError)
@blp.alt_response(403, schema=schemas.ApiError, description="admins only")
@blp.alt_response(409, schema=schemas.ApiError, description="external_id already used")
@blp.doc(security=BEARER)
@login_required
def create_actor(body):
    """Add a public actor (admin)"""
    return call("commitments", "create_actor", caller(), body)


@blp.get("/actors")
@blp.arguments(schemas.ActorFilter, location="query")
@blp.response(200, schemas.ActorPage)
def list_actors(filters):
    """Public actors by country, level, kind, or name"""
    return call("commitments", "list_actors", filters)


@blp.get("/actors/<actor_id>")
@blp.response(200, schemas.ActorDetail)
@blp.alt_response(404, schema=schemas.ApiError)
def get_actor(actor_id):
    """A public actor with their commitments and scoreboard"""
    return call("commitments", "get_actor", actor_id)


@blp.post("/commitments")
@blp.arguments(schemas.CommitmentCreate)
@blp.response(201, schemas.Commitment)
@blp.alt_response(400, schema=schemas.ApiError)
@blp.alt_response(403, schema=schemas.ApiError, description="editors and admins only")
@blp.doc(security=BEARER)
@login_required
def create_commitment(body):
    """Record a commitment made outside the platform (editor, admin)"""
    body["made_at"] = body["made_at"].isoformat()
    return call("commitments", "create_commitment", caller(), body)


@blp.post("/commitments/<commitment_id>/status")
@blp.arguments(schemas.StatusChange)
@blp.response(200, schemas.Commitment)
@blp.alt_response(400, schema=schemas.ApiError, description="a rating needs its evidence_url")
@blp.alt_response(403, schema=schemas.ApiError, description="editors and admins only")
@blp.alt_response(404, schema=schemas.ApiError)
@blp.alt_response(409, schema=schemas.ApiError, description="already in that status")
@blp.doc(security=BEARER)
@login_required
def set_status(body, commitment_id):
    """Rate how a commitment is kept (editor, admin); every change joins the timeline"""
    return call("commitments", "set_status", caller(), commitment_id, body)


@blp.get("/commitments")
@blp.arguments(schemas.CommitmentFilter, location="query")
@blp.response(200, schemas.CommitmentPage)
def list_commitments(filters):
    """Commitments by actor, proposal, campaign, status or country"""
    return call("commitments", "list_commitments", filters)


@blp.get("/commitments/<commitment_id>")
@blp.response(200, schemas.Commitment)
@blp.alt_response(404, schema=schemas.ApiError)
def get_commitment(commitment_id):
    """A commitment with its timeline"""
    return call("commitments", "get_commitment", commitment_id)
