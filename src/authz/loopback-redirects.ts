/**
 * RFC 8252 section 7.3: for a loopback redirect URI the authorization server must allow any port,
 * since a native client listens on whatever port it could get. oidc-provider does so for clients
 * registered as `application_type: native`; metadata documents often leave application_type out
 * (Claude Code's lists http://localhost/callback and http://127.0.0.1/callback and then asks with
 * its callback server's port), so a document client gets the same rule. The host must still match
 * exactly (localhost is not 127.0.0.1), and only http loopback URIs are concerned.
 */
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The URI with its port taken out, when it is an http URI to a loopback host; else undefined. */
export function withoutLoopbackPort(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return `http://${url.hostname}${url.pathname}${url.search}`;
}

type DocumentClient = Client & { clientIdMetadataDocument?: boolean };

/** Metadata document clients accept their loopback redirect URIs on any port. */
export function allowAnyLoopbackPortForDocuments(provider: Provider): void {
  const prototype = provider.Client.prototype as DocumentClient;
  const exactlyAllowed = prototype.redirectUriAllowed;
  prototype.redirectUriAllowed = function (this: DocumentClient, value: string): boolean {
    if (exactlyAllowed.call(this, value)) return true;
    if (!this.clientIdMetadataDocument) return false;
    const requested = withoutLoopbackPort(value);
    return requested !== undefined && (this.redirectUris ?? []).some((registered) => withoutLoopbackPort(registered) === requested);
  };
}
