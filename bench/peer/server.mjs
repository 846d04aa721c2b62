// Benchmark peer: node-oidc-provider serving only the OAuth 2.0
// client_credentials grant, issuing RFC 9068 JWT access tokens signed with
// Ed25519 (JWS alg EdDSA), like tollgate does. See README.md.
//
// stdout carries exactly one line, "peer listening on http://127.0.0.1:PORT";
// everything oidc-provider prints (its notices use console.info, i.e. stdout)
// is sent to stderr instead.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

// oidc-provider reports development-mode notices through console.info (stdout)
// and warnings through console.warn (stderr). Keep stdout for the ready line.
// (Its import-time warnings already use console.warn.)
console.info = (...args) => console.error(...args);

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '18090', 10);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error(`invalid PORT: ${process.env.PORT}`);
  process.exit(2);
}
const ISSUER = `http://${HOST}:${PORT}`;

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = process.env.PEER_CLIENT_SECRET
  ?? 'bench-secret-0123456789abcdef0123456789abcdef';
const SCOPE = 'groups:read groups:write';
const RESOURCE = 'https://api.example.com';
const ACCESS_TOKEN_TTL = 3600;

// Fresh Ed25519 signing key per start; public half is served at /jwks.
const { privateKey } = generateKeyPairSync('ed25519');
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  alg: 'EdDSA',
  use: 'sig',
};

const resourceServer = {
  scope: SCOPE,
  audience: RESOURCE,
  accessTokenFormat: 'jwt',
  accessTokenTTL: ACCESS_TOKEN_TTL,
  jwt: { sign: { alg: 'EdDSA' } },
};

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      // oidc-provider registers exactly one auth method per client.
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
  ],
  // No openid / offline_access: this peer only does client credentials.
  scopes: SCOPE.split(' '),
  jwks: { keys: [signingJwk] },
  // Nothing here issues ID tokens, but client defaults must resolve to a key
  // in the keystore (the default is RS256, which we do not have).
  clientDefaults: {
    grant_types: ['client_credentials'],
    response_types: [],
    id_token_signed_response_alg: 'EdDSA',
  },
  // Not used by client_credentials; fixed so no random/default keys are involved.
  cookies: { keys: ['tollgate-bench-peer-cookie-key-not-secret'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return resourceServer;
      },
    },
  },
  ttl: {
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL,
  },
  clientBasedCORS: () => false,
  // Default in-memory adapter (no `adapter`): JWT access tokens are not stored,
  // so it holds nothing on this path.
});

provider.on('server_error', (_ctx, err) => {
  console.error('server_error', err);
});

const server = createServer(provider.callback());
server.on('error', (err) => {
  console.error(`listen failed: ${err.message}`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  process.stdout.write(`peer listening on ${ISSUER}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
