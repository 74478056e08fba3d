import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { SecretSource } from '../../src/secrets/secret-source.js';
import { demoServerCommand, startTestGateway, type TestGateway } from './gateway.js';

export const GITHUB_SECRETS = {
  GITHUB_TOKEN: { label: 'GitHub token', help: 'https://github.com/settings/tokens', pattern: '^gh[pousr]_', required: true },
  GITHUB_ORG: { label: 'Organisation', help: 'The organisation whose repositories the tools may read.' },
};

export interface AccountGateway extends TestGateway {
  /** The gateway's own vault: what the page saved, read back. */
  secrets: SecretSource;
  /** A person's subject, as the account directory recorded it at their sign-in. */
  subOf(email: string): Promise<string>;
}

/** A gateway with a `github` server that declares secrets, a `demo` server that declares none, and a vault key. */
export async function startAccountGateway(): Promise<AccountGateway> {
  const gw = await startTestGateway({
    secretsKey: randomBytes(32).toString('base64'),
    mcpServers: { demo: demoServerCommand, github: { ...demoServerCommand, secrets: GITHUB_SECRETS } },
  });
  return {
    ...gw,
    secrets: gw.running.gateway.secrets,
    subOf: async (email) => (await gw.running.store.get<string>(`account:email:${email}`))!,
  };
}

/** Opens the account page in a fresh browser and signs in there with a password, the way a person would. */
export async function signedInPage(browser: Browser, url: string, user: { email: string; password: string }, path = '/account') {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}${path}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.match((await page.textContent('main')) ?? '', /to see and change your account on this gateway/);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  return { context, page };
}
