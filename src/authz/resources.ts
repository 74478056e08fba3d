import { mcpResourceUrl } from '../config/server-names.js';

/** Maps RFC 8707 resource indicators to the configured MCP servers. */
export class ResourceCatalog {
  private readonly byUrl = new Map<string, string>();

  constructor(
    readonly publicUrl: string,
    serverNames: string[],
  ) {
    for (const name of serverNames) this.byUrl.set(this.urlFor(name), name);
  }

  urlFor(serverName: string): string {
    return mcpResourceUrl(this.publicUrl, serverName);
  }

  /** Scheme and host case, default ports and trailing slashes do not make a different resource. */
  static normalise(indicator: string): string | undefined {
    let url: URL;
    try {
      url = new URL(indicator);
    } catch {
      return undefined;
    }
    if (url.search || url.hash || url.username || url.password) return undefined;
    const path = url.pathname.replace(/\/+$/, '');
    return `${url.protocol}//${url.host}${path}`;
  }

  /** The canonical resource URL for an indicator, or undefined when it names no server. */
  canonical(indicator: string): string | undefined {
    const normalised = ResourceCatalog.normalise(indicator);
    return normalised !== undefined && this.byUrl.has(normalised) ? normalised : undefined;
  }

  serverFor(indicator: string): string | undefined {
    const canonical = this.canonical(indicator);
    return canonical ? this.byUrl.get(canonical) : undefined;
  }

  /** The resource a request without `resource` gets: only defined when exactly one server exists. */
  get soleResource(): string | undefined {
    return this.byUrl.size === 1 ? [...this.byUrl.keys()][0] : undefined;
  }

  get urls(): string[] {
    return [...this.byUrl.keys()];
  }
}
