import type { KeyValueStore } from './store.js';

/** Whether the store answers now; used to tell an outage from a bug. */
export async function storageReachable(store: KeyValueStore, deadlineMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('ping timed out')), deadlineMs);
  });
  try {
    await Promise.race([store.ping(), deadline]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
