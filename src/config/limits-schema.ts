/** metrics (admin listener or token) and rateLimits (per IP or per person). */
import { z } from 'zod';
import { duration } from './schema-fields.js';

const listenPort = z
  .number({ error: 'port must be a number between 0 and 65535' })
  .int()
  .min(0)
  .max(65535, { error: 'port must be between 0 and 65535' });

export const metrics = z.preprocess(
  (value, ctx) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be an object like { "listen": { "port": 9464 } } and/or { "token": "${METRICS_TOKEN}" }, ' +
          `not ${JSON.stringify(value)}; remove "metrics" to turn metrics off`,
      });
    }
    return value;
  },
  z
    .object({
      /** A separate listener that serves only GET /metrics (keep it private: 127.0.0.1 or an internal network). */
      listen: z
        .object(
          {
            host: z.string().default('127.0.0.1'),
            port: listenPort,
          },
          { error: 'listen must be { "host": "127.0.0.1", "port": 9464 }' },
        )
        .strict()
        .optional(),
      /** Serves GET /metrics on the main port to requests with "Authorization: Bearer <token>". */
      token: z
        .string({ error: 'token must be a string, e.g. "${METRICS_TOKEN}"' })
        .min(16, {
          error:
            'token must be at least 16 characters (it guards /metrics on the public port); ' +
            'e.g. "${METRICS_TOKEN}" with `openssl rand -hex 32`',
        })
        .optional(),
    })
    .strict()
    .refine((value) => value.listen || value.token, {
      error:
        'metrics needs "listen" (a separate admin port) or "token" (GET /metrics on the main port with a bearer token), or both; ' +
        'remove "metrics" to turn metrics off',
    }),
);

/** `{ "limit": 30, "window": "15m" }`, or false for no limit. */
const rateLimit = (name: string, limit: number, window: string) =>
  z
    .preprocess(
      (value, ctx) => {
        if (value === false) return null;
        if (!value || typeof value !== 'object' || Array.isArray(value)) {
          ctx.addIssue({
            code: 'custom',
            message: `must be false (no limit) or like { "limit": ${limit}, "window": "${window}" }, not ${JSON.stringify(value)}`,
          });
        }
        return value;
      },
      z
        .object({
          limit: z
            .number({ error: `limit must be a whole number of requests, e.g. ${limit}` })
            .min(1, { error: 'limit must be at least 1 (use false to turn this limit off)' })
            .refine(Number.isInteger, { error: `limit must be a whole number of requests, e.g. ${limit}` }),
          window: duration('window', window),
        })
        .strict()
        .nullable(),
    )
    .transform((rule) => rule ?? (false as const))
    .prefault({ limit, window });

/** Defaults: generous for people and connectors, tight enough to stop scripted guessing and floods. */
export const DEFAULT_RATE_LIMITS = {
  login: { limit: 30, window: '15m' },
  // ChatGPT and Claude.ai register and fetch tokens from a few server addresses shared by all
  // their users: these limits stop floods without turning a busy team's connectors away.
  register: { limit: 120, window: '1h' },
  token: { limit: 600, window: '1m' },
  mcp: { limit: 600, window: '1m' },
  // Each GET /authorize stores a sign-in in progress for an hour, signed in or not.
  authorize: { limit: 300, window: '15m' },
  initialize: { limit: 30, window: '1m' },
} as const;

const rateLimitRules = z
  .object({
    /** Per client IP: password form posts and starts of Google/GitHub/OIDC sign-in. */
    login: rateLimit('login', DEFAULT_RATE_LIMITS.login.limit, DEFAULT_RATE_LIMITS.login.window),
    /** Per client IP: POST /register. */
    register: rateLimit('register', DEFAULT_RATE_LIMITS.register.limit, DEFAULT_RATE_LIMITS.register.window),
    /** Per client IP: POST /token. */
    token: rateLimit('token', DEFAULT_RATE_LIMITS.token.limit, DEFAULT_RATE_LIMITS.token.window),
    /** Per person (the token's sub): POST /mcp/<server>. */
    mcp: rateLimit('mcp', DEFAULT_RATE_LIMITS.mcp.limit, DEFAULT_RATE_LIMITS.mcp.window),
    /** Per client IP: GET /authorize. */
    authorize: rateLimit('authorize', DEFAULT_RATE_LIMITS.authorize.limit, DEFAULT_RATE_LIMITS.authorize.window),
    /** Per person: MCP initialize requests (new sessions), on top of mcp. */
    initialize: rateLimit('initialize', DEFAULT_RATE_LIMITS.initialize.limit, DEFAULT_RATE_LIMITS.initialize.window),
  })
  .strict();

/** `"rateLimits": false` turns every limit off. */
export const rateLimits = z
  .preprocess((value, ctx) => {
    if (value === false) return { login: false, register: false, token: false, mcp: false, authorize: false, initialize: false };
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be false (no limits) or an object with any of "login", "register", "token", "mcp", "authorize" and "initialize", ' +
          `not ${JSON.stringify(value)}`,
      });
    }
    return value;
  }, rateLimitRules)
  .prefault({});
