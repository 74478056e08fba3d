import { mcpResourceUrl } from '../config/server-names.js';
import { isLoopbackHost } from '../net/loopback.js';
import { jsonObject, probe } from './http-probe.js';

/** What `doctor` checks: one gateway (its public URL, as clients are given it) and one MCP server on it. */
export interface DoctorTarget {
  /** Origin only, no trailing slash: what the issuer must equal. */
  publicUrl: string;
  server: string;
  /** `<publicUrl>/mcp/<server>`: the connector URL and the RFC 8707 resource. */
  resource: string;
}

/** A command-line mistake: printed with the usage, exit code 2 (not a failed check). */
export class DoctorUsageError extends Error {}

export const DOCTOR_USAGE = `Usage: mcp-oauth-gateway doctor <publicUrl> [--server NAME]
       mcp-oauth-gateway doctor <publicUrl>/mcp/<NAME>

Plays the discovery, registration and authorization requests of ChatGPT, Claude.ai, Claude Code,
VS Code, Codex, MCP Inspector and mcp-remote against a running gateway and prints what each would
trip over, with the fix (a row marked ! is a warning: it passes, with a note).
The MCP server is --server NAME, or the last part of a connector URL given instead of publicUrl.
Without either, doctor reads the root-form /.well-known/oauth-protected-resource and uses the
server it names; the gateway does not serve that document today, so then it asks for --server.
Registers one test client per client and auth method (they count against rateLimits.register)
and opens sign-in requests it never completes; never prints secrets.
Exit code: 0 when every check passes, 1 when any fails, 2 for a usage error.`;

export function isLoopbackUrl(url: URL): boolean {
  return isLoopbackHost(url.hostname);
}

/** The one-line fix for every "the gateway prints another URL than the one you gave" failure. */
export function publicUrlMismatchFix(what: string, said: string, asked: string): string {
  return `publicUrl in gateway.json must be exactly the URL clients use: ${what} says ${said} but you asked ${asked}`;
}

/**
 * The positional argument is either the gateway's public URL or a connector URL
 * (`<publicUrl>/mcp/<name>`, what people copy from a client's settings); anything else with a
 * path is refused, because the issuer of this gateway never has one.
 */
export function parseTargetUrl(input: string | undefined): { publicUrl: string; server?: string } {
  if (!input)
    throw new DoctorUsageError(
      'doctor: give the public URL of the gateway, e.g. `mcp-oauth-gateway doctor https://mcp.example.com --server docs`',
    );
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new DoctorUsageError(`doctor: "${input}" is not a URL; give the gateway's public URL, e.g. https://mcp.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DoctorUsageError(`doctor: "${input}" must be an http(s) URL`);
  if (url.search || url.hash || url.username || url.password)
    throw new DoctorUsageError(`doctor: "${input}" must not carry a query, fragment or credentials`);
  const connector = /^\/mcp\/([^/]+)\/?$/.exec(url.pathname);
  if (!connector && url.pathname !== '/') {
    throw new DoctorUsageError(
      `doctor: "${input}" has a path; give the gateway's public URL (${url.origin}) ` +
        `or a connector URL (${mcpResourceUrl(url.origin, '<name>')})`,
    );
  }
  return { publicUrl: url.origin, server: connector ? decodeURIComponent(connector[1]!) : undefined };
}

/**
 * The gateway does not list its servers (the per-server metadata lives under
 * `/.well-known/oauth-protected-resource/mcp/<name>` and the root form is not served), so a
 * server can only be found when the root-form document names one under this gateway's `/mcp/`.
 */
export async function discoverServer(publicUrl: string): Promise<string | undefined> {
  // A connector URL with the name left off.
  const prefix = mcpResourceUrl(publicUrl, '');
  try {
    const response = await probe(`${publicUrl}/.well-known/oauth-protected-resource`);
    const resource = response.status === 200 ? jsonObject(response)?.resource : undefined;
    if (typeof resource !== 'string' || !resource.startsWith(prefix)) return undefined;
    const name = resource.slice(prefix.length);
    return /^[^/?#]+$/.test(name) ? decodeURIComponent(name) : undefined;
  } catch {
    return undefined;
  }
}

export async function resolveTarget(input: string | undefined, serverOption: string | undefined): Promise<DoctorTarget> {
  const { publicUrl, server: fromUrl } = parseTargetUrl(input);
  if (serverOption && fromUrl && serverOption !== fromUrl) {
    throw new DoctorUsageError(`doctor: --server ${serverOption} contradicts the connector URL's server "${fromUrl}"; give one of them`);
  }
  if (serverOption !== undefined && !/^[^/?#\s]+$/.test(serverOption))
    throw new DoctorUsageError(
      `doctor: --server "${serverOption}" is not a server name (the NAME in ${mcpResourceUrl(publicUrl, 'NAME')})`,
    );
  const server = serverOption ?? fromUrl ?? (await discoverServer(publicUrl));
  if (!server) {
    throw new DoctorUsageError(
      `doctor: which MCP server? ${publicUrl} does not list its servers publicly. ` +
        'Pass --server NAME (a key of mcpServers in gateway.json), or give the connector URL itself: ' +
        `mcp-oauth-gateway doctor ${mcpResourceUrl(publicUrl, 'NAME')}`,
    );
  }
  return { publicUrl, server, resource: mcpResourceUrl(publicUrl, encodeURIComponent(server)) };
}
