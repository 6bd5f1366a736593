"""Crowd-lobbying campaigns (lobbying service)."""
from gateway import schemas
from gateway.auth import caller, login_required
from gateway.blueprint import Blueprint
from gateway.rpc import call

blp = Blueprint("lobbying", __name__, url_prefix="/api/v1/campaigns", description="Crowd-lobbying campaigns")
BEARER = [{"bearerAuth": []}]


@blp.post("")
@blp.arguments(schemas.CampaignCreate)
@blp.response(201, schemas.Campaign)
@blp.alt_response(400, schema=schemas.ApiError, description="a field is invalid, or a target unknown / out of the proposal's country")
@blp.alt_response(409, schema=schemas.ApiError, description="the proposal has not emerged")
@blp.doc(security=BEARER)
@login_required
def create_campaign(body):
    """Start a campaign on an emerged proposal, targeting public actors"""
    return call("lobbying", "create_campaign", caller(), body)


@blp.get("")
@blp.arguments(schemas.CampaignFilter, location="query")
@blp.response(200, schemas.CampaignPage)
def list_campaigns(filters):
    """Campaigns by proposal, targeted actor or status"""
    return call("lobbying", "list_campaigns", filters)


@blp.get("/<campaign_id>")
@blp.response(200, schemas.Campaign)
@blp.alt_response(404, schema=schemas.ApiError)
def get_campaign(campaign_id):
    """A campaign: supporters, milestones, each target's state and statement"""
    return call("lobbying", "get_campaign", campaign_id, caller())


@blp.post("/<campaign_id>/support")
@blp.response(200, schemas.SupportState)
@blp.alt_response(404, schema=schemas.ApiError)
@blp.alt_response(409, schema=schemas.ApiError, description="the campaign is closed")
@blp.doc(security=BEARER)
@login_required
def support(campaign_id):
    """Support a campaign (once per citizen; repeating changes nothing)"""
    return call("lobbying", "support", caller(), campaign_id)


@blp.delete("/<campaign_id>/support")
@blp.response(200, schemas.SupportState)
@blp.alt_response(404, schema=schemas.ApiError)
@blp.doc(security=BEARER)
@login_required
def withdraw(campaign_id):
    """Withdraw one's support"""
    return call("lobbying", "withdraw_support", caller(), campaign_id)


@blp.post("/<campaign_id>/responses")
@blp.arguments(schemas.OfficialResponse)
@blp.response(201, schemas.OfficialResponseOut)
@blp.alt_response(403, schema=schemas.ApiError, description="not an official of a targeted actor")
@blp.alt_response(409, schema=schemas.ApiError, description="already committed")
@blp.doc(security=BEARER)
@login_required
def respond(body, campaign_id):
    """An official answers for their public actor: commit, decline or other"""
    return call("lobbying", "respond", caller(), campaign_id, body)
