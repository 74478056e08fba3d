// doctor's discovery rows: the 401 challenge, protected-resource and authorization-server metadata
// at every path a known client reads. Over 300 lines with its comments (about 270 of code): one row
// builder per document, kept together because later rows read what earlier ones found.
import { clientProfiles } from '../clients/client-profiles.js';
import { mcpPath, protectedResourceMetadataUrl } from '../config/server-names.js';
import { LATEST_PROTOCOL_VERSION } from '../mcp/protocol.js';
import { jsonObject, oauthError, probe, type ProbeResponse } from './http-probe.js';
import { fail, guarded, pass, type CheckRow } from './report.js';
import { isLoopbackUrl, publicUrlMismatchFix, type DoctorTarget } from './target.js';

const PRM_ROOT = '/.well-known/oauth-protected-resource';
/** As the client profiles spell it: the path (no origin), with {server} for the name. */
const PRM_PATH_TEMPLATE = protectedResourceMetadataUrl('', '{server}');
const AS_METADATA_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

/** The metadata documents that answered, for the checks that read them afterwards. */
export interface Discovery {
  /** Authorization server metadata by the path it was fetched from. */
  authorizationServer: Map<string, Record<string, unknown>>;
  /** Protected resource metadata by the path it was fetched from (path form, root form). */
  protectedResource: Map<string, Record<string, unknown>>;
  /** The resource_metadata URL of the 401 challenge. */
  challengeMetadataUrl?: string;
}

/** "ChatGPT, MCP Inspector": the clients whose discovery requests this path. */
function clientsThatTry(pathTemplate: string): string {
  return clientProfiles
    .filter((profile) => profile.discovery.includes(pathTemplate))
    .map((profile) => profile.name)
    .join(', ');
}

/** What went wrong in an answer, for the detail column: the OAuth or JSON-RPC error when there is one. */
function answerSummary(response: ProbeResponse): string {
  const body = jsonObject(response);
  const rpcMessage = (body?.error as { message?: unknown } | undefined)?.message;
  const said = oauthError(response) ?? (typeof rpcMessage === 'string' ? rpcMessage : undefined);
  return said ? `HTTP ${response.status} (${said})` : `HTTP ${response.status}`;
}

function checkPublicUrlScheme(target: DoctorTarget): CheckRow {
  const url = new URL(target.publicUrl);
  if (url.protocol === 'https:') return pass('https publicUrl', `${target.publicUrl} uses https`);
  if (isLoopbackUrl(url)) {
    return pass(
      'https publicUrl',
      `http on loopback host ${url.hostname}: fine on this machine; ChatGPT and Claude.ai need a public https URL`,
    );
  }
  return fail(
    'https publicUrl',
    `${target.publicUrl} is plain http on a host that is not loopback`,
    'put the gateway behind TLS (see README Deploy) and set publicUrl to its https URL',
  );
}

/** No token → 401 whose WWW-Authenticate tells the client where the resource metadata is (RFC 9728 §5.1). */
async function checkChallenge(target: DoctorTarget, method: 'POST' | 'GET', discovery: Discovery): Promise<CheckRow> {
  const check = `401 on ${method} ${mcpPath(target.server)}`;
  return guarded(check, target.publicUrl, async () => {
    const response = await probe(
      target.resource,
      method === 'POST'
        ? {
            method,
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
            body: JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'initialize',
              params: {
                protocolVersion: LATEST_PROTOCOL_VERSION,
                capabilities: {},
                clientInfo: { name: 'mcp-oauth-gateway doctor', version: '1' },
              },
            }),
          }
        : { method, headers: { accept: 'text/event-stream' } },
    );
    if (response.status === 404) {
      return fail(
        check,
        `${answerSummary(response)} at ${target.resource}`,
        `there is no MCP server named "${target.server}" here: use a key of mcpServers in gateway.json`,
      );
    }
    if (response.status !== 401) {
      return fail(
        check,
        `${answerSummary(response)} without a token`,
        'the MCP endpoint must answer 401 to a request without a token: ' +
          'is a proxy in front answering /mcp/ itself, or is this URL not the gateway?',
      );
    }
    const challenge = response.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]*)"/i.exec(challenge)?.[1];
    if (!/^Bearer\b/i.test(challenge) || !metadataUrl) {
      return fail(
        check,
        challenge ? `WWW-Authenticate: ${challenge}` : '401 without WWW-Authenticate',
        "a proxy in front replaces WWW-Authenticate: pass the gateway's header through " +
          '(clients find the authorization server from resource_metadata)',
      );
    }
    discovery.challengeMetadataUrl = metadataUrl;
    if (!metadataUrl.startsWith(`${target.publicUrl}/`)) {
      return fail(
        check,
        `resource_metadata is not on ${target.publicUrl}`,
        publicUrlMismatchFix('the 401 challenge', `resource_metadata ${metadataUrl}`, target.publicUrl),
      );
    }
    return pass(check, `401, Bearer resource_metadata="${metadataUrl}"`);
  });
}

