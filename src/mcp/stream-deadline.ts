/** setTimeout's longest delay; a later deadline is simply not enforced by a timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `end` at `endAt` (ms since the epoch), for a stream that must not outlive the token (or
 * session) it was opened with; returns the timer, to clear when the stream closes first.
 */
export function endStreamAt(endAt: number, end: () => void): NodeJS.Timeout | undefined {
  const delay = endAt - Date.now();
  if (delay > MAX_TIMER_MS) return undefined;
  const timer = setTimeout(end, Math.max(0, delay));
  timer.unref();
  return timer;
}
