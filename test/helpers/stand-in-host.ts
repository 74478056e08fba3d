/**
 * A public host (chatgpt.com, say) played by a local HTTPS server, reached through the gateway's
 * own SSRF-safe fetch: the name resolves to 127.0.0.1, which only this fetch treats as public, the
 * certificate is a throwaway one for that name, and the URL's port 443 is mapped to the server's.
 * Every other URL goes to `otherwise`: by default the gateway's own safe fetch, which refuses
 * loopback; another stand-in's fetch to play several hosts at once.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forbiddenAddressReason } from '../../src/net/address-policy.js';
import { createSafeFetch } from '../../src/net/safe-fetch.js';

/** A throwaway certificate for `host` (openssl ships with the base system). */
export function certificateFor(host: string): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cert-'));
  const subject = ['-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`];
  const files = ['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')];
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync('openssl', ['req', '-x509', ...curve, '-nodes', '-days', '1', ...subject, ...files], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

export interface StandInHost {
  /** The fetch to give the gateway (startTestGateway's `fetch` option). */
  fetch: typeof fetch;
  close(): void;
}

export async function startStandInHost(
  host: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  otherwise: typeof fetch = createSafeFetch(),
): Promise<StandInHost> {
  const credentials = certificateFor(host);
  const server: Server = createServer(credentials, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  const standIn = createSafeFetch({
    port,
    ca: credentials.cert,
    resolve: async (name) => (name === host ? [{ address: '127.0.0.1', family: 4 }] : []),
    addressProblem: (address) => (address === '127.0.0.1' ? undefined : forbiddenAddressReason(address)),
  });
  const prefix = `https://${host}/`;
  const fetchThroughStandIn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(prefix)) return otherwise(input, init);
    return standIn(`https://${host}:${port}/${url.slice(prefix.length)}`, init);
  }) as typeof fetch;
  return { fetch: fetchThroughStandIn, close: () => server.close() };
}
