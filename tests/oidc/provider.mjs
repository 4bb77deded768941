// A real OpenID Connect provider for Tessera's single sign-on tests:
// panva's oidc-provider (OpenID Certified), installed by
//   npm install --prefix tests/browser-deps --no-audit --no-fund oidc-provider@8
// Its own development sign-in pages (devInteractions) take any login and
// password; the login names the account.
//
// Configured by the environment:
//   OIDC_PROVIDER_MODULE  path of oidc-provider's lib/index.js
//   OIDC_CONFIG           JSON: { clientId, clientSecret, redirectUri,
//                                 idTokenTtl (seconds, optional),
//                                 accounts: { login: { email, email_verified,
//                                 groups, preferred_username, name, sub } } }
// Listens on a free port of 127.0.0.1 and prints `LISTENING <issuer>`; prints
// `ISSUED <json>` with the tokens of every successful token request, so that a
// test can look for them where they must not be.

import http from 'node:http';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(
  pathToFileURL(process.env.OIDC_PROVIDER_MODULE).href
);
const config = JSON.parse(process.env.OIDC_CONFIG);
const accounts = config.accounts || {};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: config.clientId,
        client_secret: config.clientSecret,
        redirect_uris: [config.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: true } },
    // The claims go into the ID token itself (Tessera reads no userinfo).
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name', 'groups'],
    },
    cookies: { keys: ['tessera-test-provider-cookie-key'] },
    ttl: {
      IdToken: config.idTokenTtl || 3600,
      AccessToken: 3600,
      AuthorizationCode: 600,
      Interaction: 3600,
      Session: 3600,
      Grant: 3600,
    },
    // No consent page: the grant is made at once, as a first-party provider does.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        return ctx.oidc.provider.Grant.find(grantId);
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    async findAccount(ctx, id) {
      const claims = accounts[id] || {};
      return {
        accountId: id,
        async claims() {
          return { ...claims, sub: claims.sub || id };
        },
      };
    },
  });
  provider.on('grant.success', (ctx) => {
    const { access_token: accessToken, id_token: idToken } = ctx.body || {};
    console.log(`ISSUED ${JSON.stringify({ access_token: accessToken, id_token: idToken })}`);
  });
  provider.on('server_error', (ctx, err) => {
    console.log(`SERVER_ERROR ${err && err.stack}`);
  });
  server.on('request', provider.callback());
  console.log(`LISTENING ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
