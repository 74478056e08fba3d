import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sourceDir } from '../paths.js';

export interface ClientProfile {
  /** The key in client-profiles.json, used in `tokens.clients.<id>`. */
  id: string;
  name: string;
  /** False when what the profile says could not be confirmed from public reports; `unverifiedBecause` says why. */
  verified: boolean;
  unverifiedBecause?: string;
  /** The date (YYYY-MM-DD) the behaviour described was last confirmed. */
  lastConfirmed: string;
  /** What the client does, in a sentence or three (the README's client table). */
  does: string;
  redirectUris: string[];
  /** Client ID Metadata Document URLs; `{id}` matches one path segment (per-connector documents). */
  clientIdMetadataDocuments: string[];
  /** Documents named in the vendor's documentation but never seen presented by the client: recognised, not probed by `doctor`. */
  unconfirmedDocuments?: string[];
  registration: Array<'dcr' | 'cimd'>;
  /** How it authenticates at /token when it registered by DCR. */
  tokenEndpointAuthMethods: string[];
  /** How it authenticates at /token with its metadata document. */
  metadataDocumentAuthMethod?: string;
  /** The key set its metadata documents point at (private_key_jwt). */
  keySet?: string;
  callsFromBrowser: boolean;
  browserOrigin?: string;
  discovery: string[];
  quirks: Record<string, unknown>;
  /** Where each fact comes from. */
  sources: Array<{ fact: string; source: string }>;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `{id}` matches one path segment, `{port}` a port number; everything else literally. */
export function redirectPattern(template: string): RegExp {
  const source = template
    .split(/(\{id\}|\{port\})/)
    .map((part) => {
      if (part === '{id}') return '[A-Za-z0-9._~-]+';
      if (part === '{port}') return '\\d{1,5}';
      return escapeRegExp(part);
    })
    .join('');
  return new RegExp(`^${source}$`);
}

function loadProfiles(): ClientProfile[] {
  const raw = JSON.parse(readFileSync(resolve(sourceDir, 'clients', 'client-profiles.json'), 'utf8')) as Record<
    string,
    Omit<ClientProfile, 'id'>
  >;
  return Object.entries(raw)
    .filter(([id]) => !id.startsWith('$'))
    .map(([id, profile]) => ({ id, ...profile }));
}

export const clientProfiles: readonly ClientProfile[] = loadProfiles();

const matchers = clientProfiles.map((profile) => ({ profile, patterns: profile.redirectUris.map(redirectPattern) }));
const documentMatchers = clientProfiles.map((profile) => ({ profile, patterns: profile.clientIdMetadataDocuments.map(redirectPattern) }));

/** A metadata document URL without `{id}`: one a client presents as it is (and `doctor` can try). */
export const isFixedDocumentUrl = (url: string): boolean => !/[{}]/.test(url);

/** The profile whose metadata documents include `clientId`: an exact URL first, then a per-connector template. */
function profileOfDocument(clientId: string): ClientProfile | undefined {
  return (
    clientProfiles.find((profile) => profile.clientIdMetadataDocuments.includes(clientId)) ??
    documentMatchers.find(({ patterns }) => patterns.some((pattern) => pattern.test(clientId)))?.profile
  );
}

/** The known client a registration belongs to: by its metadata document URL, else by a redirect URI. */
export function profileOf(client: { clientId?: string; redirectUris?: readonly string[] }): ClientProfile | undefined {
  if (client.clientId) {
    const byDocument = profileOfDocument(client.clientId);
    if (byDocument) return byDocument;
  }
  // Every redirect URI must belong to the profile: one borrowed URI must not earn a stranger
  // that client's token lifetime.
  const uris = client.redirectUris ?? [];
  if (uris.length === 0) return undefined;
  return matchers.find(({ patterns }) => uris.every((uri) => patterns.some((pattern) => pattern.test(uri))))?.profile;
}

/** A concrete redirect URI for each template, as the client would register it (for tests and `doctor`). */
export function exampleRedirectUri(template: string): string {
  return template.replace('{id}', 'g-0123456789abcdef').replace('{port}', '33418');
}
