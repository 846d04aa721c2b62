"""Authlib against tollgate: client credentials, an API call with the token, introspection, revocation.

Run by crates/tollgate/tests/interop.rs (deps: interop/setup). Environment: TOLLGATE_URL (the issuer,
e.g. http://127.0.0.1:8080), TOLLGATE_CLIENT_ID, TOLLGATE_CLIENT_SECRET, TOLLGATE_AUTH_METHOD
(client_secret_basic or client_secret_post). Prints one JSON object on stdout for the test to check;
any exception exits non-zero with its traceback on stderr.
"""

import json

from authlib.integrations.base_client.errors import OAuthError

# readme:begin
import os
from authlib.integrations.requests_client import OAuth2Session

base = os.environ["TOLLGATE_URL"]  # e.g. http://127.0.0.1:8080
session = OAuth2Session(
    os.environ["TOLLGATE_CLIENT_ID"],
    os.environ["TOLLGATE_CLIENT_SECRET"],
    # "client_secret_basic" (Authorization: Basic) or "client_secret_post" (secret in the form body)
    token_endpoint_auth_method=os.environ.get("TOLLGATE_AUTH_METHOD", "client_secret_basic"),
    scope="groups:read",
)
token = session.fetch_token(f"{base}/api/v2/oauth2/token", grant_type="client_credentials")

# The session sends "Authorization: Bearer <access_token>" itself.
response = session.get(f"{base}/api/v2/groups", headers={"360-api-version": "v2.0"})
response.raise_for_status()
groups = response.json()

introspection = session.introspect_token(
    f"{base}/api/v2/oauth2/introspect", token=token["access_token"]
).json()  # {"active": true, "client_id": ..., "scope": "groups:read", "exp": ..., ...}
# readme:end

method = session.token_endpoint_auth_method

# Revocation (RFC 7009) with the same client authentication; the token then reads as inactive and the
# API refuses it.
revoked = session.revoke_token(f"{base}/api/v2/oauth2/revoke", token=token["access_token"])
after_revocation = session.introspect_token(
    f"{base}/api/v2/oauth2/introspect", token=token["access_token"]
).json()
api_after_revocation = session.get(f"{base}/api/v2/groups", headers={"360-api-version": "v2.0"})

# A wrong secret: Authlib must surface tollgate's RFC 6749 §5.2 error as an OAuthError.
wrong = OAuth2Session(
    os.environ["TOLLGATE_CLIENT_ID"], "tgsec_wrong", token_endpoint_auth_method=method
)
try:
    wrong.fetch_token(f"{base}/api/v2/oauth2/token", grant_type="client_credentials")
    wrong_secret_error = None
except OAuthError as e:
    wrong_secret_error = e.error

print(
    json.dumps(
        {
            "auth_method": method,
            "token": {k: v for k, v in token.items() if k != "access_token"},
            "access_token": token["access_token"],
            "groups": groups,
            "introspection": introspection,
            "revoke_status": revoked.status_code,
            "introspection_after_revocation": after_revocation,
            "api_status_after_revocation": api_after_revocation.status_code,
            "wrong_secret_error": wrong_secret_error,
        }
    )
)
