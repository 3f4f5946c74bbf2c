// A deliberately faulty OpenID Provider: one fault per run, in the spirit of the OpenID Foundation's
// relying-party tests. Plain node http plus `jose` (oidc-provider's own JOSE library), independent of the
// Python code it tests. It still enforces what a real provider does: PKCE S256, the registered redirect URI,
// client_secret_basic, one use per code.
// Usage: node faulty_provider.mjs MODE CLIENT_ID CLIENT_SECRET   -> prints "listening <issuer>"
// GET /_stats answers {"jwks_fetches": n, "token_requests": n}; GET /_reset?mode=M switches to another fault
// and forgets all state. RFC 9207 modes: iss_advertised (advertises authorization_response_iss_parameter_supported
// and names itself), iss_missing (advertises it, names nobody), iss_wrong (advertises it, names another issuer),
// iss_unadvertised_wrong (does not advertise it, names another issuer).
import http from 'node:http';
import crypto from 'node:crypto';
import { SignJWT, generateKeyPair, exportJWK, exportSPKI, base64url } from 'jose';

const [initialMode = 'valid', clientId = 'enclave', clientSecret = 'secret'] = process.argv.slice(2);
let mode = initialMode;
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const k1 = await generateKeyPair('RS256', { extractable: true });
const k2 = await generateKeyPair('RS256', { extractable: true });
const attacker = await generateKeyPair('RS256', { extractable: true });
const publicJwk = async (pair, kid) => ({ ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' });

let jwksFetches = 0;
let tokenRequests = 0;
const codes = new Map();
const ISS_ADVERTISED = new Set(['iss_advertised', 'iss_missing', 'iss_wrong']);
const ISS_SENT = { iss_advertised: () => issuer, iss_wrong: () => 'https://impostor.example', iss_unadvertised_wrong: () => 'https://impostor.example' };

async function jwks() {
  jwksFetches += 1;
  const good = await publicJwk(k1, 'k1');
  if (mode === 'rotation') {
    return { keys: jwksFetches === 1 ? [good] : [good, await publicJwk(k2, 'k2')] };
  }
  if (mode === 'unparseable_key') {
    return { keys: [{ kty: 'RSA', kid: 'broken', n: '%%%not-base64%%%', e: 'AQAB' }, { kty: 'XYZ', kid: 'k0' }, good] };
  }
  if (mode === 'only_unparseable_key') {
    return { keys: [{ kty: 'RSA', kid: 'k1', n: '%%%not-base64%%%', e: 'AQAB' }] };
  }
  return { keys: [good] };
}

function claimsFor(grant) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer, sub: `user-${grant.email}`, aud: clientId, iat: now, exp: now + 300, nonce: grant.nonce,
    email: grant.email, email_verified: true, name: grant.email.split('@')[0],
  };
  switch (mode) {
    case 'issuer': claims.iss = `${issuer}/someone-else`; break;
    case 'audience': claims.aud = 'another-client'; break;
    case 'azp_missing': claims.aud = [clientId, 'another-client']; break;
    case 'azp_multi_ok': claims.aud = [clientId, 'another-client']; claims.azp = clientId; break;
    case 'nonce': claims.nonce = 'not-the-nonce'; break;
    case 'iat': claims.iat = now + 3600; claims.exp = now + 7200; break;
    case 'iat_old': claims.iat = now - 3600; break;
    case 'expired': claims.iat = now - 4000; claims.exp = now - 3600; break;
    case 'nbf': claims.nbf = now + 3600; break;
    case 'sub': delete claims.sub; break;
    case 'email_unverified': claims.email_verified = false; break;
    default: break;
  }
  return claims;
}

