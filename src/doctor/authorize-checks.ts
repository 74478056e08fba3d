import { createHash, randomBytes, randomInt } from 'node:crypto';
import { clientProfiles, exampleRedirectUri, isFixedDocumentUrl, type ClientProfile } from '../clients/client-profiles.js';
import { jsonObject, probe, type ProbeResponse } from './http-probe.js';
import { fail, guarded, pass, type CheckRow } from './report.js';
import type { RegisteredProbeClient } from './registration-checks.js';
import { publicUrlMismatchFix, type DoctorTarget } from './target.js';

/** Where the gateway sent the browser after an authorization request. */
type AuthorizeOutcome =
  | { kind: 'sign-in'; location: URL }
  | { kind: 'refused'; error: string; description: string; status: number }
  | { kind: 'other'; status: number; location?: string };

interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

function s256Challenge(): string {
  return createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
}

/** The error page says "The sign-in request could not be completed: <description>." */
function errorPageDescription(html: string): string | undefined {
  return /could not be completed: ([^<]*?)\.?\s*<\//
    .exec(html)?.[1]
    ?.replace(/&#39;|&quot;|&amp;/g, (entity) => ({ '&#39;': "'", '&quot;': '"', '&amp;': '&' })[entity]!);
}

/** Plays the first hop of a browser sign-in: the authorization request, redirects not followed. */
async function authorize(target: DoctorTarget, request: AuthorizeRequest): Promise<AuthorizeOutcome> {
  const url = new URL(`${target.publicUrl}/authorize`);
  url.search = new URLSearchParams({
    client_id: request.clientId,
    response_type: 'code',
    redirect_uri: request.redirectUri,
    ...(request.codeChallenge ? { code_challenge: request.codeChallenge } : {}),
    ...(request.codeChallengeMethod ? { code_challenge_method: request.codeChallengeMethod } : {}),
    resource: target.resource,
    state: 'doctor',
  }).toString();
  return classify(target, await probe(url.toString()));
}

function classify(target: DoctorTarget, response: ProbeResponse): AuthorizeOutcome {
  const locationHeader = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && locationHeader) {
    const location = new URL(locationHeader, target.publicUrl);
    if (location.pathname.startsWith('/interaction/')) return { kind: 'sign-in', location };
    const error = location.searchParams.get('error');
    if (error)
      return { kind: 'refused', error, description: location.searchParams.get('error_description') ?? '', status: response.status };
    return { kind: 'other', status: response.status, location: locationHeader };
  }
  if (response.status >= 400) {
    const body = jsonObject(response);
    const description = typeof body?.error_description === 'string' ? body.error_description : (errorPageDescription(response.text) ?? '');
    const error = typeof body?.error === 'string' ? body.error : 'error page';
    return { kind: 'refused', error, description, status: response.status };
  }
  return { kind: 'other', status: response.status };
}

function describeRefusal(outcome: Extract<AuthorizeOutcome, { kind: 'refused' }>): string {
  const how = outcome.error === 'error page' ? `HTTP ${outcome.status} error page` : `refused with ${outcome.error}`;
  return outcome.description ? `${how}: ${outcome.description}` : how;
}

/**
 * The redirect URI a client sends with its metadata document: one without a template when it has
 * one, else its loopback callback on a random port (as Claude Code's callback server gets one:
 * the gateway must take any port).
 */
function documentRedirectUri(profile: ClientProfile): string {
  const fixed = profile.redirectUris.find((uri) => !/[{}]/.test(uri));
  if (fixed) return fixed;
  const anyPort = String(1024 + randomInt(64511));
  return exampleRedirectUri(profile.redirectUris[0]!.replace('{port}', anyPort));
}

