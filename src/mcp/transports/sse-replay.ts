import { randomBytes } from 'node:crypto';
import type { JsonRpcMessage } from '../jsonrpc.js';

/** What one session keeps for replay: the last events, within a count, a size and an age. */
export const REPLAY_LIMITS = { events: 100, bytes: 1024 * 1024, ageMs: 5 * 60 * 1000 };

/** The session's standalone GET stream; POST streams are numbered from 1. */
export const STANDALONE_STREAM = 0;

interface RecordedEvent {
  stream: number;
  seq: number;
  text: string;
  bytes: number;
  at: number;
}

/**
 * The SSE events a 2025 session sent lately, so that a client whose stream broke can reconnect
 * with `Last-Event-ID` and get what came after (resumability, Streamable HTTP). Every event has an
 * id `<window>_<stream>_<seq>`: this window (a session resumed after a restart has a new one, so
 * an id of its previous life never matches), the stream it was sent on, and a number unique
 * within the session. Kept in memory, within one replica's life.
 */
export class ReplayWindow {
  private readonly window = randomBytes(6).toString('base64url');
  private seq = 0;
  private streams = 0;
  private readonly events: RecordedEvent[] = [];
  private bytes = 0;

  /** A number for a new POST stream. */
  openStream(): number {
    return ++this.streams;
  }

  /** The SSE event carrying `message` on `stream`, with its id; kept for replay. */
  event(stream: number, message: JsonRpcMessage, now = Date.now()): string {
    const seq = ++this.seq;
    const text = `id: ${this.window}_${stream}_${seq}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
    const bytes = Buffer.byteLength(text);
    this.events.push({ stream, seq, text, bytes, at: now });
    this.bytes += bytes;
    this.trim(now);
    return text;
  }

  /**
   * The stream a Last-Event-ID names, and the events sent on it after that one that the window
   * still holds. Undefined for an id this session never gave (another life's, or garbage).
   */
  after(lastEventId: string, now = Date.now()): { stream: number; events: string[] } | undefined {
    const parsed = /^([\w-]{8})_(\d{1,15})_(\d{1,15})$/.exec(lastEventId);
    if (parsed?.[1] !== this.window) return undefined;
    const [stream, seq] = [Number(parsed[2]), Number(parsed[3])];
    if (seq > this.seq || stream > this.streams) return undefined;
    this.trim(now);
    const events = this.events.filter((event) => event.stream === stream && event.seq > seq).map((event) => event.text);
    return { stream, events };
  }

  private trim(now: number): void {
    const { events, bytes, ageMs } = REPLAY_LIMITS;
    while (this.events.length > 0 && (this.events.length > events || this.bytes > bytes || now - this.events[0]!.at > ageMs)) {
      this.bytes -= this.events.shift()!.bytes;
    }
  }
}
