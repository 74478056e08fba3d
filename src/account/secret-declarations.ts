import type { GatewayConfig } from '../config/schema.js';

/** One secret a server asks each person for (`mcpServers.<name>.secrets.<NAME>`). */
export interface SecretDeclaration {
  label?: string;
  /** Where to get the value: a URL (shown as a link) or a sentence. */
  help?: string;
  /** A regular expression the value must match. */
  pattern?: string;
  required?: boolean;
}

/** A server's declared secrets, in config order. */
export interface ServerSecrets {
  server: string;
  secrets: Array<{ name: string; declaration: SecretDeclaration }>;
}

/** Every server that declares secrets, in config order. */
export function declaredSecrets(config: Pick<GatewayConfig, 'mcpServers'>): ServerSecrets[] {
  const servers: ServerSecrets[] = [];
  for (const [server, settings] of Object.entries(config.mcpServers)) {
    const declared = (settings as { secrets?: Record<string, SecretDeclaration> }).secrets;
    if (!declared || Object.keys(declared).length === 0) continue;
    servers.push({ server, secrets: Object.entries(declared).map(([name, declaration]) => ({ name, declaration })) });
  }
  return servers;
}

/** Why a value cannot be saved for this secret, in words for the person; undefined when it can. */
export function valueProblem(declaration: SecretDeclaration, name: string, value: string): string | undefined {
  const label = declaration.label ?? name;
  if (value.length === 0) return `Enter the ${label}. To remove a saved value, use Delete.`;
  if (value.length > MAX_SECRET_LENGTH)
    return `This is longer than ${MAX_SECRET_LENGTH} characters: check that you pasted only the ${label}.`;
  if (declaration.pattern && !new RegExp(declaration.pattern, 'u').test(value)) {
    return `This does not look like a ${label}: it should match ${declaration.pattern}. Check that you copied the whole value.`;
  }
  return undefined;
}

export const MAX_SECRET_LENGTH = 4096;
