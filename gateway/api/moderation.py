"""The moderation queue."""

from gateway import schemas
from gateway.blueprint import Blueprint
from gateway.auth import caller, login_required
from gateway.rpc import call

blp = Blueprint("moderation", __name__, url_prefix="/api/v1/moderation", description="Moderation queue")


@blp.get("/queue")
@blp.arguments(schemas.QueueFilter, location="query")
@blp.response(200, schemas.Queue)
@blp.alt_response(403, schema=schemas.ApiError, description="not a moderator (of this question)")
@blp.doc(security=[{"bearerAuth": []}])
@login_required
def queue(filters):
    """Pending proposals grouped by author, oldest first; returned ones are locked to you"""
    return call("proposals", "moderation_queue", caller(), filters)
