// Which era a remote (`url`) server speaks, asked once per server with server/discover (MCP
// 2026-07-28): a modern upstream takes modern requests as they are; a legacy one is a backend of
// the core, and its answers are translated.
import type { GatewayConfig, RemoteServerConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { isResponse } from '../jsonrpc.js';
import { discoverRequest, listsModernVersion, MODERN_PROTOCOL_VERSIONS } from '../protocol.js';
import { readMessages } from './sse-reader.js';
import { UpstreamHttp } from './upstream-http.js';

const PROBE_TIMEOUT_MS = 5_000;

/**
 * The verdict for each remote server, asked on first need and kept for the gateway's life. Any
 * answer is a verdict (an error, a 400 or 404 means legacy); no answer at all (unreachable, timed
 * out) is none, and the next modern request asks again.
 */
export class RemoteEras {
  private readonly verdicts = new Map<string, Promise<boolean | undefined>>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
  ) {}

  async speaksModern(serverName: string): Promise<boolean> {
    let verdict = this.verdicts.get(serverName);
    if (!verdict) {
      verdict = this.probe(serverName, this.config.mcpServers[serverName] as RemoteServerConfig);
      this.verdicts.set(serverName, verdict);
    }
    const modern = await verdict;
    if (modern === undefined) this.verdicts.delete(serverName);
    return modern ?? false;
  }

  private async probe(serverName: string, remote: RemoteServerConfig): Promise<boolean | undefined> {
    const version = MODERN_PROTOCOL_VERSIONS[0]!;
    const http = new UpstreamHttp(remote);
    const { request, response } = http.post(discoverRequest('mcpgw-discover'), { protocolVersion: version }, PROBE_TIMEOUT_MS, {
      'mcp-method': 'server/discover',
    });
    try {
      const res = await response;
      let modern = false;
      await readMessages(res, (message) => {
        if (isResponse(message) && message.id === 'mcpgw-discover' && listsModernVersion(message.result)) modern = true;
      });
      this.logger.info({ server: serverName, era: modern ? 'modern' : 'legacy' }, 'remote MCP server era found with server/discover');
      return modern;
    } catch (error) {
      this.logger.warn({ server: serverName, err: (error as Error).message }, 'remote MCP server did not answer server/discover');
      request.destroy();
      return undefined;
    } finally {
      http.close();
    }
  }
}
