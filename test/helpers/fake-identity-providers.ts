import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './ports.js';

export interface FakeUser {
  email: string;
  email_verified: boolean;
  name?: string;
  hd?: string;
  groups?: string[];
}

export interface FakeOidcOptions {
  /**
   * oidc-provider's default, spec-strict mode (OpenID Connect Core §5.4): when an access token is
   * issued, scope-requested claims (email, groups…) are served only from UserInfo, never in the ID token.
   */
  claimsOnlyInUserInfo?: boolean;
  /** A UserInfo answer about someone else: the real endpoint's response with its `sub` replaced. */
  userInfoSub?: string;
}

/**
 * A second, real oidc-provider instance playing Google (and any OIDC provider): discovery, code
 * flow with PKCE, signed ID tokens with email, email_verified, hd and groups. Its stock developer
 * login page accepts any login name; the name picks one of `users`.
 */
export async function startFakeOidcProvider(
  users: Record<string, FakeUser>,
  clients: Array<{ client_id: string; client_secret: string; redirect_uris: string[] }>,
  options: FakeOidcOptions = {},
): Promise<{ issuer: string; userInfoCalls: number; close(): Promise<void> }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'] })),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'hd', 'groups'] },
    // true is oidc-provider's own default; false puts every granted claim in the ID token as well.
    conformIdTokenClaims: options.claimsOnlyInUserInfo === true,
    features: { devInteractions: { enabled: true }, userinfo: { enabled: true } },
    pkce: { required: () => true },
    findAccount: async (_ctx, id) => {
      const user = users[id];
      if (!user) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...user }) };
    },
    cookies: { keys: ['fake-idp-cookie-key'] },
  });
  const running = { issuer, userInfoCalls: 0, close: async () => {} };
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/me' || ctx.status !== 200) return;
    running.userInfoCalls += 1;
    if (options.userInfoSub) ctx.body = { ...(ctx.body as object), sub: options.userInfoSub };
  });
  const server = createServer(provider.callback());
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  running.close = () => new Promise((r) => server.close(() => r()));
  return running;
}

export interface FakeGithubUser {
  login: string;
  name?: string;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
  orgs: string[];
  teams: Array<{ org: string; slug: string }>;
}

/**
 * GitHub's servers cannot be reached from here, so this stand-in implements exactly the GitHub
 * endpoints the gateway uses: the OAuth authorize and access_token endpoints (with PKCE) and the
 * REST API's /user, /user/emails, /user/orgs and /user/teams. `signInAs` picks who "logs in".
 */
export async function startFakeGithub(
  clientId: string,
  clientSecret: string,
): Promise<{ url: string; apiUrl: string; signInAs(user: FakeGithubUser): void; close(): Promise<void> }> {
  let current: FakeGithubUser | undefined;
  const codes = new Map<string, { user: FakeGithubUser; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, FakeGithubUser>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://github.invalid');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/login/oauth/authorize') {
      if (url.searchParams.get('client_id') !== clientId || !current) return json(400, { error: 'bad client or no user' });
      const code = randomBytes(12).toString('hex');
      codes.set(code, {
        user: current,
        challenge: url.searchParams.get('code_challenge') ?? '',
        redirectUri: url.searchParams.get('redirect_uri') ?? '',
      });
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const basic = req.headers.authorization?.startsWith('Basic ')
          ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':').map(decodeURIComponent)
          : [];
        const id = form.get('client_id') ?? basic[0];
        const secret = form.get('client_secret') ?? basic[1];
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifierOk =
          grant &&
          createHash('sha256')
            .update(form.get('code_verifier') ?? '')
            .digest('base64url') === grant.challenge;
        if (id !== clientId || secret !== clientSecret || !grant || !verifierOk || form.get('redirect_uri') !== grant.redirectUri)
          return json(400, { error: 'bad_verification_code' });
        const token = `gho_${randomBytes(16).toString('hex')}`;
        tokens.set(token, grant.user);
        json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email,read:org' });
      });
      return;
    }
    const user = tokens.get(req.headers.authorization?.replace(/^Bearer /, '') ?? '');
    if (!user) return json(401, { message: 'Bad credentials' });
    switch (url.pathname) {
      case '/api/user':
        return json(200, { login: user.login, name: user.name ?? null });
      case '/api/user/emails':
        return json(200, user.emails);
      case '/api/user/orgs':
        return json(
          200,
          user.orgs.map((login) => ({ login })),
        );
      case '/api/user/teams':
        return json(
          200,
          user.teams.map((t) => ({ slug: t.slug, organization: { login: t.org } })),
        );
      default:
        return json(404, { message: 'Not Found' });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    apiUrl: `${url}/api`,
    signInAs: (user) => {
      current = user;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
