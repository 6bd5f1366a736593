"""Access tokens: HS256 JWTs minted by accounts, verified by the gateway locally.

The secret comes from JWT_SECRET (a generated per-checkout secret in development).
"""
import jwt

from common import config as settings

ISSUER = "civic-accounts"
AUDIENCE = "civic-api"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def jwt_secret() -> str:
    return settings.secret("JWT_SECRET")


def encode(claims: dict, secret: str | None = None) -> str:
    return jwt.encode(claims, secret or jwt_secret(), algorithm=ALGORITHM)


def decode(token: str, secret: str | None = None, leeway: int = 10) -> dict:
    try:
        return jwt.decode(
            token, secret or jwt_secret(), algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            leeway=leeway, options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
