/**
 * A person's secrets as the parts that use them see them (process templates, tool arguments, the
 * account page, the CLI). The encrypted vault implements it; nothing else holds plaintext.
 */
export interface SecretSource {
  /** The value of one secret of a person for a server, or undefined when it is not set. */
  get(sub: string, serverName: string, name: string): Promise<string | undefined>;
  /** The names of a person's secrets set for a server, with when each was last set (ms since the epoch). */
  list(sub: string, serverName: string): Promise<Array<{ name: string; updatedAt: number }>>;
  set(sub: string, serverName: string, name: string, value: string): Promise<void>;
  delete(sub: string, serverName: string, name: string): Promise<void>;
  /** `listener` hears of every change of a person's secrets for a server; returns a function that stops it. */
  onChange(listener: (sub: string, serverName: string) => void): () => void;
}
