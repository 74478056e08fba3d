import type { ToolCallOutcome } from '../../observability/metrics.js';
import type { McpSession } from './session.js';

/** What the bridge reports to the rest of the gateway (metrics, the audit log, log labels). */
export interface BridgeHooks {
  /** A process was started again after it stopped unexpectedly. */
  processRestarted?(serverName: string): void;
  /** A tools/call ended (answered, failed, timed out, cancelled or lost in a crash). */
  toolCallFinished?(session: McpSession, tool: string, outcome: ToolCallOutcome, durationMs: number): void;
  /** The server answered tools/list: its result names the tools it offers. */
  toolsListed?(serverName: string, result: unknown): void;
  /** How the log lines of a process (and a session) of one person name them. */
  personOf?(sub: string): { sub: string; email?: string };
}
