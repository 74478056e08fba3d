import type { KeyValueStore } from '../storage/store.js';

const key = (accountId: string, clientId: string) => `consent:${accountId}:${clientId}`;

/**
 * Approval is remembered per person and client: the grant they approved is found again on
 * their next authorization, so the consent page appears only for what they have not approved
 * yet (such as another MCP server).
 */
export async function rememberGrant(
  store: KeyValueStore,
  accountId: string,
  clientId: string,
  grantId: string,
  ttlSeconds: number,
): Promise<void> {
  await store.set(key(accountId, clientId), grantId, ttlSeconds);
}

export async function rememberedGrantId(store: KeyValueStore, accountId: string, clientId: string): Promise<string | undefined> {
  return store.get<string>(key(accountId, clientId));
}

/** The person revoked the application: its next authorization asks again. */
export async function forgetGrant(store: KeyValueStore, accountId: string, clientId: string): Promise<void> {
  await store.delete(key(accountId, clientId));
}
