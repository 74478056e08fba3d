/**
 * The last good copy of each fetched Client ID Metadata Document. oidc-provider fetches a
 * document when it meets its URL as a client_id and keeps it in memory for its cache lifetime;
 * when the fetch fails (network error, an HTML page during an outage, a non-200, a document that
 * no longer passes validation) the client is refused. Here a document that passed every check is
 * kept in the store (replicas and restarts share it), and a later failure is answered with that
 * copy, with a warning. Bounded: past `maxDocuments` the oldest copies are dropped.
 */
import Provider, { type Client, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log/logger.js';
import type { KeyValueStore } from '../storage/store.js';
import { acceptNoneWhereDocumentAllows, declaredMetadata } from './client-authentication.js';

type Metadata = Record<string, unknown>;

interface KeptDocument {
  metadata: Metadata;
  /** Epoch seconds. */
  keptAt: number;
}

export interface LastGoodOptions {
  /** How many documents are kept at most (the oldest go first). */
  maxDocuments?: number;
  /** Seconds a copy is kept after it was last seen good. */
  keepFor?: number;
  /** Seconds after a failed fetch during which the kept copy is used without trying again. */
  retryAfter?: number;
  /** Seconds before an unchanged copy is written again (to mark it recently used). */
  refreshEvery?: number;
  now?: () => number;
}

const DEFAULTS = { maxDocuments: 1000, keepFor: 30 * 24 * 60 * 60, retryAfter: 60, refreshEvery: 60 * 60 };
const INDEX_KEY = 'cimd:last-good:index';
const documentKey = (url: string) => `cimd:last-good:${url}`;

export class LastGoodDocuments {
  private readonly options: Required<LastGoodOptions>;
  /** What this process last wrote per URL, so an unchanged document is not written on every request. */
  private readonly written = new Map<string, { json: string; at: number }>();
  /** When a fetch of each URL last failed. */
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly store: KeyValueStore,
    options: LastGoodOptions = {},
  ) {
    this.options = { ...DEFAULTS, now: () => Math.floor(Date.now() / 1000), ...options };
  }

  async get(url: string): Promise<Metadata | undefined> {
    return (await this.store.get<KeptDocument>(documentKey(url)))?.metadata;
  }

  /** Keeps `metadata` (which passed every check) as the last good copy of `url`. */
  async keep(url: string, metadata: Metadata): Promise<void> {
    this.failedAt.delete(url);
    const json = JSON.stringify(metadata);
    const now = this.options.now();
    const last = this.written.get(url);
    if (last && last.json === json && now - last.at < this.options.refreshEvery) return;
    await this.store.set(documentKey(url), { metadata, keptAt: now } satisfies KeptDocument, this.options.keepFor);
    this.remember(this.written, url, { json, at: now });
    await this.index(url, now);
  }

  /** Notes a failed fetch; true while the kept copy should be used without fetching again. */
  noteFailure(url: string): void {
    this.remember(this.failedAt, url, this.options.now());
  }

  failedRecently(url: string): boolean {
    const at = this.failedAt.get(url);
    return at !== undefined && this.options.now() - at < this.options.retryAfter;
  }

  /**
   * The index lists kept URLs oldest first; past the cap the oldest are dropped with their copies.
   * Read, then written: two replicas keeping documents at the same moment may drop each other's
   * entry, and such a copy then just expires after `keepFor` (the cap is never exceeded by more).
   */
  private async index(url: string, now: number): Promise<void> {
    const listed = (await this.store.get<Array<[string, number]>>(INDEX_KEY)) ?? [];
    const entries = [...listed.filter(([listedUrl]) => listedUrl !== url), [url, now] as [string, number]];
    const evicted = entries.splice(0, Math.max(0, entries.length - this.options.maxDocuments));
    for (const [oldUrl] of evicted) {
      await this.store.delete(documentKey(oldUrl));
      this.written.delete(oldUrl);
    }
    await this.store.set(INDEX_KEY, entries, this.options.keepFor);
  }

  /** Per-process maps stay as small as the store's cap. */
  private remember<T>(map: Map<string, T>, url: string, value: T): void {
    map.delete(url);
    map.set(url, value);
    if (map.size > this.options.maxDocuments) map.delete(map.keys().next().value!);
  }
}

const reasonOf = (error: unknown): string => {
  const { message, error_description: description } = error as { message?: string; error_description?: string };
  return [message, description].filter(Boolean).join(': ') || String(error);
};

/** A client built from a kept document exactly as oidc-provider builds one from a fetched document. */
function clientFromKept(provider: Provider, metadata: Metadata): Client {
  const ctx = Provider.ctx as KoaContextWithOIDC | undefined;
  const ClientClass = provider.Client as unknown as new (metadata: Metadata, ctx: unknown, options: { cimd: boolean }) => Client;
  const client = new ClientClass(metadata, ctx, { cimd: true });
  Object.defineProperty(client, 'clientIdMetadataDocument', { value: true });
  acceptNoneWhereDocumentAllows(ctx, client);
  return client;
}

/**
 * Wraps `provider.Client.find`: every metadata document client found is kept as the last good
 * copy; when finding one fails and a copy is kept, the copy is used (and for `retryAfter`
 * seconds without fetching again, so a host that hangs does not hold every request).
 */
export function serveLastGoodDocuments(provider: Provider, documents: LastGoodDocuments, logger: Logger): void {
  const find = provider.Client.find.bind(provider.Client);
  const fallBack = async (id: string, reason: string | undefined): Promise<Client | undefined> => {
    const kept = await documents.get(id);
    if (!kept) return undefined;
    if (reason)
      logger.warn({ event: 'cimd.last_good', clientId: id, reason }, 'client metadata document unusable: using its last good copy');
    return clientFromKept(provider, kept);
  };
  provider.Client.find = async (id: string) => {
    // Only an https URL can be a metadata document's client_id (registered clients have random ids).
    const isDocument = typeof id === 'string' && id.startsWith('https://');
    if (isDocument && documents.failedRecently(id)) {
      const kept = await fallBack(id, undefined);
      if (kept) return kept;
    }
    let client: Client | undefined;
    try {
      client = await find(id);
    } catch (error) {
      if (!isDocument) throw error;
      documents.noteFailure(id);
      const kept = await fallBack(id, reasonOf(error));
      if (kept) return kept;
      throw error;
    }
    if (client && (client as { clientIdMetadataDocument?: boolean }).clientIdMetadataDocument)
      await documents.keep(id, declaredMetadata(client));
    return client;
  };
}
