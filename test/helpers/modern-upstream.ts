import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { createModernServer } from '../fixtures/modern-server-factory.js';

export interface ModernUpstream {
  url: string;
  /** Methods of the requests it received, in order. */
  methods: string[];
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The SDK v2 fixture server over HTTP (createMcpHandler, 2026-07-28 with the SDK's stateless
 * 2025 fallback), behind a plain node:http adapter: a remote server of the modern era.
 */
export async function startModernUpstream(): Promise<ModernUpstream> {
  const handler = createMcpHandler(() => createModernServer());
  const methods: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await bodyOf(req) : undefined;
      if (body) methods.push(String((JSON.parse(body.toString()) as { method?: string }).method));
      const headers = Object.entries(req.headers).flatMap(([name, value]) =>
        value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((each) => [name, each] as [string, string]),
      );
      const response = await handler.fetch(
        new Request(`http://${req.headers.host}${req.url}`, {
          method: req.method,
          headers,
          ...(body ? { body: new Uint8Array(body) } : {}),
        }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) Readable.fromWeb(response.body as never).pipe(res);
      else res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    methods,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
