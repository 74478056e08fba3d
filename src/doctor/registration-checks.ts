import { clientProfiles, exampleRedirectUri, type ClientProfile } from '../clients/client-profiles.js';
import { jsonObject, oauthError, probe, type ProbeResponse } from './http-probe.js';
import { fail, guarded, pass, type CheckRow } from './report.js';
import type { DoctorTarget } from './target.js';

/** A redirect URI no gateway may accept: plain http to a host that is not this machine. */
export const HOSTILE_REDIRECT_URI = 'http://evil.example/cb';

/** A client doctor registered, for the authorization checks that need one (never its secret). */
export interface RegisteredProbeClient {
  profile: ClientProfile;
  clientId: string;
  redirectUri: string;
  tokenEndpointAuthMethod: string;
}

interface Registration {
  profile: ClientProfile;
  method: string;
  redirectUris: string[];
}

/** One registration per client profile and auth method it uses, with all its redirect URIs (templates filled in). */
function registrationsToTry(profiles: readonly ClientProfile[]): Registration[] {
  return profiles
    .filter((profile) => profile.registration.includes('dcr'))
    .flatMap((profile) =>
      profile.tokenEndpointAuthMethods.map((method) => ({ profile, method, redirectUris: profile.redirectUris.map(exampleRedirectUri) })),
    );
}

function register(target: DoctorTarget, metadata: Record<string, unknown>): Promise<ProbeResponse> {
  return probe(`${target.publicUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(metadata),
  });
}

function rateLimitedFix(response: ProbeResponse): string {
  const wait = response.headers.get('retry-after');
  return (
    `wait ${wait ? `${wait} s` : 'a while'} and run doctor again: ` +
    'rateLimits.register in gateway.json limits registrations per IP (doctor makes a few each run)'
  );
}

/** The fix for a registration the gateway did not take, by how it answered. */
function refusedRegistrationFix(response: ProbeResponse, registration: Registration): string {
  if (response.status === 429) return rateLimitedFix(response);
  if (response.status === 404 || response.status === 405)
    return 'dynamic client registration is not reachable: a proxy in front must forward POST /register to the gateway';
  return (
    `${registration.profile.name} cannot connect until the gateway accepts this registration ` +
    `(https or loopback redirect URIs, ${registration.method}); grep the gateway log for "register.error"`
  );
}

function sameList(a: unknown, b: readonly string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((item, index) => item === b[index]);
}

async function checkRegistration(target: DoctorTarget, registration: Registration, registered: RegisteredProbeClient[]): Promise<CheckRow> {
  const { profile, method, redirectUris } = registration;
  const check = `DCR ${profile.name} (${method})`;
  return guarded(check, target.publicUrl, async () => {
    const response = await register(target, {
      client_name: `mcp-oauth-gateway doctor (${profile.name})`,
      redirect_uris: redirectUris,
      token_endpoint_auth_method: method,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    // Only named fields are read from the answer: it holds client_secret, which is never printed.
    const body = jsonObject(response);
    if (response.status !== 201 || !body) {
      return fail(
        check,
        oauthError(response) ? `HTTP ${response.status} (${oauthError(response)})` : `HTTP ${response.status}`,
        refusedRegistrationFix(response, registration),
      );
    }
    const problems: string[] = [];
    if (typeof body.client_id !== 'string') problems.push('no client_id');
    if (!sameList(body.redirect_uris, redirectUris)) problems.push(`redirect_uris came back as ${JSON.stringify(body.redirect_uris)}`);
    if (body.token_endpoint_auth_method !== method)
      problems.push(`token_endpoint_auth_method came back as ${JSON.stringify(body.token_endpoint_auth_method)}`);
    if (method !== 'none' && typeof body.client_secret !== 'string') problems.push('no client_secret for a confidential client');
    if (problems.length) {
      return fail(
        check,
        `201, but ${problems.join('; ')}`,
        `${profile.name} compares what it registered with what comes back: the gateway (or a proxy rewriting bodies) must echo it exactly`,
      );
    }
    registered.push({ profile, clientId: body.client_id as string, redirectUri: redirectUris[0]!, tokenEndpointAuthMethod: method });
    return pass(
      check,
      `201, ${redirectUris.length} redirect URI(s) echoed exactly${method === 'none' ? '' : ', secret issued (not shown)'}`,
    );
  });
}

/** Open registration is safe only because redirect URIs are restricted; make sure they are. */
async function checkHostileRedirectRefused(target: DoctorTarget): Promise<CheckRow> {
  const check = `DCR refuses ${HOSTILE_REDIRECT_URI}`;
  return guarded(check, target.publicUrl, async () => {
    const response = await register(target, {
      client_name: 'mcp-oauth-gateway doctor (hostile redirect)',
      redirect_uris: [HOSTILE_REDIRECT_URI],
      token_endpoint_auth_method: 'none',
    });
    const error = jsonObject(response)?.error;
    if (response.status === 400 && error === 'invalid_redirect_uri') return pass(check, '400 invalid_redirect_uri');
    if (response.status >= 200 && response.status < 300) {
      return fail(
        check,
        `HTTP ${response.status}: registered`,
        'upgrade mcp-oauth-gateway: anyone could register a client that receives codes in clear at any host; ' +
          'redirect URIs must be https or loopback http',
      );
    }
    if (response.status === 429) return fail(check, 'HTTP 429: rate limited before the redirect URI was judged', rateLimitedFix(response));
    return fail(
      check,
      `HTTP ${response.status}${typeof error === 'string' ? ` (${error})` : ''} instead of 400 invalid_redirect_uri`,
      "expected the gateway's RFC 7591 answer: is a proxy in front answering /register itself?",
    );
  });
}

/** Check 6: each client's dynamic registration as it sends it, then a hostile one. */
export async function registrationChecks(
  target: DoctorTarget,
  profiles: readonly ClientProfile[] = clientProfiles,
): Promise<{ rows: CheckRow[]; registered: RegisteredProbeClient[] }> {
  const registrations = registrationsToTry(profiles);
  const registered: RegisteredProbeClient[] = [];
  const rows = await Promise.all(registrations.map((registration) => checkRegistration(target, registration, registered)));
  rows.push(await checkHostileRedirectRefused(target));
  // They finish in any order; later checks pick "the first" one, so keep the profiles' order.
  const rank = (client: RegisteredProbeClient) =>
    registrations.findIndex((r) => r.profile === client.profile && r.method === client.tokenEndpointAuthMethod);
  return { rows, registered: registered.sort((a, b) => rank(a) - rank(b)) };
}
