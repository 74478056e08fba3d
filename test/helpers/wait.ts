/**
 * Waiting in tests. A test that waits for something to happen polls for that thing with `waitFor`,
 * with a deadline generous enough for a busy machine (both cores running the suite). `sleep` is
 * only for time that must pass on the clock: a rate-limit window or a token lifetime running out,
 * or a test that shows that something does NOT happen within a time; say which in a comment.
 */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** How long to keep trying, in ms (default 10 s). */
  timeout?: number;
  /** The pause between tries, in ms (default 50). */
  interval?: number;
  /** What did not happen, for the error (a function to include output gathered meanwhile). */
  message?: string | (() => string);
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and returns that.
 * An error `probe` throws ends the wait at once (use it for "the child exited, stop waiting").
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeout = 10_000, interval = 50, message = 'the condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeout} ms for ${typeof message === 'function' ? message() : message}`);
    await sleep(interval);
  }
}

/** `probe`'s value, or `undefined` while it throws (a server not listening yet, a request refused). */
export async function unlessThrows<T>(probe: () => Promise<T>): Promise<T | undefined> {
  try {
    return await probe();
  } catch {
    return undefined;
  }
}

/**
 * Waits out a rate limit or sign-in throttle that answered `Retry-After: seconds`. The time must
 * pass on the clock: asking sooner would count as one more try.
 */
export const waitOutRetryAfter = (seconds: number) => sleep(seconds * 1000 + 100);
