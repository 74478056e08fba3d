import type { JsonRpcMessage } from '../../src/mcp/jsonrpc.js';

export interface McpReply {
  status: number;
  headers: Headers;
  /** Every JSON-RPC message in the body, whether it came as JSON or as an SSE stream. */
  messages: JsonRpcMessage[];
  contentType: string;
}

export function parseSse(text: string): JsonRpcMessage[] {
  return text.split('\n\n').flatMap((event) => {
    const data = event
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    return data ? [JSON.parse(data) as JsonRpcMessage] : [];
  });
}

/** Reads an SSE body as it arrives, pushing each message into `messages`, until it ends or is aborted. */
export function collectSse(body: ReadableStream<Uint8Array>, messages: JsonRpcMessage[]): void {
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        const cut = buffer.lastIndexOf('\n\n');
        if (cut === -1) continue;
        messages.push(...parseSse(buffer.slice(0, cut + 2)));
        buffer = buffer.slice(cut + 2);
      }
    } catch {
      // aborted by the reader
    }
  })();
}

/**
 * A small Streamable HTTP client for tests: it speaks the wire directly so tests can also send
 * what a well-behaved SDK client never would (colliding ids, foreign session ids, garbage).
 */
export class McpTestClient {
  sessionId?: string;
  protocolVersion = '2025-11-25';
  private nextId = 1;

  constructor(
    readonly endpoint: string,
    public token: string,
    readonly capabilities: Record<string, unknown> = {},
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      authorization: `Bearer ${this.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(this.sessionId ? { 'mcp-session-id': this.sessionId, 'mcp-protocol-version': this.protocolVersion } : {}),
      ...extra,
    };
  }

  async post(body: unknown, extraHeaders: Record<string, string> = {}): Promise<McpReply> {
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headers(extraHeaders),
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    let messages: JsonRpcMessage[] = [];
    if (contentType.includes('text/event-stream')) messages = parseSse(text);
    else if (text && contentType.includes('application/json')) {
      const parsed = JSON.parse(text) as JsonRpcMessage | JsonRpcMessage[];
      messages = Array.isArray(parsed) ? parsed : [parsed];
    }
    return { status: response.status, headers: response.headers, messages, contentType };
  }

  async initialize(): Promise<Record<string, unknown>> {
    const reply = await this.post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: this.protocolVersion, capabilities: this.capabilities, clientInfo: { name: 'test', version: '1' } },
    });
    if (reply.status !== 200) throw new Error(`initialize: HTTP ${reply.status} ${JSON.stringify(reply.messages)}`);
    const result = reply.messages[0] as { result?: Record<string, unknown>; error?: unknown };
    if (!result.result) throw new Error(`initialize failed: ${JSON.stringify(result)}`);
    this.sessionId = reply.headers.get('mcp-session-id') ?? undefined;
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return result.result;
  }

  /** Sends one request; returns its final response and everything that came before it. */
  async request(
    method: string,
    params: Record<string, unknown> = {},
    id: string | number = this.nextId++,
  ): Promise<{ result?: any; error?: any; related: JsonRpcMessage[]; reply: McpReply }> {
    const reply = await this.post({ jsonrpc: '2.0', id, method, params });
    const final = reply.messages.find((m) => 'id' in m && m.id === id && !('method' in m)) as
      { result?: unknown; error?: unknown } | undefined;
    return { result: final?.result, error: final?.error, related: reply.messages.filter((m) => m !== final), reply };
  }

  /**
   * Sends one request and reads its SSE stream as it arrives, answering server requests
   * (sampling, elicitation) with `answer` by POSTing the response, as a real client does.
   */
  async requestInteractive(
    method: string,
    params: Record<string, unknown>,
    answer: (request: { id: string | number; method: string; params?: any }) => unknown,
    id: string | number = this.nextId++,
  ): Promise<{ result?: any; error?: any; seen: JsonRpcMessage[] }> {
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    });
    const seen: JsonRpcMessage[] = [];
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.includes('text/event-stream')) {
      const final = (await response.json()) as { result?: unknown; error?: unknown };
      return { ...final, seen };
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary = buffer.indexOf('\n\n');
      while (boundary !== -1) {
        const event = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        for (const message of parseSse(`${event}\n\n`)) {
          seen.push(message);
          if ('method' in message && 'id' in message && message.id !== undefined) {
            const result = await answer(message as { id: string | number; method: string; params?: unknown });
            await this.post({ jsonrpc: '2.0', id: message.id, result });
          } else if ('id' in message && message.id === id && !('method' in message)) {
            return { ...(message as { result?: unknown; error?: unknown }), seen };
          }
        }
      }
    }
    throw new Error(`stream ended without a response to ${method}`);
  }

  /** Opens the session's GET stream and collects what arrives on it. */
  async openEventStream(): Promise<{ status: number; messages: JsonRpcMessage[]; close(): void }> {
    const controller = new AbortController();
    const response = await fetch(this.endpoint, {
      method: 'GET',
      headers: { ...this.headers({ accept: 'text/event-stream' }) },
      signal: controller.signal,
    });
    const messages: JsonRpcMessage[] = [];
    if (response.ok && response.body) collectSse(response.body, messages);
    return { status: response.status, messages, close: () => controller.abort() };
  }

  callTool(name: string, args: Record<string, unknown> = {}, id?: string | number, meta?: Record<string, unknown>) {
    return this.request('tools/call', { name, arguments: args, ...(meta ? { _meta: meta } : {}) }, id);
  }

  async close(): Promise<number> {
    const response = await fetch(this.endpoint, { method: 'DELETE', headers: this.headers() });
    return response.status;
  }
}
