/** Field builders every section of the config uses: durations, counts, emails, string maps. */
import { z } from 'zod';
import { parseDuration } from './duration.js';

const durationHint = (what: string) => `${what} must be a duration like "90s", "15m", "1h" or "30d" (or a number of seconds)`;

export const requiredDuration = (what: string) =>
  z
    .union([z.string(), z.number()], { error: (issue) => `${durationHint(what)}, not ${JSON.stringify(issue.input)}` })
    .transform((value, ctx) => {
      const seconds = parseDuration(value);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: `${durationHint(what)}, not ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return seconds;
    });

// prefault: the default goes through the same parsing as a written value.
export const duration = (what: string, fallback: string) => requiredDuration(what).prefault(fallback);

export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: 'must be an email address like "alice@example.com"' }));

export const stringMap = (what: string) =>
  z.record(z.string(), z.string(), { error: `${what} must be an object of strings, e.g. { "NAME": "value" }` }).default({});

export const wholeNumber = (what: string, fallback: number) =>
  z
    .number({ error: `${what} must be a whole number, e.g. ${fallback}` })
    .int({ error: `${what} must be a whole number, e.g. ${fallback}` })
    .min(1, { error: `${what} must be at least 1` })
    .default(fallback);
