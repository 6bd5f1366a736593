"""Votes, results and the voting sequence (voting service, joined with proposals' content)."""
from flask import current_app, g

from gateway import proposal_cache, schemas
from gateway.auth import caller
from gateway.blueprint import Blueprint
from gateway.ratelimit import vote_admission
from gateway.rpc import call, call_batched

blp = Blueprint("voting", __name__, url_prefix="/api/v1", description="Votes, results and the voting sequence")


def contents(ids) -> dict:
    """{id: content} of the accepted proposals among ``ids``: the process's cache
    (gateway/proposal_cache.py), then the proposals service for the rest."""
    if not ids:
        return {}

    def fetch(missing):
        return call("proposals", "get_proposals", missing)

    cache = proposal_cache.for_app(current_app)
    return cache.get_many(ids, fetch) if cache is not None else {p["id"]: p for p in fetch(ids)}


def voter() -> dict:
    who = caller()
    return {"user_id": who["user_id"] if who else None, "session_id": g.session_id}


@blp.put("/proposals/<proposal_id>/vote")
@blp.arguments(schemas.VoteRequest)
@blp.response(200, schemas.Vote)
@blp.alt_response(400, schema=schemas.ApiError, description="unknown key, or a qualification that does not match it")
@blp.alt_response(404, schema=schemas.ApiError)
@blp.alt_response(409, schema=schemas.ApiError, description="the proposal is not accepted or its question not open")
@blp.alt_response(429, schema=schemas.ApiError, description="voting too fast (per session and per IP)",
                  headers=schemas.RETRY_AFTER)
def vote(body, proposal_id):
    """Agree, disagree or neutral (+ qualifications), logged in or anonymous"""
    v = voter()
    return call_batched("voting", "vote_batch", {"voter": v, "proposal_id": proposal_id, "data": body},
                        single=lambda: vote_alone(v, proposal_id, body),
                        admission=vote_admission(v["user_id"], v["session_id"]))


def vote_alone(who: dict, proposal_id: str, body: dict) -> dict:
    """The vote without batching (batching off, or its batch failed as a whole); also the
    votes' lane's (gateway/vote_lane.py)."""
    return call("voting", "vote", who, proposal_id, body)


@blp.delete("/proposals/<proposal_id>/vote")
@blp.response(200, schemas.Vote)
@blp.alt_response(404, schema=schemas.ApiError, description="no vote to remove")
def remove_vote(proposal_id):
    """Withdraw one's vote"""
    return call("voting", "remove_vote", voter(), proposal_id)


@blp.get("/proposals/<proposal_id>/results")
@blp.response(200, schemas.Results)
@blp.alt_response(404, schema=schemas.ApiError)
def results(proposal_id):
    """Counts per trust level, scores with confidence bounds, zone"""
    return call("voting", "results", proposal_id)


@blp.get("/questions/<question_id>/sequence")
@blp.response(200, schemas.Sequence)
@blp.alt_response(404, schema=schemas.ApiError)
def sequence(question_id):
    """Up to 12 proposals to vote on, each with the proposal_key to send with the vote"""
    chosen = call("voting", "sequence", question_id, voter())
    ids = [item["proposal_id"] for item in chosen["items"]]
    content = contents(ids)
    items = [dict(content[i["proposal_id"]], proposal_key=i["proposal_key"])
             for i in chosen["items"] if i["proposal_id"] in content]
    return {"question_id": chosen["question_id"], "items": items}


def ranked_proposals(question_id, filters):
    """popular / controversial: the order comes from voting, the content from proposals."""
    ranked = call("voting", "ranking", question_id, {k: filters[k] for k in ("sort", "page", "per_page")})
    ids = [r["proposal_id"] for r in ranked["items"]]
    content = contents(ids)
    items = [dict(content[r["proposal_id"]], score=r) for r in ranked["items"] if r["proposal_id"] in content]
    return {"items": items, "total": ranked["total"], "page": ranked["page"], "per_page": ranked["per_page"]}


@blp.get("/me/votes")
@blp.arguments(schemas.MyVotesFilter, location="query")
@blp.response(200, schemas.Vote(many=True))
def my_votes(filters):
    """The caller's own votes (account, or anonymous session) on the given proposals"""
    return call("voting", "get_votes", voter(), filters["proposal"])
