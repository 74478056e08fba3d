/**
 * The email of a person, for log lines that name them by `sub` (a random id nobody recognises).
 * Access tokens carry only `sub`, so the email is read from the account directory when a session
 * opens and kept here, so per-call and per-process lines never touch storage.
 */
export class PersonLabels {
  /** Least recently used first (a Map keeps insertion order). */
  private readonly emails = new Map<string, string>();

  constructor(
    private readonly lookup: (sub: string) => Promise<string | undefined>,
    private readonly capacity = 10_000,
  ) {}

  /** Reads the email once per person (again after it falls out of the cache); undefined when unknown or storage fails. */
  async emailOf(sub: string): Promise<string | undefined> {
    const cached = this.cachedEmailOf(sub);
    if (cached !== undefined) return cached;
    let email: string | undefined;
    try {
      email = await this.lookup(sub);
    } catch {
      return undefined; // a log label is never worth failing a request for
    }
    if (email === undefined) return undefined;
    this.emails.set(sub, email);
    if (this.emails.size > this.capacity) this.emails.delete(this.emails.keys().next().value!);
    return email;
  }

  /** The email when it is known already, without waiting. */
  cachedEmailOf(sub: string): string | undefined {
    const email = this.emails.get(sub);
    if (email !== undefined) {
      this.emails.delete(sub);
      this.emails.set(sub, email);
    }
    return email;
  }
}
