// A real OpenID Provider (node `oidc-provider` 8.8.1) whose accounts a test can change while sessions live:
// refresh tokens, RP-initiated logout and back-channel logout (the provider POSTs signed logout tokens to the
// client's backchannel_logout_uri), RFC 9207 `iss` in every authorization response. Its development login
// screen accepts any login; the login is the account's subject (`sub`).
// Usage: node managed_provider.mjs CONFIG_JSON, CONFIG_JSON = {"client_id", "client_secret", "redirect_uris",
//   "post_logout_redirect_uris", "backchannel_logout_uri" (optional), "refresh_tokens": bool,
//   "accounts": {"<login>": {"email", "email_verified", "groups"}}}   (a login not listed: email = login)
// Test-only controls (loopback): POST /_admin/account {"login", "email"?, "groups"?, "disabled"?} changes an
// account (a disabled account is not found: its refresh tokens stop working); GET /_admin/backchannel lists
// the back-channel deliveries ({"ok": bool, "sid"}). Prints "listening <issuer>" once it accepts connections.
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const accounts = config.accounts || {};
const disabled = new Set();
const deliveries = [];
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'managed-rs256', alg: 'RS256', use: 'sig' };

const client = {
  client_id: config.client_id,
  client_secret: config.client_secret,
  redirect_uris: config.redirect_uris,
  post_logout_redirect_uris: config.post_logout_redirect_uris || [],
  grant_types: config.refresh_tokens ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};
if (config.backchannel_logout_uri) {
  client.backchannel_logout_uri = config.backchannel_logout_uri;
  client.backchannel_logout_session_required = true;
}

const provider = new Provider(issuer, {
  clients: [client],
  pkce: { required: () => true, methods: ['S256'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  // a refresh token for every code grant of a client allowed the grant (Keycloak's behaviour), no
  // offline_access needed
  issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
  findAccount: async (_ctx, id) => {
    if (disabled.has(id)) return undefined;
    const account = accounts[id] || {};
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: account.email || id,
          email_verified: account.email_verified !== false,
          name: id.split('@')[0],
          groups: account.groups || [],
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  cookies: { keys: [Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex')] },
  jwks: { keys: [signingKey] },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600,
    RefreshToken: 3600,
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.on('backchannel.success', (_ctx, _client, _account, sid) => deliveries.push({ ok: true, sid }));
provider.on('backchannel.error', (_ctx, err, _client, _account, sid) => deliveries.push({ ok: false, sid, error: String(err) }));

const callback = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/_admin/backchannel') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(deliveries));
  }
  if (url.pathname === '/_admin/account' && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const change = JSON.parse(body);
    const account = accounts[change.login] || (accounts[change.login] = {});
    for (const key of ['email', 'email_verified', 'groups']) if (key in change) account[key] = change[key];
    if (change.disabled === true) disabled.add(change.login);
    if (change.disabled === false) disabled.delete(change.login);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ login: change.login, ...account, disabled: disabled.has(change.login) }));
  }
  return callback(req, res);
});
console.log(`listening ${issuer}`);
