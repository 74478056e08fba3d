/** The vault's config: each server's declared secrets, and the top-level `secretsKey`. */
import { z } from 'zod';
import { readSecretsKey, type SecretsKey } from '../lib/secrets-key.js';

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const optionalText = (what: string) => z.string({ error: `${what} must be a string` }).optional();

/** A JavaScript regular expression; the problem names the field and what the engine said. */
const pattern = z
  .string({ error: 'pattern must be a regular expression written as a string, e.g. "^gh[pousr]_"' })
  .superRefine((value, ctx) => {
    try {
      new RegExp(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `pattern is not a valid regular expression: ${(error as Error).message}` });
    }
  })
  .optional();

const declaration = z
  .object(
    {
      /** What the account page calls it; the name when absent. */
      label: optionalText('label'),
      /** Where to get one (a URL or a sentence), shown next to the field. */
      help: optionalText('help'),
      /** A value must match it to be stored. */
      pattern,
      /** Whether a call to the server needs it set. */
      required: z.boolean({ error: 'required must be true or false' }).default(false),
      /** Reserved for obtaining the secret through an OAuth connection (a later version); accepted, not yet used. */
      connect: optionalText('connect'),
      /** Reserved, with `connect`: the scopes to ask for. */
      scopes: z.array(z.string(), { error: 'scopes must be a list of strings' }).optional(),
    },
    { error: 'each secret must be an object like { "label": "GitHub token", "pattern": "^gh[pousr]_", "required": true }' },
  )
  .strict();

/** `"secrets": { "GITHUB_TOKEN": { … } }`: the secrets each person sets for this server. */
export const secretDeclarations = z
  .record(
    z.string().regex(SECRET_NAME, {
      error: 'secret names are written like environment variable names: letters, digits and "_", not starting with a digit',
    }),
    declaration,
    { error: 'secrets must be an object of secrets by name, e.g. { "GITHUB_TOKEN": { "label": "GitHub token" } }' },
  )
  .default({});

/** `secretsKey` / `previousSecretsKey`: the key itself (base64 or hex) or "file:/path"; never echoed in a problem. */
export const secretsKeyField = (what: string) =>
  z
    .string({ error: `${what} must be a string: the key as base64 or hex, or "file:/path/to/key"` })
    .transform((value, ctx): SecretsKey => {
      try {
        return readSecretsKey(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional();
