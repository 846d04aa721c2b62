"""PyJWT as a foreign resource server: validates tollgate access tokens offline against the JWKS.

Run by crates/tollgate/tests/interop.rs (deps: interop/setup). Environment: TOLLGATE_URL (the issuer).
Reads one token per line on stdin and answers each with one JSON line on stdout:
{"ok": true, "kid": ..., "alg": ..., "claims": {...}} or {"ok": false, "error": "..."}.
One PyJWKClient lives across all tokens, so a key rotation between two lines shows whether it picks up
the new key by its kid while the previous key's tokens keep verifying.
"""

import json
import sys

# readme:begin
import os
import jwt  # PyJWT[crypto]
import requests

issuer = os.environ["TOLLGATE_URL"]
metadata = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=10).json()
# cooldown_duration=0: refetch the key set as soon as a token names a kid it does not hold, so tokens
# signed right after a key rotation verify at once (PyJWT waits 30 s between such refetches otherwise).
jwks = jwt.PyJWKClient(metadata["jwks_uri"], cooldown_duration=0)


def verify(access_token: str) -> dict:
    key = jwks.get_signing_key_from_jwt(access_token)
    return jwt.decode(
        access_token,
        key,
        algorithms=["EdDSA", "ES256", "RS256"],
        issuer=metadata["issuer"],
        audience=metadata["issuer"],  # tollgate's default audience is its issuer
        options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "scope"]},
    )
# readme:end


for line in sys.stdin:
    token = line.strip()
    if not token:
        continue
    try:
        header = jwt.get_unverified_header(token)
        claims = verify(token)
        answer = {"ok": True, "kid": header.get("kid"), "alg": header.get("alg"), "typ": header.get("typ"), "claims": claims}
    except Exception as e:  # report, keep serving
        answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(answer), flush=True)
