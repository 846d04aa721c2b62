// openid-client v6 against tollgate: discovery from the issuer URL, client credentials grant, an API
// call with the token, introspection, and jose validating the token offline against the JWKS.
//
// Run by crates/tollgate/tests/interop.rs (deps: interop/setup). Environment: TOLLGATE_URL (the
// issuer, e.g. http://127.0.0.1:8080), TOLLGATE_CLIENT_ID, TOLLGATE_CLIENT_SECRET. Prints one JSON
// object on stdout for the test to check; any error exits non-zero with its message on stderr.

import * as jose from 'jose';

// readme:begin
import * as client from 'openid-client';

const issuer = new URL(process.env.TOLLGATE_URL); // e.g. http://127.0.0.1:8080
const config = await client.discovery(
  issuer, // reads <issuer>/.well-known/openid-configuration
  process.env.TOLLGATE_CLIENT_ID,
  process.env.TOLLGATE_CLIENT_SECRET, // sent as client_secret_post
  undefined,
  { execute: [client.allowInsecureRequests] }, // plain http: only for a server on loopback
);
const token = await client.clientCredentialsGrant(config, { scope: 'groups:read' });
const response = await client.fetchProtectedResource(
  config,
  token.access_token,
  new URL('/api/v2/groups', issuer),
  'GET',
  undefined,
  new Headers({ '360-api-version': 'v2.0' }),
);
const groups = await response.json();
// readme:end

// The RFC 8414 path, with client_secret_basic.
const rfc8414 = await client.discovery(
  issuer,
  process.env.TOLLGATE_CLIENT_ID,
  undefined,
  client.ClientSecretBasic(process.env.TOLLGATE_CLIENT_SECRET),
  { algorithm: 'oauth2', execute: [client.allowInsecureRequests] },
);
const basicToken = await client.clientCredentialsGrant(rfc8414);
const introspection = await client.tokenIntrospection(rfc8414, token.access_token);

// jose: offline validation as a foreign resource server would do it.
const metadata = config.serverMetadata();
const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
const verified = await jose.jwtVerify(basicToken.access_token, jwks, {
  issuer: metadata.issuer,
  audience: metadata.issuer,
  typ: 'at+jwt',
  algorithms: ['EdDSA', 'ES256', 'RS256'],
});

// A wrong secret: openid-client must surface tollgate's RFC 6749 §5.2 error.
let wrongSecretError = null;
try {
  const wrong = await client.discovery(issuer, process.env.TOLLGATE_CLIENT_ID, 'tgsec_wrong', undefined, {
    execute: [client.allowInsecureRequests],
  });
  await client.clientCredentialsGrant(wrong);
} catch (e) {
  wrongSecretError = { name: e.name, error: e.error ?? null, status: e.status ?? null };
}

console.log(
  JSON.stringify({
    server_metadata: metadata,
    rfc8414_issuer: rfc8414.serverMetadata().issuer,
    token: { ...token, access_token: undefined, expires_in: token.expiresIn() },
    groups_status: response.status,
    groups,
    basic_token: { scope: basicToken.scope, token_type: basicToken.token_type, expires_in: basicToken.expires_in },
    introspection,
    jose: { header: verified.protectedHeader, claims: verified.payload },
    wrong_secret_error: wrongSecretError,
  }),
);
