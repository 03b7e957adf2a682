// The upstream identity provider of the single sign-on tests: node's
// oidc-provider on loopback, with one confidential client for devauth and a
// one-step sign-in page (type an account's email, press Sign in).
//
//   OIDC_PROVIDER_DIR=<dir holding node_modules/oidc-provider> \
//   IDP_ACCOUNTS='[{"email":"…","email_verified":true,"name":"…"}]' \
//   IDP_REDIRECT_URIS='http://127.0.0.1:P/login/sso/team/callback …' \
//   node idp.mjs PORT [MIXUP_PORT]
//
// Every start makes a new RSA signing key (so a restart on the same port is
// a key rotation). With MIXUP_PORT it also serves, there, a discovery
// document that names itself as the issuer but points at this provider's
// endpoints and leaves out `authorization_response_iss_parameter_supported`:
// a client trusting it is handed ID tokens from another issuer.
// Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
import http from 'node:http';
import path from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const dir = process.env.OIDC_PROVIDER_DIR;
if (!dir) {
  console.error('set OIDC_PROVIDER_DIR to the directory holding node_modules/oidc-provider');
  process.exit(2);
}
const port = Number(process.argv[2] || 0);
const mixupPort = process.argv[3] ? Number(process.argv[3]) : null;
const entry = path.join(dir, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider } = await import(pathToFileURL(entry).href);

const accounts = new Map();
for (const account of JSON.parse(process.env.IDP_ACCOUNTS || '[]')) {
  // The subject is stable per email, as an IdP's user id is.
  accounts.set(account.sub || `sub-${account.email}`, account);
}
const byEmail = (email) =>
  [...accounts.entries()].find(([, a]) => a.email.toLowerCase() === email.trim().toLowerCase());

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = privateKey.export({ format: 'jwk' });
jwk.kid = randomBytes(8).toString('hex');
jwk.use = 'sig';
jwk.alg = 'RS256';

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'devauth',
      client_secret: process.env.IDP_CLIENT_SECRET || 'devauth-test-secret',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: (process.env.IDP_REDIRECT_URIS || '').split(/\s+/).filter(Boolean),
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // Scope claims in the ID token too, as most providers put them.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
  },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: account.email,
          email_verified: account.email_verified !== false,
          name: account.name || account.email,
          groups: account.groups || [],
        };
      },
    };
  },
});
provider.proxy = false;

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The sign-in page: one form, an email, no password (the tests are about
// what devauth does with the answer).
async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Team IdP</title>
<style>body{font:16px system-ui;max-width:24rem;margin:4rem auto;padding:0 1rem}
input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0 1rem}</style></head>
<body><h1>Team IdP</h1><p>Sign in to continue to ${escape(details.params.client_id)}.</p>
<form method="post" action="/interaction/${escape(uid)}"><label for="login">Email</label>
<input id="login" name="login" autocomplete="username" autofocus>
<button type="submit" id="idp-submit">Sign in</button></form></body></html>`);
    return;
  }
  let body = '';
  for await (const chunk of req) body += chunk;
  const login = new URLSearchParams(body).get('login') || '';
  const found = byEmail(login);
  if (!found) {
    res.statusCode = 401;
    res.setHeader('content-type', 'text/plain');
    res.end(`no account ${login}`);
    return;
  }
  const [accountId] = found;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([^/?]+)/.exec(req.url);
  if (match) {
    interaction(req, res, match[1]).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

let mixup = null;
if (mixupPort !== null) {
  mixup = http.createServer(async (req, res) => {
    if (!req.url.startsWith('/.well-known/openid-configuration')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const real = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());
    real.issuer = `http://127.0.0.1:${mixup.address().port}`;
    delete real.authorization_response_iss_parameter_supported;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(real));
  });
  mixup.listen(mixupPort, '127.0.0.1', () => {
    console.log(`mixup on http://127.0.0.1:${mixup.address().port}`);
  });
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (mixup) mixup.close();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
