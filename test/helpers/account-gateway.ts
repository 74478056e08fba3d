import { startGateway, type RunningGateway } from '../../src/app/server.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import type { SecretSource } from '../../src/secrets/secret-source.js';
import { openStore } from '../../src/storage/open-store.js';
import type { KeyValueStore } from '../../src/storage/store.js';
import { demoServerCommand, LogCapture, testConfigJson } from './gateway.js';

export const GITHUB_SECRETS = {
  GITHUB_TOKEN: { label: 'GitHub token', help: 'https://github.com/settings/tokens', pattern: '^gh[pousr]_', required: true },
  GITHUB_ORG: { label: 'Organisation', help: 'The organisation whose repositories the tools may read.' },
};

/** Until the vault is on main: a SecretSource over the same store (plaintext; the vault's own tests cover encryption). */
class StoreSecrets implements SecretSource {
  constructor(private readonly store: KeyValueStore) {}
  private key = (sub: string, server: string, name: string) => `test-secret:${sub}:${server}:${name}`;
  async get(sub: string, server: string, name: string) {
    return (await this.store.get<{ value: string }>(this.key(sub, server, name)))?.value;
  }
  async list(sub: string, server: string) {
    const found = [];
    for (const name of Object.keys(GITHUB_SECRETS)) {
      const entry = await this.store.get<{ updatedAt: number }>(this.key(sub, server, name));
      if (entry) found.push({ name, updatedAt: entry.updatedAt });
    }
    return found;
  }
  async set(sub: string, server: string, name: string, value: string) {
    await this.store.set(this.key(sub, server, name), { value, updatedAt: Date.now() });
  }
  async delete(sub: string, server: string, name: string) {
    await this.store.delete(this.key(sub, server, name));
  }
  onChange() {
    return () => {};
  }
}

export interface AccountGateway {
  url: string;
  running: RunningGateway;
  secrets: SecretSource;
  logs: LogCapture;
  subOf(email: string): Promise<string>;
  close(): Promise<void>;
}

/** A gateway with a `github` server that declares secrets (and a `demo` server that declares none). */
export async function startAccountGateway(): Promise<AccountGateway> {
  const json = await testConfigJson({ mcpServers: { demo: demoServerCommand, github: demoServerCommand } });
  const config = parseConfig(json, 'test config');
  (config.mcpServers.github as Record<string, unknown>).secrets = GITHUB_SECRETS;
  const store = openStore(config.storage);
  const secrets = new StoreSecrets(store);
  const logs = new LogCapture();
  const running = await startGateway(config, createLogger({ level: 'debug', destination: logs }), store, { secrets });
  return {
    url: config.publicUrl,
    running,
    secrets,
    logs,
    subOf: async (email) => (await store.get<string>(`account:email:${email}`))!,
    close: () => running.close(),
  };
}
