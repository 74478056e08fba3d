import type { JsonRpcMessage } from '../../src/mcp/jsonrpc.js';
import { collectSse, parseSse } from './mcp-client.js';

export const MODERN = '2026-07-28';

export interface ModernReply {
  status: number;
  headers: Headers;
  messages: JsonRpcMessage[];
  /** The final response's result or error, when one came. */
  result?: any;
  error?: any;
}

export interface ModernOptions {
  /** Headers to add or (with undefined) leave out. */
  headers?: Record<string, string | undefined>;
  capabilities?: Record<string, unknown>;
  logLevel?: string;
  /** Replaces the whole `_meta` of the request. */
  meta?: Record<string, unknown>;
  id?: string | number;
}

/**
 * A small client of the modern wire (MCP 2026-07-28) for tests: every request carries its own
 * `_meta` and the Mcp-Method / Mcp-Name headers, as a conforming client sends them, unless the
 * test says otherwise.
 */
export class ModernTestClient {
  private nextId = 1;

  constructor(
    readonly endpoint: string,
    public token: string,
    readonly capabilities: Record<string, unknown> = {},
  ) {}

  body(method: string, params: Record<string, unknown>, options: ModernOptions = {}, id: string | number): Record<string, unknown> {
    const meta = options.meta ?? {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientInfo': { name: 'modern-test', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': options.capabilities ?? this.capabilities,
      ...(options.logLevel ? { 'io.modelcontextprotocol/logLevel': options.logLevel } : {}),
    };
    return { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...meta, ...((params._meta as object) ?? {}) } } };
  }

  headersFor(method: string, params: Record<string, unknown>, options: ModernOptions = {}): Record<string, string> {
    const name = method === 'resources/read' ? params.uri : ['tools/call', 'prompts/get'].includes(method) ? params.name : undefined;
    const headers: Record<string, string | undefined> = {
      authorization: `Bearer ${this.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
      ...options.headers,
    };
    return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
  }

  async request(method: string, params: Record<string, unknown> = {}, options: ModernOptions = {}): Promise<ModernReply> {
    const id = options.id ?? this.nextId++;
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headersFor(method, params, options),
      body: JSON.stringify(this.body(method, params, options, id)),
    });
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    let messages: JsonRpcMessage[] = [];
    if (contentType.includes('text/event-stream')) messages = parseSse(text);
    else if (text && contentType.includes('application/json')) messages = [JSON.parse(text) as JsonRpcMessage];
    const final = messages.find((m) => !('method' in m)) as { result?: unknown; error?: unknown } | undefined;
    return { status: response.status, headers: response.headers, messages, result: final?.result, error: final?.error };
  }

  /** Opens a subscriptions/listen stream; `messages` fills as notifications arrive. */
  async listen(
    notifications: Record<string, unknown>,
    id: string | number = `listen-${this.nextId++}`,
  ): Promise<{ status: number; messages: JsonRpcMessage[]; close(): void }> {
    const controller = new AbortController();
    const params = { notifications };
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headersFor('subscriptions/listen', params),
      body: JSON.stringify(this.body('subscriptions/listen', params, {}, id)),
      signal: controller.signal,
    });
    const messages: JsonRpcMessage[] = [];
    if (response.body && (response.headers.get('content-type') ?? '').includes('text/event-stream')) collectSse(response.body, messages);
    else messages.push(...(response.body ? [JSON.parse(await response.text()) as JsonRpcMessage] : []));
    return { status: response.status, messages, close: () => controller.abort() };
  }
}
