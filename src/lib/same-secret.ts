import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Small pure helpers shared by several layers (src/lib imports nothing from the project).
 * Secrets are compared through their sha256 so that the comparison takes the same time whatever
 * the lengths, and neither length nor content leaks through timing.
 */
export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** sha256 as base64url text: what is stored or sent in place of a secret (cookie names, binding hashes). */
export function sha256Text(value: string): string {
  return sha256(value).toString('base64url');
}

/** Whether a presented secret equals the expected one, in constant time. */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}
