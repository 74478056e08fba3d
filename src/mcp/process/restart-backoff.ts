/**
 * How long a stdio server waits before it is started again. Callers wait for that start, so the
 * wait stays short for a server that served a while before it stopped, and grows only for a
 * crash loop: a process that fails its start or stops within HEALTHY_UPTIME_MS of starting
 * doubles the wait (250 ms, 500 ms, … up to 30 s); one that ran at least that long starts the
 * streak over at 250 ms. (The rule it replaces reset only after 60 s of uptime, so a server that
 * stopped every 45 s climbed to 30 s waits for its callers.) Pure, so it is tested on its own.
 */
export const FIRST_DELAY_MS = 250;
export const MAX_DELAY_MS = 30_000;
export const HEALTHY_UPTIME_MS = 10_000;

export class RestartBackoff {
  /** Starts that failed, or processes that stopped early, one after the other. */
  private streak = 0;

  /** The process never got through its initialize handshake. */
  afterFailedStart(): number {
    return this.delay(++this.streak);
  }

  /** A running process stopped on its own after `uptimeMs`. */
  afterCrash(uptimeMs: number): number {
    this.streak = uptimeMs >= HEALTHY_UPTIME_MS ? 1 : this.streak + 1;
    return this.delay(this.streak);
  }

  private delay(streak: number): number {
    return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, streak - 1));
  }
}
