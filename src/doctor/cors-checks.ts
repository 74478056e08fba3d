import { clientProfiles, type ClientProfile } from '../clients/client-profiles.js';
import { mcpPath, protectedResourceMetadataUrl } from '../config/server-names.js';
import { headerItems, probe, type ProbeResponse } from './http-probe.js';
import { fail, guarded, pass, type CheckRow } from './report.js';
import type { DoctorTarget } from './target.js';

/** Methods a browser sends after a preflight without needing them in Access-Control-Allow-Methods. */
const SAFELISTED_METHODS = new Set(['GET', 'HEAD', 'POST']);

const STRIPPED_FIX =
  'a proxy in front strips CORS headers or answers OPTIONS itself: ' +
  'pass OPTIONS requests and Access-Control-* headers through to the gateway';

/** The path (no origin) of the server's RFC 9728 metadata. */
const resourceMetadataPath = (target: DoctorTarget): string => protectedResourceMetadataUrl('', encodeURIComponent(target.server));

interface Preflight {
  /** The row's name without the client suffix. */
  name: string;
  path: string;
  method: string;
  headers: string[];
}

/**
 * What MCP Inspector's browser sends before each call (the MCP SDK adds MCP-Protocol-Version to
 * metadata requests, so even those GETs are preflighted).
 */
function preflightsFor(target: DoctorTarget): Preflight[] {
  return [
    {
      name: 'CORS preflight AS metadata',
      path: '/.well-known/oauth-authorization-server',
      method: 'GET',
      headers: ['mcp-protocol-version'],
    },
    {
      name: 'CORS preflight resource metadata',
      path: resourceMetadataPath(target),
      method: 'GET',
      headers: ['mcp-protocol-version'],
    },
    { name: 'CORS preflight /register', path: '/register', method: 'POST', headers: ['content-type', 'authorization'] },
    { name: 'CORS preflight /token', path: '/token', method: 'POST', headers: ['content-type', 'authorization'] },
  ];
}

function originAllowed(response: ProbeResponse, origin: string): boolean {
  const allowed = response.headers.get('access-control-allow-origin');
  return allowed === '*' || allowed === origin;
}

/** Why a browser would block the request after this preflight answer (the Fetch standard's rules); empty when it would not. */
function preflightProblems(response: ProbeResponse, origin: string, method: string, headers: string[]): string[] {
  if (response.status < 200 || response.status > 299) return [`OPTIONS answered HTTP ${response.status}`];
  const problems: string[] = [];
  const allowOrigin = response.headers.get('access-control-allow-origin');
  if (!originAllowed(response, origin))
    problems.push(allowOrigin ? `Access-Control-Allow-Origin is ${allowOrigin}` : 'no Access-Control-Allow-Origin');
  const methods = headerItems(response.headers, 'access-control-allow-methods');
  if (!SAFELISTED_METHODS.has(method) && !methods.includes(method.toLowerCase()) && !methods.includes('*'))
    problems.push(`${method} not in Access-Control-Allow-Methods`);
  const allowHeaders = headerItems(response.headers, 'access-control-allow-headers');
  // `*` covers every header except Authorization, which must be named.
  const missing = headers.filter((header) => !allowHeaders.includes(header) && !(allowHeaders.includes('*') && header !== 'authorization'));
  if (missing.length) problems.push(`Access-Control-Allow-Headers lacks ${missing.join(', ')}`);
  return problems;
}

