// A real OpenID Provider for the demo and the tests: node `oidc-provider` 8.8.1 on a loopback port.
// Its development login screen accepts any login; the login is taken as the user's email address.
// Usage: node enclave/web/dev_oidc_provider.mjs CONFIG_JSON   where CONFIG_JSON = {"port": 0, "client_id": ..., "client_secret": ...,
//   "redirect_uris": [...], "post_logout_redirect_uris": [...], "groups": {"email": ["group", ...]}}
// Prints "listening <issuer>" once it accepts connections.
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const server = http.createServer();
await new Promise((resolve) => server.listen(config.port || 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris || [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true, methods: ['S256'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  findAccount: async (_ctx, id) => ({
    accountId: id,
    async claims() {
      return {
        sub: id,
        email: id,
        email_verified: true,
        name: id.split('@')[0],
        groups: (config.groups || {})[id] || [],
      };
    },
  }),
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: [Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex')] },
  jwks: { keys: [signingKey] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());
console.log(`listening ${issuer}`);
