"""A token issuer for the PostgreSQL-only test tier: RS256 tokens for the sample users of
deploy/local/users.json, its key as a JWKS and a discovery document over HTTP
(tests/credentials.serve_issuer), so that the API validates staff tokens there exactly as in
production — by the issuer's keys, never by a bypass. The local stack and the engine tier sign
people in at Keycloak (deploy/local/keycloak.py); this one exists for the tests only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse

USERS_FILE = Path(__file__).resolve().parents[1] / "deploy" / "local" / "users.json"
TOKEN_SECONDS = 3600


@lru_cache
def users() -> dict[str, dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(USERS_FILE.read_text(encoding="utf-8"))
    return {user["username"]: user for user in data}


class SampleIssuer:
    """Signs tokens for the sample users and publishes its key as a JWKS."""

    def __init__(self, issuer: str, audience: str, key_path: Path) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.key = _signing_key(key_path)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(public).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    def issue(self, username: str, *, lifetime: int = TOKEN_SECONDS, **overrides: Any) -> str:
        """A token for a sample user; `overrides` replace claims (tests forge bad ones with it)."""
        user = users()[username]
        issued = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user["username"],
            "preferred_username": user["username"],
            "name": user["name"],
            "roles": user["roles"],
            "iat": issued,
            "exp": issued + lifetime,
        }
        if user.get("directorate"):
            claims["directorate"] = user["directorate"]
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.key_id})

    def app(self) -> FastAPI:
        app = FastAPI(title="Testlerin kimlik sağlayıcısı", docs_url=None, redoc_url=None)

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
                "token_endpoint": f"{self.issuer}/token",
                "grant_types_supported": ["password"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/.well-known/jwks.json")
        def keys() -> dict[str, Any]:
            return self.jwks()

        @app.get("/users")
        def sample_users() -> list[dict[str, Any]]:
            return [{k: v for k, v in u.items() if k != "password"} for u in users().values()]

        @app.post("/token", response_model=None)
        def token(
            username: Annotated[str, Form()], password: Annotated[str, Form()]
        ) -> dict[str, Any] | JSONResponse:
            user = users().get(username)
            if user is None or password != user["password"]:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "Kullanıcı adı ya da parola yanlış."},
                    status_code=400,
                )
            return {"access_token": self.issue(username), "token_type": "Bearer", "expires_in": TOKEN_SECONDS}

        return app


def _signing_key(path: Path) -> rsa.RSAPrivateKey:
    """The issuer's key, made once and kept (0600) so tokens survive a restart."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _signing_key(path)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key