async function checkPreflight(target: DoctorTarget, origin: string, preflight: Preflight, suffix: string): Promise<CheckRow> {
  const check = `${preflight.name}${suffix}`;
  return guarded(check, target.publicUrl, async () => {
    const response = await probe(`${target.publicUrl}${preflight.path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': preflight.method, 'access-control-request-headers': preflight.headers.join(',') },
    });
    const problems = preflightProblems(response, origin, preflight.method, preflight.headers);
    if (problems.length) return fail(check, `${preflight.path}: ${problems.join('; ')}`, STRIPPED_FIX);
    return pass(check, `${preflight.method} ${preflight.path} with ${preflight.headers.join(', ')} allowed for ${origin}`);
  });
}

/** A preflight is not enough: the real answer must carry Access-Control-Allow-Origin too, or the browser hides its body. */
async function checkMetadataResponses(target: DoctorTarget, origin: string, suffix: string): Promise<CheckRow> {
  const check = `CORS on metadata responses${suffix}`;
  return guarded(check, target.publicUrl, async () => {
    const paths = ['/.well-known/oauth-authorization-server', resourceMetadataPath(target)];
    const blocked: string[] = [];
    for (const path of paths) {
      const response = await probe(`${target.publicUrl}${path}`, { headers: { origin } });
      if (!originAllowed(response, origin)) {
        const allowOrigin = response.headers.get('access-control-allow-origin') ?? 'missing';
        blocked.push(`${path} (HTTP ${response.status}, Access-Control-Allow-Origin ${allowOrigin})`);
      }
    }
    if (blocked.length)
      return fail(
        check,
        `not readable from ${origin}: ${blocked.join('; ')}`,
        'a proxy in front strips CORS headers: pass Access-Control-* through',
      );
    return pass(check, `GET metadata carries Access-Control-Allow-Origin for ${origin}`);
  });
}

/** The browser calls the MCP endpoint itself: it must be allowed to, and must be able to read the 401's WWW-Authenticate. */
async function checkMcpEndpoint(target: DoctorTarget, origin: string, suffix: string): Promise<CheckRow[]> {
  const path = mcpPath(encodeURIComponent(target.server));
  const allowedOriginsFix = `add "${origin}" to allowedOrigins in gateway.json (needed only if you use this client's web UI)`;
  const headers = ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id'];
  const preflightCheck = `CORS preflight ${path}${suffix}`;
  const preflight = await guarded(preflightCheck, target.publicUrl, async () => {
    const response = await probe(`${target.publicUrl}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers.join(',') },
    });
    if (response.status === 403) return fail(preflightCheck, `HTTP 403: the gateway refuses Origin ${origin}`, allowedOriginsFix);
    const problems = preflightProblems(response, origin, 'POST', headers);
    if (problems.length) return fail(preflightCheck, `${path}: ${problems.join('; ')}`, STRIPPED_FIX);
    return pass(preflightCheck, `POST ${path} with ${headers.join(', ')} allowed for ${origin}`);
  });
  const challengeCheck = `CORS on 401 ${path}${suffix}`;
  const challenge = await guarded(challengeCheck, target.publicUrl, async () => {
    const response = await probe(`${target.publicUrl}${path}`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    if (response.status === 403) return fail(challengeCheck, `HTTP 403: the gateway refuses Origin ${origin}`, allowedOriginsFix);
    if (!originAllowed(response, origin)) {
      return fail(
        challengeCheck,
        `HTTP ${response.status} without Access-Control-Allow-Origin for ${origin}`,
        'a proxy in front strips CORS headers: pass Access-Control-* through',
      );
    }
    const exposed = headerItems(response.headers, 'access-control-expose-headers');
    if (!exposed.includes('www-authenticate') && !exposed.includes('*')) {
      return fail(
        challengeCheck,
        'WWW-Authenticate is not in Access-Control-Expose-Headers, so the browser cannot read resource_metadata',
        'a proxy in front strips CORS headers: pass Access-Control-Expose-Headers through',
      );
    }
    return pass(challengeCheck, `HTTP ${response.status}, WWW-Authenticate readable from ${origin}`);
  });
  return [preflight, challenge];
}

/** Check 5: everything a browser-based client (MCP Inspector's web UI) calls, from its own origin. */
export async function corsChecks(target: DoctorTarget, profiles: readonly ClientProfile[] = clientProfiles): Promise<CheckRow[]> {
  const browserClients = profiles.filter((profile) => profile.callsFromBrowser && profile.browserOrigin);
  const rows: CheckRow[] = [];
  for (const profile of browserClients) {
    const origin = profile.browserOrigin!;
    // Row names stay short while only one browser client is known.
    const suffix = browserClients.length > 1 ? ` (${profile.name})` : '';
    rows.push(...(await Promise.all(preflightsFor(target).map((preflight) => checkPreflight(target, origin, preflight, suffix)))));
    rows.push(await checkMetadataResponses(target, origin, suffix));
    rows.push(...(await checkMcpEndpoint(target, origin, suffix)));
  }
  return rows;
}
