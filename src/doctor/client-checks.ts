// doctor's rows for what particular clients need beyond the common discovery: ChatGPT's
// server/discover probe, its private_key_jwt and key set; Claude.ai's CIMD gate and its reach.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { clientProfiles } from '../clients/client-profiles.js';
import { forbiddenAddressReason } from '../net/address-policy.js';
import { jsonObject, probe, ProbeError } from './http-probe.js';
import type { Discovery } from './discovery-checks.js';
import { fail, guarded, pass, warning, type CheckRow } from './report.js';
import type { DoctorTarget } from './target.js';

/** The first request ChatGPT sends to a connector URL (2026-07-28 revision), exactly. */
export const CHATGPT_DISCOVER_PROBE = {
  jsonrpc: '2.0',
  id: 'openai-mcp-discover',
  method: 'server/discover',
  params: {
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'openai-mcp', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
};

const CHATGPT_KEY_SET = clientProfiles.find((profile) => profile.id === 'chatgpt')?.keySet ?? 'https://chatgpt.com/oauth/jwks.json';

/**
 * Where doctor looks for ChatGPT's key set. DOCTOR_CHATGPT_KEY_SET_URL replaces it (tests, or a
 * mirror the gateway host uses); doctor itself has no other configuration.
 */
export const chatGptKeySetUrl = (): string => process.env.DOCTOR_CHATGPT_KEY_SET_URL || CHATGPT_KEY_SET;

/** The AS metadata that answered first (both paths serve the same document). */
function asMetadata(discovery: Discovery): Record<string, unknown> | undefined {
  return discovery.authorizationServer.values().next().value;
}

const listed = (metadata: Record<string, unknown> | undefined, field: string): unknown[] =>
  Array.isArray(metadata?.[field]) ? (metadata[field] as unknown[]) : [];

/** ChatGPT opens with server/discover: the answer without a token must be the OAuth challenge. */
async function checkServerDiscover(target: DoctorTarget): Promise<CheckRow> {
  const check = 'ChatGPT server/discover';
  return guarded(check, target.publicUrl, async () => {
    const response = await probe(target.resource, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'server/discover',
      },
      body: JSON.stringify(CHATGPT_DISCOVER_PROBE),
    });
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (response.status === 401 && /^Bearer\b/i.test(challenge) && /resource_metadata="[^"]+"/i.test(challenge)) {
      return pass(check, '401 with resource_metadata: ChatGPT goes on to sign in');
    }
    if (response.status === 401) {
      return fail(
        check,
        '401 without resource_metadata in WWW-Authenticate',
        'see "401 on POST" above: the challenge must name the resource metadata',
      );
    }
    if (response.status < 300) {
      return fail(
        check,
        `HTTP ${response.status} without a token`,
        'the MCP endpoint must refuse server/discover without a token with 401, or ChatGPT never signs in',
      );
    }
    return fail(
      check,
      `HTTP ${response.status} to ChatGPT's probe without a token`,
      'a proxy in front must pass POST /mcp/ with MCP-Protocol-Version 2026-07-28 and Mcp-Method headers through to the gateway',
    );
  });
}

function checkPrivateKeyJwt(discovery: Discovery): CheckRow {
  const check = 'ChatGPT private_key_jwt';
  const metadata = asMetadata(discovery);
  if (!metadata) return fail(check, 'no authorization server metadata answered', 'fix the AS metadata rows above first');
  const methods = listed(metadata, 'token_endpoint_auth_methods_supported');
  if (methods.includes('private_key_jwt')) return pass(check, `token_endpoint_auth_methods_supported: ${methods.join(', ')}`);
  return fail(
    check,
    `private_key_jwt is not in token_endpoint_auth_methods_supported (${methods.join(', ') || 'none listed'})`,
    "upgrade mcp-oauth-gateway: ChatGPT's metadata documents authenticate with private_key_jwt",
  );
}

/** The key set must be fetchable from the gateway's host; doctor can only try from where it runs. */
async function checkKeySet(): Promise<CheckRow> {
  const check = 'ChatGPT key set';
  const url = chatGptKeySetUrl();
  try {
    const response = await probe(url, { headers: { accept: 'application/json' } });
    const keys = jsonObject(response)?.keys;
    if (response.status === 200 && Array.isArray(keys)) return pass(check, `${url}: ${keys.length} key(s), reachable from here`);
    return warning(
      check,
      `${url} answered HTTP ${response.status}${Array.isArray(keys) ? '' : ', not a key set'} ` +
        "(ChatGPT's host refuses some datacenter fetches)",
      'the gateway keeps the last key set it fetched; if it never fetched one, ChatGPT cannot finish sign-in from this host',
    );
  } catch (error) {
    const reason = error instanceof ProbeError ? error.message : String(error);
    return warning(
      check,
      `${url} unreachable from here: ${reason}`,
      "run doctor on the gateway host: the gateway must reach chatgpt.com over https to check ChatGPT's signed client assertions",
    );
  }
}

function checkMetadataDocumentGate(discovery: Discovery): CheckRow {
  const check = 'Claude.ai CIMD gate';
  const metadata = asMetadata(discovery);
  if (!metadata) return fail(check, 'no authorization server metadata answered', 'fix the AS metadata rows above first');
  const cimd = metadata.client_id_metadata_document_supported === true;
  const none = listed(metadata, 'token_endpoint_auth_methods_supported').includes('none');
  if (cimd && none) return pass(check, 'client_id_metadata_document_supported and none advertised: Claude.ai uses its metadata document');
  const missing = [
    cimd ? '' : 'client_id_metadata_document_supported: true',
    none ? '' : '"none" in token_endpoint_auth_methods_supported',
  ];
  return fail(
    check,
    `missing ${missing.filter(Boolean).join(' and ')}: Claude.ai falls back to dynamic registration`,
    'upgrade mcp-oauth-gateway, or check that no proxy rewrites the authorization server metadata',
  );
}

/** Claude.ai connects from Anthropic's servers, over IPv4, to port 443. */
async function checkPublicReach(target: DoctorTarget): Promise<CheckRow> {
  const check = 'Claude.ai public IPv4:443';
  const url = new URL(target.publicUrl);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true, family: 4 })).map((entry) => entry.address);
  } catch (error) {
    return warning(check, `${host} has no IPv4 address here (${(error as Error).message})`, "publish an A record for publicUrl's host");
  }
  const problems = addresses.flatMap((address) => {
    const reason = forbiddenAddressReason(address);
    return reason ? [`${address} (${reason})`] : [];
  });
  if (problems.length > 0 || port !== 443) {
    const where = isIP(host) ? problems.join(', ') : `${host} resolves to ${problems.join(', ')}`;
    const what = [problems.length ? where : '', port !== 443 ? `port ${port}, not 443` : ''];
    return warning(
      check,
      `${what.filter(Boolean).join('; ')}: Claude.ai cannot reach it`,
      'fine for local testing; for Claude.ai, publicUrl must be https on port 443 at a public IPv4 address',
    );
  }
  return pass(check, `${host} is ${addresses.join(', ')}, port 443`);
}

/** The rows for ChatGPT's and Claude.ai's own needs, after discovery. */
export async function clientChecks(target: DoctorTarget, discovery: Discovery): Promise<CheckRow[]> {
  return [
    await checkServerDiscover(target),
    checkPrivateKeyJwt(discovery),
    await checkKeySet(),
    checkMetadataDocumentGate(discovery),
    await checkPublicReach(target),
  ];
}
