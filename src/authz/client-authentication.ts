/**
 * How clients authenticate at /token and /revoke.
 *
 * RFC 7523 client assertions (`private_key_jwt`, `client_secret_jwt`): what the gateway requires
 * beyond oidc-provider's own checks (signature, `iss` = client_id, `exp` present, `jti` once).
 * oidc-provider also accepts the calling endpoint's URL and audience lists with one match; here
 * `aud` is exactly the issuer or the token endpoint, `exp` is near, and `sub` is the client.
 */
import { errors, type Client, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

/** Seconds of clock difference tolerated with clients (oidc-provider's `clockTolerance`). */
export const CLOCK_TOLERANCE = 15;

/** Longest an assertion may still be valid for, in seconds: it is made for one request. */
export const MAX_ASSERTION_LIFETIME = 5 * 60;

export interface AssertionFacts {
  claims: Record<string, unknown>;
  header: Record<string, unknown>;
  clientId: string;
  authMethod: string;
  issuer: string;
  tokenEndpoint: string;
  /** Epoch seconds. */
  now: number;
  clockTolerance: number;
}

/** Why the assertion is refused, or undefined. */
export function clientAssertionProblem(facts: AssertionFacts): string | undefined {
  const { claims, header, clientId } = facts;
  if (claims.sub !== clientId) return 'sub (JWT subject) must be the client_id';
  if (claims.iss !== clientId) return 'iss (JWT issuer) must be the client_id';
  const accepted = [facts.issuer, facts.tokenEndpoint];
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (audiences.length === 0 || !audiences.every((aud) => accepted.includes(aud as string))) {
    return `aud (JWT audience) must be ${facts.issuer} or ${facts.tokenEndpoint}`;
  }
  if (typeof claims.exp !== 'number' || claims.exp > facts.now + MAX_ASSERTION_LIFETIME + facts.clockTolerance) {
    return `exp must be at most ${MAX_ASSERTION_LIFETIME} seconds ahead`;
  }
  const alg = typeof header.alg === 'string' ? header.alg : '';
  if (facts.authMethod === 'private_key_jwt' && (alg === '' || alg === 'none' || alg.startsWith('HS'))) {
    return 'private_key_jwt assertions must be signed with an asymmetric algorithm';
  }
  return undefined;
}

/** oidc-provider's hook, called after it verified the signature and before it records the `jti`. */
export const assertJwtClientAuthClaimsAndHeader: NonNullable<Configuration['assertJwtClientAuthClaimsAndHeader']> = async (
  ctx,
  claims,
  header,
  client,
) => {
  const problem = clientAssertionProblem({
    claims: claims as Record<string, unknown>,
    header: header as Record<string, unknown>,
    clientId: client.clientId,
    authMethod: client.clientAuthMethod ?? '',
    issuer: ctx.oidc.issuer,
    tokenEndpoint: ctx.oidc.urlFor('token'),
    now: Math.floor(Date.now() / 1000),
    clockTolerance: CLOCK_TOLERANCE,
  });
  if (problem) throw new errors.InvalidClientAuth(problem);
};

/**
 * A metadata document that declares `private_key_jwt` but lists `none` among its
 * `token_endpoint_auth_methods_supported` (some of ChatGPT's do) allows either: a request without
 * any client authentication is then taken as `none`. oidc-provider builds a fresh client from the
 * document for each request (features.clientIdMetadataDocument.allowClient sees it), so this
 * changes only the request at hand, never what a stored or dynamically registered client may do.
 */
export function acceptNoneWhereDocumentAllows(ctx: KoaContextWithOIDC | undefined, client: Client): void {
  if (!ctx?.oidc || client.clientAuthMethod !== 'private_key_jwt') return;
  const supported = client.metadata().token_endpoint_auth_methods_supported;
  if (!Array.isArray(supported) || !supported.includes('none')) return;
  const params = ctx.oidc.params ?? {};
  const presented = params.client_assertion ?? params.client_secret ?? ctx.headers.authorization;
  if (presented !== undefined) return;
  // What the document declared stays readable (not enumerable: metadata() leaves it out), so the
  // last good copy kept of it (last-good-documents.ts) is the document, not this request's view.
  Object.defineProperty(client, DECLARED_AUTH_METHOD, { value: client.clientAuthMethod, configurable: true });
  (client as { tokenEndpointAuthMethod: string }).tokenEndpointAuthMethod = 'none';
}

const DECLARED_AUTH_METHOD = Symbol('token_endpoint_auth_method as the document declared it');

/** The client's metadata as its document declared it, before acceptNoneWhereDocumentAllows changed it for one request. */
export function declaredMetadata(client: Client): Record<string, unknown> {
  const metadata = client.metadata() as Record<string, unknown>;
  const declared = (client as unknown as Record<symbol, unknown>)[DECLARED_AUTH_METHOD];
  return declared === undefined ? metadata : { ...metadata, token_endpoint_auth_method: declared };
}
