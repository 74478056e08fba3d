import type { Logger } from '../log/logger.js';
import type { KeyValueStore } from '../storage/store.js';
import { changeFeedFor } from './change-feed.js';
import type { SecretsKey } from '../lib/secrets-key.js';
import { SecretVault, type SecretDeclarations } from './vault.js';

/** The slice of the gateway config the vault reads (structural, so this folder needs nothing from config/). */
export interface VaultConfig {
  mcpServers: Record<string, { secrets: SecretDeclarations[string] }>;
  secretsKey?: SecretsKey;
  previousSecretsKey?: SecretsKey;
}

/**
 * The vault with every server's declared secrets; with Redis, changes are heard from the other
 * replicas and the CLI. Refuses (GatewayError) when stored secrets cannot be read with the configured key(s).
 */
export function openSecretVault(config: VaultConfig, store: KeyValueStore, logger?: Logger): Promise<SecretVault> {
  return SecretVault.open({
    store,
    declarations: Object.fromEntries(Object.entries(config.mcpServers).map(([name, server]) => [name, server.secrets])),
    key: config.secretsKey,
    previousKey: config.previousSecretsKey,
    changes: changeFeedFor(store),
    logger,
  });
}
