// A local OpenID Provider for the integration tests and `make run-auth`
// (panva/oidc-provider, a certified implementation). Never for production:
// its clients and secrets are public, its keys live in memory.
//
// Env: PORT (required), AUDIENCE (default urn:backend:api), KID_PREFIX
// (default: "dev-" and the start time, so each start has new kids). Keys
// are generated at start, with kids `<KID_PREFIX>-rs256` and
// `<KID_PREFIX>-es256`: restarting with another prefix is a key rotation
// (the same kid with a new key would not be refetched). Prints
// `ready <issuer>` once listening; exits 3 when the port is taken (the
// caller picks another).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const audience = process.env.AUDIENCE || 'urn:backend:api';
const prefix = process.env.KID_PREFIX || `dev-${Date.now().toString(36)}`;
const issuer = `http://127.0.0.1:${port}`;
const scope = 'users:read users:write webhooks:read webhooks:write';

const jwk = (type, options, kid, alg) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  kid, alg, use: 'sig',
});
const keys = [
  jwk('rsa', { modulusLength: 2048 }, `${prefix}-rs256`, 'RS256'),
  jwk('ec', { namedCurve: 'P-256' }, `${prefix}-es256`, 'ES256'),
];
const client = (id, alg) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  id_token_signed_response_alg: alg,
});

const provider = new Provider(issuer, {
  jwks: { keys },
  // Swagger UI on a local port (the API's /docs) may call the token endpoint.
  clientBasedCORS: (_ctx, origin) => /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin),
  clients: [client('backend-cli', 'RS256'), client('backend-cli-es256', 'ES256')],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      // RS256 unless the client asks for another alg for its ID tokens.
      getResourceServerInfo: (_ctx, resource, c) => {
        if (resource !== audience) throw new Provider.errors.InvalidTarget();
        return {
          scope,
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: c.idTokenSignedResponseAlg } },
        };
      },
    },
  },
});

const server = provider.listen(port, '127.0.0.1');
server.on('listening', () => console.log(`ready ${issuer}`));
server.on('error', (e) => {
  console.error(`oidc-provider: ${e.message}`);
  process.exit(e.code === 'EADDRINUSE' ? 3 : 1);
});
process.on('SIGTERM', () => process.exit(0));
