"""The public HTTP API: Flask + flask-smorest (OpenAPI 3 at /api/v1/openapi.json,
docs at /api/v1/docs), talking to the services over nameko RPC."""
import logging
import os

from flask import Flask, send_from_directory
from flask_smorest import Api

from common import config as settings
from common.tokens import jwt_secret
from gateway import auth
from gateway.observability import init_observability
from gateway.ratelimit import RateLimiter
from gateway.rpc import init_rpc

API_PREFIX = "/api/v1"


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Civic platform API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        AMQP_URI=settings.amqp_uri(),
        RPC_TIMEOUT=settings.env_float("RPC_TIMEOUT", 5.0),
        RPC_POOL_SIZE=settings.env_int("RPC_POOL_SIZE", 32),
        RPC_BATCH_MAX=settings.env_int("RPC_BATCH_MAX", 64),
        RPC_BATCH_FLUSHERS=settings.env_int("RPC_BATCH_FLUSHERS", 1),
        RPC_BATCH_MAX_WAIT=settings.env_float("RPC_BATCH_MAX_WAIT", 2.0),
        READY_TIMEOUT=settings.env_float("READY_TIMEOUT", 1.0),
        SERVICES=[s for s in os.environ.get("SERVICES", "accounts,proposals,voting,lobbying,commitments,notifications").split(",") if s],
        JWT_SECRET=jwt_secret(),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        VOTE_RATE_WINDOW=settings.env_int("VOTE_RATE_WINDOW", 60),
        VOTE_RATE_PER_VOTER=settings.env_int("VOTE_RATE_PER_VOTER", 60),
        VOTE_RATE_PER_IP=settings.env_int("VOTE_RATE_PER_IP", 1200),
        SIMILAR_RATE_WINDOW=settings.env_int("SIMILAR_RATE_WINDOW", 60),
        SIMILAR_RATE_PER_CLIENT=settings.env_int("SIMILAR_RATE_PER_CLIENT", 120),
        SIMILAR_RATE_PER_IP=settings.env_int("SIMILAR_RATE_PER_IP", 1200),
        TRUSTED_PROXY_HOPS=settings.env_int("TRUSTED_PROXY_HOPS", 0),
        STREAM_BUFFER=settings.env_int("STREAM_BUFFER", 10000),
        STREAM_CLIENT_QUEUE=settings.env_int("STREAM_CLIENT_QUEUE", 1000),
        STREAM_KEEPALIVE=settings.env_float("STREAM_KEEPALIVE", 15.0),
        PROPOSAL_CACHE_SIZE=settings.env_int("PROPOSAL_CACHE_SIZE", 10000),
        PROPOSAL_CACHE_TTL=settings.env_float("PROPOSAL_CACHE_TTL", 60.0),
        VOTE_LANE=settings.env_bool("VOTE_LANE", True),
        JSON_SORT_KEYS=False,
    )
    app.config.update(LOG_FORMAT=os.environ.get("LOG_FORMAT", "json"))
    app.config.update(overrides or {})
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)

    from gateway.api import (accounts, commitments, health, lobbying, moderation, notifications, proposals,
                             questions, stream, voting)
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    init_rpc(app)
    if app.config["REDIS_URL"]:
        app.extensions["ratelimit"] = RateLimiter(app.config["REDIS_URL"])
    app.before_request(auth.load_identity)
    app.before_request(auth.reject_nul)
    app.after_request(auth.store_session)
    for module in (accounts, questions, proposals, moderation, voting, lobbying, commitments, notifications,
                   stream):
        api.register_blueprint(module.blp)
    app.register_blueprint(health.probes)

    @app.get("/")
    def web_client():
        """The web client (static files under gateway/static, built only on /api/v1)."""
        response = send_from_directory(app.static_folder, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response
    init_observability(app)
    if app.config["VOTE_LANE"]:  # ordinary votes answered without Flask's request machinery
        from gateway.vote_lane import VoteLane, checks_it_skips

        skipped = checks_it_skips(app)
        if skipped:
            logging.getLogger(__name__).warning("votes' lane off: Flask checks %s, which the lane does not",
                                                ", ".join(skipped))
        else:
            app.wsgi_app = VoteLane(app, app.wsgi_app)
    return app