async function checkMetadataDocumentClient(
  target: DoctorTarget,
  profile: ClientProfile,
  documentUrl: string,
  suffix: string,
): Promise<CheckRow> {
  const check = `CIMD ${profile.name}${suffix}`;
  const redirectUri = documentRedirectUri(profile);
  const withPort = profile.redirectUris.includes(redirectUri) ? '' : ` with ${redirectUri} (any loopback port)`;
  return guarded(check, target.publicUrl, async () => {
    const outcome = await authorize(target, {
      clientId: documentUrl,
      redirectUri,
      codeChallenge: s256Challenge(),
      codeChallengeMethod: 'S256',
    });
    if (outcome.kind === 'sign-in') {
      if (outcome.location.origin !== target.publicUrl) {
        return fail(
          check,
          `accepted, but the sign-in page is at ${outcome.location.origin}`,
          publicUrlMismatchFix('the authorization redirect', outcome.location.origin, target.publicUrl),
        );
      }
      return pass(check, `${documentUrl} accepted${withPort}: ${outcome.location.pathname.split('/').slice(0, 2).join('/')}/… sign-in`);
    }
    if (outcome.kind === 'other') {
      return fail(
        check,
        `HTTP ${outcome.status}${outcome.location ? ` to ${outcome.location}` : ''}, not the sign-in page`,
        'is a proxy in front answering /authorize itself? It must reach the gateway',
      );
    }
    const detail = describeRefusal(outcome);
    if (outcome.error === 'invalid_target') {
      return fail(
        check,
        detail,
        `the resource ${target.resource} is not one of the gateway's servers: check publicUrl in gateway.json and --server`,
      );
    }
    if (outcome.error === 'invalid_client' || /client/i.test(outcome.description)) {
      return fail(
        check,
        detail,
        `the gateway cannot use ${profile.name}'s metadata document: ` +
          "upgrade mcp-oauth-gateway (it pins Claude.ai's document; the others are fetched, their last good copy kept) " +
          `or allow it outbound https to ${new URL(documentUrl).host}`,
      );
    }
    return fail(check, detail, `grep the gateway log for ${documentUrl} to see why it refused ${profile.name}`);
  });
}

/** The document URLs a client presents as they are (no per-connector template), minus ones never seen in use. */
const probedDocuments = (profile: ClientProfile): string[] =>
  profile.clientIdMetadataDocuments.filter((url) => isFixedDocumentUrl(url) && !profile.unconfirmedDocuments?.includes(url));

/** Check 7: clients that identify themselves by a metadata document URL instead of registering. */
export async function metadataDocumentChecks(
  target: DoctorTarget,
  profiles: readonly ClientProfile[] = clientProfiles,
): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  for (const profile of profiles.filter((candidate) => candidate.registration.includes('cimd'))) {
    const documents = probedDocuments(profile);
    for (const documentUrl of documents) {
      const suffix = documents.length > 1 ? ` ${documentUrl}` : '';
      rows.push(await checkMetadataDocumentClient(target, profile, documentUrl, suffix));
    }
  }
  return rows;
}

/** A client to send PKCE-less requests as: a public one doctor registered, else a known metadata document. */
function pkceProbeClient(
  registered: readonly RegisteredProbeClient[],
  profiles: readonly ClientProfile[],
): (AuthorizeRequest & { name: string }) | undefined {
  const dcr = registered.find((client) => client.tokenEndpointAuthMethod === 'none') ?? registered[0];
  if (dcr) return { clientId: dcr.clientId, redirectUri: dcr.redirectUri, name: `the ${dcr.profile.name} test registration` };
  const cimd = profiles.find((profile) => probedDocuments(profile).length > 0);
  if (cimd)
    return {
      clientId: probedDocuments(cimd)[0]!,
      redirectUri: documentRedirectUri(cimd),
      name: `${cimd.name}'s metadata document`,
    };
  return undefined;
}

async function checkPkceRefusal(
  target: DoctorTarget,
  check: string,
  client: (AuthorizeRequest & { name: string }) | undefined,
  pkce: Pick<AuthorizeRequest, 'codeChallenge' | 'codeChallengeMethod'>,
): Promise<CheckRow> {
  if (!client)
    return fail(check, 'no client to test with: registration and metadata documents both failed', 'fix the DCR and CIMD rows above first');
  return guarded(check, target.publicUrl, async () => {
    const outcome = await authorize(target, { clientId: client.clientId, redirectUri: client.redirectUri, ...pkce });
    if (outcome.kind === 'sign-in') {
      return fail(
        check,
        'went on to the sign-in page',
        'upgrade mcp-oauth-gateway: OAuth 2.1 requires PKCE with S256 from every client; without it a stolen code can be redeemed',
      );
    }
    if (outcome.kind === 'refused' && /pkce|code_challenge/i.test(`${outcome.error} ${outcome.description}`)) {
      return pass(check, describeRefusal(outcome));
    }
    const what = outcome.kind === 'refused' ? describeRefusal(outcome) : `HTTP ${outcome.status}`;
    return fail(
      check,
      `${what}: refused for another reason, so PKCE was not tested (client: ${client.name})`,
      'fix the rows above, then run doctor again',
    );
  });
}

/** Check 8: an authorization request without PKCE, or with the `plain` method, never reaches sign-in. */
export async function pkceChecks(
  target: DoctorTarget,
  registered: readonly RegisteredProbeClient[],
  profiles: readonly ClientProfile[] = clientProfiles,
): Promise<CheckRow[]> {
  const client = pkceProbeClient(registered, profiles);
  return [
    await checkPkceRefusal(target, 'PKCE required', client, {}),
    await checkPkceRefusal(target, 'PKCE plain refused', client, {
      codeChallenge: randomBytes(32).toString('base64url'),
      codeChallengeMethod: 'plain',
    }),
  ];
}