/** The per-server document every client reads first: it names this server and the issuer. */
async function checkPathFormMetadata(target: DoctorTarget, discovery: Discovery): Promise<CheckRow> {
  const check = 'resource metadata (path form)';
  const path = PRM_PATH_TEMPLATE.replace('{server}', encodeURIComponent(target.server));
  return guarded(check, target.publicUrl, async () => {
    const response = await probe(`${target.publicUrl}${path}`);
    const metadata = response.status === 200 ? jsonObject(response) : undefined;
    if (!metadata) {
      return fail(
        check,
        `${path}: ${answerSummary(response)}`,
        response.status === 404
          ? `no MCP server named "${target.server}": use a key of mcpServers in gateway.json ` +
              '(or a proxy in front does not forward /.well-known/*)'
          : 'a proxy in front must forward /.well-known/* to the gateway untouched',
      );
    }
    discovery.protectedResource.set(path, metadata);
    const servers = Array.isArray(metadata.authorization_servers) ? metadata.authorization_servers : [];
    if (metadata.resource !== target.resource) {
      return fail(
        check,
        `resource is ${JSON.stringify(metadata.resource)}, not ${target.resource}`,
        publicUrlMismatchFix('the resource metadata', `resource ${String(metadata.resource)}`, target.resource),
      );
    }
    if (!servers.includes(target.publicUrl)) {
      return fail(
        check,
        `authorization_servers ${JSON.stringify(servers)} does not contain ${target.publicUrl}`,
        publicUrlMismatchFix('the resource metadata', `authorization_servers ${JSON.stringify(servers)}`, target.publicUrl),
      );
    }
    return pass(check, `${path}: resource and authorization_servers match`);
  });
}

/**
 * The gateway serves resource metadata only per server, so the root form is usually absent. That
 * breaks a client only when the root form is its sole way in: when every resource-metadata
 * location it tries before the root form failed. With the path form answering, Claude.ai (the one
 * profile listing the root form) never gets there, so absence is a pass with a note.
 */
async function checkRootFormMetadata(target: DoctorTarget, discovery: Discovery, pathFormAnswered: boolean): Promise<CheckRow> {
  const check = 'resource metadata (root form)';
  return guarded(check, target.publicUrl, async () => {
    const response = await probe(`${target.publicUrl}${PRM_ROOT}`);
    const metadata = response.status === 200 ? jsonObject(response) : undefined;
    if (metadata) {
      discovery.protectedResource.set(PRM_ROOT, metadata);
      const servers = Array.isArray(metadata.authorization_servers) ? metadata.authorization_servers : [];
      if (!servers.includes(target.publicUrl)) {
        return fail(
          check,
          `served, but authorization_servers ${JSON.stringify(servers)} does not contain ${target.publicUrl}`,
          `clients that fall back to ${PRM_ROOT} (${clientsThatTry(PRM_ROOT)}) would go to another authorization server: ` +
            `make it name ${target.publicUrl} or stop serving it`,
        );
      }
      return pass(check, `served: resource ${JSON.stringify(metadata.resource)}, authorization server ${target.publicUrl}`);
    }
    const stranded = clientProfiles.filter((profile) => {
      const at = profile.discovery.indexOf(PRM_ROOT);
      return at >= 0 && !(pathFormAnswered && profile.discovery.slice(0, at).includes(PRM_PATH_TEMPLATE));
    });
    if (stranded.length === 0) {
      return pass(
        check,
        `not served (${answerSummary(response)}); no client needs it: ` +
          `${clientsThatTry(PRM_ROOT) || 'none'} tries it only after the path form, which answers`,
      );
    }
    return fail(
      check,
      `not served (${answerSummary(response)}) and the path form did not answer either: ` +
        `${stranded.map((profile) => profile.name).join(', ')} finds no resource metadata`,
      'fix "resource metadata (path form)" above; that is the document clients read first',
    );
  });
}

/** One row per metadata location clients read: the document and the fields MCP clients depend on. */
async function checkAuthorizationServerMetadata(target: DoctorTarget, path: string, discovery: Discovery): Promise<CheckRow> {
  const check = `AS metadata ${path}`;
  const readers = clientsThatTry(path) || 'OAuth clients';
  return guarded(check, target.publicUrl, async () => {
    const response = await probe(`${target.publicUrl}${path}`);
    const metadata = response.status === 200 ? jsonObject(response) : undefined;
    if (!metadata) {
      return fail(check, answerSummary(response), `${readers} read this document: a proxy in front must forward ${path} to the gateway`);
    }
    discovery.authorizationServer.set(path, metadata);
    const problems: string[] = [];
    const methods = Array.isArray(metadata.code_challenge_methods_supported) ? metadata.code_challenge_methods_supported : [];
    if (!methods.includes('S256'))
      problems.push('code_challenge_methods_supported lacks S256 (clients refuse an authorization server without PKCE)');
    if (typeof metadata.registration_endpoint !== 'string')
      problems.push('no registration_endpoint (ChatGPT, MCP Inspector and mcp-remote register dynamically)');
    if (metadata.client_id_metadata_document_supported !== true)
      problems.push('client_id_metadata_document_supported is not true (ChatGPT and Claude.ai prefer metadata documents)');
    if (problems.length) {
      return fail(
        check,
        problems.join('; '),
        "this is not the gateway's own document (is a proxy answering /.well-known/ itself?) " +
          'or the gateway is too old: upgrade mcp-oauth-gateway',
      );
    }
    return pass(check, `S256, registration and metadata documents advertised (read by ${readers})`);
  });
}