async function idToken(grant) {
  const claims = claimsFor(grant);
  const encode = (value) => base64url.encode(JSON.stringify(value));
  switch (mode) {
    case 'alg_none':
      return `${encode({ alg: 'none', kid: 'k1' })}.${encode(claims)}.`;
    case 'hs256_pubkey': {
      // the classic key-confusion attack: HMAC keyed with the provider's public key (PEM)
      const secret = new TextEncoder().encode(await exportSPKI(k1.publicKey));
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
    }
    case 'bad_signature':
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(attacker.privateKey);
    case 'jwk_header': // a self-signed token carrying its own key: must never be trusted
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1', jwk: await exportJWK(attacker.publicKey) })
        .sign(attacker.privateKey);
    case 'jku_header':
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'evil', jku: `${issuer}/evil-jwks` })
        .sign(attacker.privateKey);
    case 'crit':
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1', crit: ['http://example.invalid/ext'], 'http://example.invalid/ext': true })
        .sign(k1.privateKey, { crit: { 'http://example.invalid/ext': true } });
    case 'unknown_kid':
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k9' }).sign(attacker.privateKey);
    case 'rotation':
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k2' }).sign(k2.privateKey);
    default:
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(k1.privateKey);
  }
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readForm(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return new URLSearchParams(data);
}

function clientAuthenticated(req) {
  const header = req.headers.authorization || '';
  if (!header.startsWith('Basic ')) return false;
  const [id, secret] = Buffer.from(header.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
  return id === clientId && secret === clientSecret;
}

server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer: mode === 'discovery_issuer' ? 'https://impostor.example' : issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        end_session_endpoint: `${issuer}/logout`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        ...(ISS_ADVERTISED.has(mode) ? { authorization_response_iss_parameter_supported: true } : {}),
      });
    }
    if (url.pathname === '/jwks') return send(res, 200, await jwks());
    if (url.pathname === '/evil-jwks') return send(res, 200, { keys: [await publicJwk(attacker, 'evil')] });
    if (url.pathname === '/_stats') return send(res, 200, { jwks_fetches: jwksFetches, token_requests: tokenRequests });
    if (url.pathname === '/_reset') {
      mode = url.searchParams.get('mode') || 'valid';
      jwksFetches = 0;
      tokenRequests = 0;
      codes.clear();
      return send(res, 200, { mode });
    }
    if (url.pathname === '/authorize') {
      const p = url.searchParams;
      const redirect = new URL(p.get('redirect_uri'));
      if (p.get('client_id') !== clientId || p.get('response_type') !== 'code'
          || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge') || !p.get('nonce')) {
        redirect.searchParams.set('error', 'invalid_request');
      } else {
        const code = crypto.randomBytes(16).toString('hex');
        codes.set(code, {
          email: p.get('login_hint') || 'alice@acme.test',
          nonce: p.get('nonce'),
          challenge: p.get('code_challenge'),
          redirect_uri: p.get('redirect_uri'),
        });
        redirect.searchParams.set('code', code);
      }
      redirect.searchParams.set('state', p.get('state') || '');
      if (ISS_SENT[mode]) redirect.searchParams.set('iss', ISS_SENT[mode]());
      res.writeHead(302, { location: redirect.toString() });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      tokenRequests += 1;
      const form = await readForm(req);
      if (!clientAuthenticated(req)) return send(res, 401, { error: 'invalid_client' });
      const grant = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      const verifier = form.get('code_verifier') || '';
      const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
      if (!grant || grant.redirect_uri !== form.get('redirect_uri') || grant.challenge !== challenge) {
        return send(res, 400, { error: 'invalid_grant' });
      }
      const accessToken = crypto.randomBytes(16).toString('hex');
      codes.set(`at:${accessToken}`, grant);
      return send(res, 200, {
        access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: await idToken(grant),
      });
    }
    if (url.pathname === '/userinfo') {
      const token = (req.headers.authorization || '').replace(/^Bearer /, '');
      const grant = codes.get(`at:${token}`);
      if (!grant) return send(res, 401, { error: 'invalid_token' });
      const claims = claimsFor(grant);
      return send(res, 200, {
        sub: mode === 'userinfo_sub' ? 'someone-else' : claims.sub, email: grant.email, email_verified: true,
      });
    }
    return send(res, 404, { error: 'not_found' });
  } catch (err) {
    console.error(err);
    return send(res, 500, { error: 'server_error' });
  }
});
console.log(`listening ${issuer}`);
