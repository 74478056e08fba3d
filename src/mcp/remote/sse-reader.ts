import type { IncomingMessage } from 'node:http';
import { isJsonRpcMessage, type JsonRpcMessage } from '../jsonrpc.js';

/** Largest event the gateway keeps while it waits for the event's end (a runaway upstream is cut off). */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * Reads an upstream's response body as JSON-RPC messages, as they come: an event stream's events
 * one by one (`data:` lines joined), or a JSON body (one message or a batch) once it ends.
 * Anything that is no JSON-RPC message is skipped. Resolves when the body ends.
 */
export function readMessages(res: IncomingMessage, onMessage: (message: JsonRpcMessage) => void): Promise<void> {
  const streaming = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
  res.setEncoding('utf8');
  let buffer = '';
  const emit = (text: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) if (isJsonRpcMessage(message)) onMessage(message);
  };
  const drainEvents = () => {
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) emit(data);
    }
  };
  return new Promise((resolve) => {
    res.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_EVENT_BYTES) {
        res.destroy();
        return;
      }
      if (streaming) drainEvents();
    });
    res.on('end', () => {
      if (!streaming && buffer.trim()) emit(buffer);
      resolve();
    });
    res.on('close', () => resolve());
    res.on('error', () => resolve());
  });
}
