#!/usr/bin/env node
import './require-node.js';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { hashPassword } from '../authz/password-hash.js';
import { rotateCookieKeys, rotateSigningKeys } from '../authz/keys.js';
import { maxSignedTokenLifetime } from '../authz/provider.js';
import { DEMO_EMAIL, demoConfig } from './demo.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { doctorCommand } from '../doctor/doctor.js';
import { startGateway } from '../app/server.js';
import { createLogger, type Logger } from '../log/logger.js';
import { openStore } from '../storage/open-store.js';
import { GatewayError } from '../web/errors.js';
import { checkCommand } from './check.js';
import { CommandError, rotateSecretsKey, secretsDelete, secretsList, secretsSet, type SecretsOptions } from './secrets.js';

const USAGE = `Usage: mcp-oauth-gateway <command> [--config FILE]

Commands:
  start           run the gateway (default config: ./gateway.json; without one, a built-in demo)
  check [--probe] [--timeout 30s]
                  validate a config file and print what it configures; --probe also starts each
                  stdio server once and connects to each url server, one line per server
  hash-password   read a password on stdin and print its hash for login.password.users
  rotate-keys     start signing with a new key (old keys stay published while their tokens live);
                  takes effect when the gateway next starts
  secrets set --user EMAIL|SUB --server NAME SECRET
                  store a person's secret for a server; the value is read from stdin
  secrets list --user EMAIL|SUB [--server NAME] [--json]
                  which of the declared secrets a person has set, and when (never the values)
  secrets delete --user EMAIL|SUB --server NAME SECRET
  rotate-secrets-key [--old-key-file FILE]
                  re-encrypt every secret under secretsKey (the new key); the old key comes from
                  --old-key-file, GATEWAY_OLD_SECRETS_KEY or previousSecretsKey
  doctor <publicUrl> [--server NAME]
                  check a running gateway as ChatGPT, Claude.ai, MCP Inspector and mcp-remote see it;
                  exit 1 when a check fails (run "doctor" without a URL for details)`;

const DEFAULT_CONFIG = 'gateway.json';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function configFile(explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  return existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined;
}

function loadOrExplain(file: string): GatewayConfig {
  try {
    return loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.describe());
    throw error;
  }
}

async function start(file: string | undefined): Promise<void> {
  const logger = createLogger();
  let config: GatewayConfig;
  let demoPassword: string | undefined;
  if (file) {
    config = loadOrExplain(file);
  } else {
    ({ config, password: demoPassword } = await demoConfig(Number(process.env.PORT ?? 8080)));
  }
  let running;
  try {
    running = await startGateway(config, logger);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE')
      fail(`listen: ${config.listen.host}:${config.listen.port} is already in use; change listen.port or stop the other program`);
    if (err.code === 'EACCES') fail(`listen: not allowed to listen on ${config.listen.host}:${config.listen.port}; use a port above 1024`);
    if (err.message.startsWith('metrics.listen:')) fail(err.message);
    if (error instanceof GatewayError && error.error.startsWith('secrets_')) fail(`secretsKey: ${error.message}`);
    fail(`storage: cannot open ${config.storage}: ${err.message}`);
  }
  logger.info(
    { event: 'started', publicUrl: config.publicUrl, listen: running.address, storage: running.store.description },
    'gateway started',
  );
  if (demoPassword) {
    process.stdout.write(
      [
        '',
        'mcp-oauth-gateway is running the built-in demo (no gateway.json found).',
        `  MCP server URL:  ${config.publicUrl}/mcp/demo   (add it as a connector in MCP Inspector)`,
        `  sign in as:      ${DEMO_EMAIL}`,
        `  password:        ${demoPassword}   (new at every start)`,
        'Write a gateway.json (see README) to configure your own servers and accounts.',
        '',
      ].join('\n'),
    );
  }
  stopGracefullyOnSignals(running, logger);
}

/**
 * SIGTERM (docker stop), SIGINT (Ctrl-C) and SIGHUP (the terminal closed) all stop gracefully:
 * calls in flight may finish until shutdownDeadline. A second Ctrl-C stops at once.
 */
function stopGracefullyOnSignals(running: { close(): Promise<void> }, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === 'SIGINT') process.exit(130);
      return;
    }
    stopping = true;
    logger.info({ event: 'stopping', signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onSignal);
}

async function hashPasswordCommand(): Promise<void> {
  const input = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (!input) fail('hash-password: give the password on stdin, e.g. `printf %s "$PASSWORD" | mcp-oauth-gateway hash-password`');
  process.stdout.write(`${await hashPassword(input)}\n`);
}

async function rotateKeys(file: string | undefined): Promise<void> {
  if (!file) fail(`rotate-keys: pass --config FILE (or create ./${DEFAULT_CONFIG}) so the keys' storage is known`);
  const config = loadOrExplain(file);
  const store = openStore(config.storage);
  const keys = await rotateSigningKeys(store, maxSignedTokenLifetime(config.tokens));
  await rotateCookieKeys(store);
  await store.close();
  process.stdout.write(
    `new signing key ${keys[0]!.jwk.kid}; ${keys.length - 1} older key(s) still published. Restart the gateway to sign with it.\n`,
  );
}

async function vaultCommand(command: string, args: string[], file: string | undefined, options: SecretsOptions): Promise<void> {
  if (!file) fail(`${command}: pass --config FILE (or create ./${DEFAULT_CONFIG}) so the storage and secretsKey are known`);
  const config = loadOrExplain(file);
  try {
    if (command === 'rotate-secrets-key') return await rotateSecretsKey(config, options);
    const [action, name] = args;
    if (action === 'set') return await secretsSet(config, name, options);
    if (action === 'list') return await secretsList(config, options);
    if (action === 'delete') return await secretsDelete(config, name, options);
    fail(`secrets: say "set", "list" or "delete"\n\n${USAGE}`);
  } catch (error) {
    if (error instanceof CommandError) fail(`${command}: ${error.message}`);
    throw error;
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      server: { type: 'string', short: 's' },
      probe: { type: 'boolean' },
      timeout: { type: 'string' },
      user: { type: 'string', short: 'u' },
      json: { type: 'boolean' },
      'old-key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command = 'start'] = positionals;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  switch (command) {
    case 'start':
      return start(configFile(values.config));
    case 'check': {
      const file = configFile(values.config);
      if (!file) fail(`no config file: pass --config FILE or create ./${DEFAULT_CONFIG}`);
      const code = await checkCommand(file, { probe: values.probe ?? false, timeout: values.timeout });
      process.stdout.write('', () => process.exit(code));
      return;
    }
    case 'hash-password':
      return hashPasswordCommand();
    case 'rotate-keys':
      return rotateKeys(configFile(values.config));
    case 'secrets':
    case 'rotate-secrets-key': {
      const options = { user: values.user, server: values.server, json: values.json, oldKeyFile: values['old-key-file'] };
      return vaultCommand(command, positionals.slice(1), configFile(values.config), options);
    }
    case 'doctor': {
      const code = await doctorCommand(positionals.slice(1), values.server);
      process.stdout.write('', () => process.exit(code));
      return;
    }
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main().catch((error: unknown) => fail(`mcp-oauth-gateway: ${error instanceof Error ? error.message : String(error)}`));
