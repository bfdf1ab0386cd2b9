"""Bearer tokens: signed (HS256), with expiry, carrying the employee id and role."""


from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from schemas.auth import Caller
from schemas.employees import Role

ALGORITHM = "HS256"


class TokenCodec:
    def __init__(self, secret: str, ttl: timedelta) -> None:
        self.secret = secret
        self.ttl = ttl

    def issue(self, employee: str, role: Role, ttl: timedelta | None = None) -> str:
        caller = Caller(employee=employee, role=role)  # validates the employee id
        now = datetime.now(UTC)
        claims = {"sub": caller.employee, "role": caller.role.value, "iat": now, "exp": now + (ttl or self.ttl)}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
            return Caller(employee=claims["sub"], role=claims.get("role"))
        except jwt.ExpiredSignatureError:
            raise HTTPException(401, "the token has expired", {"WWW-Authenticate": "Bearer"}) from None
        except (jwt.InvalidTokenError, ValidationError):
            raise HTTPException(401, "the token is not valid", {"WWW-Authenticate": "Bearer"}) from None


def authenticator(codec: TokenCodec):
    """A FastAPI dependency answering the verified caller, or 401."""
    bearer = HTTPBearer(auto_error=False, description="Token from `voronka token`")

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        if credentials is None:
            raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        return codec.verify(credentials.credentials)

    return authenticate
