import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import type { GatewayConfig, RemoteServerConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { ErrorCode, errorResponse } from './jsonrpc.js';

const HOP_BY_HOP_CREDENTIALS = ['authorization', 'cookie', 'proxy-authorization'];

function proxyFor(serverName: string, remote: RemoteServerConfig, logger: Logger): RequestHandler {
  const target = new URL(remote.url);
  const timeoutMs = remote.callTimeout * 1000;
  return createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: target.origin,
    changeOrigin: true,
    // SSE must flow as it comes: no buffering, no body rewriting.
    selfHandleResponse: false,
    pathRewrite: () => `${target.pathname}${target.search}`,
    proxyTimeout: timeoutMs,
    timeout: timeoutMs,
    xfwd: false,
    // Reuse upstream connections instead of one TCP (and TLS) handshake per MCP message.
    agent: target.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true }),
    on: {
      proxyReq: (proxyReq) => {
        // No token passthrough: the client's credentials stay at the gateway.
        for (const header of HOP_BY_HOP_CREDENTIALS) proxyReq.removeHeader(header);
        proxyReq.removeHeader('origin');
        for (const [name, value] of Object.entries(remote.headers)) proxyReq.setHeader(name, value);
      },
      proxyRes: (proxyRes) => {
        delete proxyRes.headers['set-cookie'];
      },
      error: (error, _req, res) => {
        const code = (error as NodeJS.ErrnoException).code;
        const timedOut = code === 'ECONNRESET' || code === 'ETIMEDOUT' || /timeout/i.test(error.message);
        logger.warn({ server: serverName, err: error.message, code }, 'remote MCP server error');
        const response = res as ServerResponse;
        if (!('headersSent' in response) || response.headersSent) {
          (res as { destroy?: () => void }).destroy?.();
          return;
        }
        const status = timedOut ? 504 : 502;
        const body = JSON.stringify(errorResponse(null, ErrorCode.InternalError, timedOut
          ? `the remote MCP server "${serverName}" did not answer in time`
          : `the remote MCP server "${serverName}" is unreachable (${code ?? error.message})`));
        response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      },
    },
  });
}

/** Reverse proxies for the servers configured with `url`. */
export function createRemoteProxies(config: GatewayConfig, logger: Logger) {
  const proxies = new Map<string, RequestHandler>();
  for (const [name, server] of Object.entries(config.mcpServers)) {
    if ('url' in server) proxies.set(name, proxyFor(name, server, logger.child({ server: name })));
  }
  return (req: IncomingMessage, res: ServerResponse, serverName: string): void => {
    const proxy = proxies.get(serverName);
    if (!proxy) return;
    void proxy(req, res, () => {
      res.writeHead(404).end();
    });
  };
}
