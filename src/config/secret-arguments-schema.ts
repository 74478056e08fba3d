/** Per server: the tool arguments the gateway fills with the caller's secrets. */
import { z } from 'zod';

/** `{ "<tool>": { "<argument>": "${secret.NAME}" } }`: arguments hidden from the model and filled per caller. */
export const secretArguments = z
  .record(
    z.string().min(1),
    z.record(z.string().min(1), z.string(), {
      error: 'each tool maps argument names to templates, e.g. { "apiKey": "${secret.API_KEY}" }',
    }),
    { error: 'secretArguments must be an object of tools, e.g. { "search": { "apiKey": "${secret.API_KEY}" } }' },
  )
  .optional();
