// A real OpenID Connect provider for Countersign's company sign-in tests (oidc-provider on Node).
//
//   node tests/oidc/server.js PORT REDIRECT_URI
//
// One confidential client (client_id "countersign", secret "countersign-test-secret") that may
// redirect to REDIRECT_URI (the app's /oauth2callback). The provider's own development pages
// (devInteractions) ask for a login name (any password) and a consent click. The accounts below
// carry a `groups` claim, put into the ID token itself (conformIdTokenClaims: false), which is
// what Streamlit's st.user shows. Prints "ready <issuer>" once it listens.
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
if (!port || !redirectUri) {
  console.error('usage: node server.js PORT REDIRECT_URI');
  process.exit(2);
}
const issuer = `http://localhost:${port}`;

// Login names at this provider. `rita` shares her name with the demo's local reviewer (a company
// account that must never take that local account over).
const ACCOUNTS = {
  riley: { name: 'Riley Reviewer', email: 'riley@example.com', groups: ['staff', 'cs-reviewers'] },
  adam: { name: 'Adam Admin', email: 'adam@example.com', groups: ['cs-admins', 'cs-reviewers'] },
  mark: { name: 'Mark Marketer', email: 'mark@example.com', groups: ['cs-marketing'] },
  nora: { name: 'Nora Nogroup', email: 'nora@example.com', groups: ['staff'] },
  rita: { name: 'Rita Elsewhere', email: 'rita@example.com', groups: ['cs-reviewers'] },
};

const configuration = {
  clients: [
    {
      client_id: 'countersign',
      client_secret: 'countersign-test-secret',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, sub) {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: sub, email_verified: true, ...account };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