/**
 * Claude.ai compares the issuer with the authorization server URL as strings, and every client
 * uses the endpoints the document names: all of it must be built from exactly the URL people use.
 */
function checkIssuer(target: DoctorTarget, discovery: Discovery): CheckRow {
  const check = 'issuer = publicUrl';
  if (discovery.authorizationServer.size === 0) {
    return fail(check, 'no authorization server metadata answered, so no issuer to compare', 'fix the "AS metadata" rows above first');
  }
  for (const [path, metadata] of discovery.authorizationServer) {
    const issuer = metadata.issuer;
    if (issuer === target.publicUrl) continue;
    const said = `issuer ${typeof issuer === 'string' ? issuer : JSON.stringify(issuer)}`;
    if (typeof issuer === 'string' && issuer.replace(/\/+$/, '') === target.publicUrl) {
      return fail(
        check,
        `${path} says ${said}`,
        `remove the trailing slash from publicUrl in gateway.json: Claude.ai compares the issuer as a string (${target.publicUrl})`,
      );
    }
    return fail(check, `${path} says ${said}`, publicUrlMismatchFix('metadata', said, target.publicUrl));
  }
  for (const [path, metadata] of discovery.authorizationServer) {
    const offHost = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint'].filter(
      (field) => typeof metadata[field] === 'string' && !(metadata[field] as string).startsWith(`${target.publicUrl}/`),
    );
    if (offHost.length) {
      const field = offHost[0]!;
      return fail(
        check,
        `${path}: ${offHost.join(', ')} not on ${target.publicUrl}`,
        publicUrlMismatchFix('metadata', `${field} ${String(metadata[field])}`, target.publicUrl),
      );
    }
  }
  return pass(check, `issuer is exactly ${target.publicUrl} and the endpoints are on it`);
}

/** Every URL string anywhere in a document. */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^https?:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

/** Tokens and codes travel to these URLs: plain http is acceptable only where the traffic never leaves the machine. */
function checkMetadataSchemes(discovery: Discovery): CheckRow {
  const check = 'https in metadata';
  const documents = [...discovery.authorizationServer.values(), ...discovery.protectedResource.values()];
  if (documents.length === 0) return fail(check, 'no metadata document answered; nothing to check', 'fix the metadata rows above first');
  const urls = [...new Set([...documents.flatMap(urlsIn), ...(discovery.challengeMetadataUrl ? [discovery.challengeMetadataUrl] : [])])];
  const plain = urls.filter((url) => {
    try {
      const parsed = new URL(url);
      return parsed.protocol === 'http:' && !isLoopbackUrl(parsed);
    } catch {
      return false;
    }
  });
  if (plain.length) {
    return fail(
      check,
      `${plain.length} of ${urls.length} URLs are plain http, e.g. ${plain[0]}`,
      'put the gateway behind TLS (see README Deploy) and set publicUrl to its https URL',
    );
  }
  const loopback = urls.some((url) => url.startsWith('http:'));
  return pass(check, loopback ? `${urls.length} URLs: http only on loopback` : `${urls.length} URLs, all https`);
}

/** Checks 1–4 of doctor: what a client learns before it registers. */
export async function discoveryChecks(target: DoctorTarget): Promise<{ rows: CheckRow[]; discovery: Discovery }> {
  const discovery: Discovery = { authorizationServer: new Map(), protectedResource: new Map() };
  const rows: CheckRow[] = [checkPublicUrlScheme(target)];
  rows.push(await checkChallenge(target, 'POST', discovery));
  rows.push(await checkChallenge(target, 'GET', discovery));
  rows.push(await checkPathFormMetadata(target, discovery));
  rows.push(await checkRootFormMetadata(target, discovery, discovery.protectedResource.size > 0));
  // The issuer has no path (publicUrl is an origin), so RFC 8414's path-inserted forms coincide with these.
  for (const path of AS_METADATA_PATHS) rows.push(await checkAuthorizationServerMetadata(target, path, discovery));
  rows.push(checkIssuer(target, discovery));
  rows.push(checkMetadataSchemes(discovery));
  return { rows, discovery };
}
