/** login (password users, Google, GitHub, OpenID providers) and access (who may get in). */
import { z } from 'zod';
import { duration, email } from './schema-fields.js';

const passwordUser = z
  .object({
    email,
    passwordHash: z.string({ error: 'passwordHash is required: create one with `mcp-oauth-gateway hash-password`' }).regex(/^scrypt\$/, {
      error: 'must be a hash printed by `mcp-oauth-gateway hash-password` (it starts with "scrypt$"), never a plain password',
    }),
    name: z.string().optional(),
  })
  .strict();

const secret = (what: string) =>
  z
    .string({ error: `${what} is required (from the identity provider's app settings; "\${ENV_VAR}" keeps it out of the file)` })
    .min(1, { error: `${what} must not be empty` });

const googleLogin = z
  .object({
    clientId: z.string({ error: 'clientId is required: the OAuth client id from Google Cloud Console' }).min(1),
    clientSecret: secret('clientSecret'),
    label: z.string().default('Google'),
    /** Only for testing against a stand-in; Google's issuer is fixed. */
    issuer: z.url().default('https://accounts.google.com'),
  })
  .strict();

const githubLogin = z
  .object({
    clientId: z.string({ error: 'clientId is required: the client id of your GitHub OAuth app' }).min(1),
    clientSecret: secret('clientSecret'),
    label: z.string().default('GitHub'),
    /** GitHub Enterprise Server: https://github.example.com and https://github.example.com/api/v3 */
    webUrl: z.url().default('https://github.com'),
    apiUrl: z.url().default('https://api.github.com'),
  })
  .strict();

const RESERVED_PROVIDER_IDS = new Set(['password', 'google', 'github']);

const oidcLogin = z
  .object({
    id: z
      .string({ error: 'id is required: a short name used in the callback URL /login/<id>/callback' })
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, {
        error: 'id may only use lowercase letters, digits and "-" (it becomes part of the callback URL)',
      })
      .refine((id) => !RESERVED_PROVIDER_IDS.has(id), { error: 'id must not be "password", "google" or "github" (those are built in)' }),
    label: z.string({ error: 'label is required: the button text on the login page, e.g. "Okta"' }).min(1),
    issuer: z.url({ error: 'issuer must be the URL of the OpenID provider, e.g. "https://example.okta.com"' }),
    clientId: z.string({ error: 'clientId is required' }).min(1),
    clientSecret: secret('clientSecret'),
    scopes: z.array(z.string()).default(['openid', 'email', 'profile']),
    groupsClaim: z.string().optional(),
  })
  .strict();

export const login = z
  .object({
    password: z
      .object({
        users: z.array(passwordUser).min(1, { error: 'add at least one user, or remove login.password' }),
      })
      .strict()
      .optional(),
    google: googleLogin.optional(),
    github: githubLogin.optional(),
    oidc: z.array(oidcLogin).optional(),
  })
  .strict()
  .prefault({});

/** Who may get in after signing in at an identity provider (listed password users always may). */
export const access = z
  .object({
    allowEmails: z.array(email).optional(),
    allowDomains: z
      .array(
        z
          .string()
          .trim()
          .toLowerCase()
          .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, { error: 'must be a domain like "example.com"' }),
      )
      .optional(),
    allowGithubOrgs: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9-]+(\/[A-Za-z0-9_.-]+)?$/, { error: 'must be a GitHub organization ("acme") or team ("acme/platform")' }),
      )
      .optional(),
    allowGroups: z.array(z.string().min(1)).optional(),
    allowAnyone: z.boolean().default(false),
    /** How long a sign-in's Workspace domain, groups and GitHub teams count before they must be confirmed again. */
    signInAgainAfter: duration('signInAgainAfter', '7d'),
  })
  .strict()
  .prefault({});
