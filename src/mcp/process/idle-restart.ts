/**
 * A restart asked for while calls are in flight waits for the first moment none is: a person's
 * changed secrets reach their process without cutting off a call it is answering.
 */
export class IdleRestart {
  private pending = false;

  constructor(
    private readonly busy: () => boolean,
    private readonly restart: () => unknown,
  ) {}

  /** Restarts now if nothing is in flight, else once `check` finds nothing is. */
  request(): void {
    this.pending = true;
    this.check();
  }

  /** Called whenever a call ends. */
  check(): void {
    if (!this.pending || this.busy()) return;
    this.pending = false;
    this.restart();
  }
}
