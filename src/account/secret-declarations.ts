import type { GatewayConfig } from '../config/schema.js';
import { MAX_SECRET_BYTES, type SecretDeclaration } from '../secrets/vault.js';

export type { SecretDeclaration };

/** A server's declared secrets, in config order. */
export interface ServerSecrets {
  server: string;
  secrets: Array<{ name: string; declaration: SecretDeclaration }>;
}

/** Every server that declares secrets (`mcpServers.<name>.secrets`), in config order. */
export function declaredSecrets(config: Pick<GatewayConfig, 'mcpServers'>): ServerSecrets[] {
  const servers: ServerSecrets[] = [];
  for (const [server, settings] of Object.entries(config.mcpServers)) {
    const declared = Object.entries(settings.secrets ?? {});
    if (declared.length) servers.push({ server, secrets: declared.map(([name, declaration]) => ({ name, declaration })) });
  }
  return servers;
}

/**
 * Why a value cannot be saved for this secret, in words for the person at the form; undefined when
 * it can. The vault checks the same (and has the last word), in words for an operator.
 */
export function valueProblem(declaration: SecretDeclaration, name: string, value: string): string | undefined {
  const label = declaration.label ?? name;
  if (value.length === 0) return `Enter the ${label}. To remove a saved value, use Delete.`;
  if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES)
    return `This is longer than a ${label} can be (${MAX_SECRET_BYTES} bytes): check that you pasted only the ${label}.`;
  if (declaration.pattern !== undefined && !new RegExp(declaration.pattern).test(value)) {
    return `This does not look like a ${label}: it should match ${declaration.pattern}. Check that you copied the whole value.`;
  }
  return undefined;
}
