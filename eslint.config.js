// Lint rules that catch real mistakes; layout is Prettier's job (.prettierrc.json), so eslint-config-prettier
// switches off every rule that would fight it. `npm run lint` runs both; `npm run format` rewrites.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import stylistic from '@stylistic/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.ci/node/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  comments.recommended,
  prettier,
  {
    plugins: { '@stylistic': stylistic },
    // Prettier wraps code at 140 but leaves long strings, template literals and comments alone.
    rules: { '@stylistic/max-len': ['error', { code: 140 }] },
  },
  // Plain scripts (test/run-tests.mjs, this file) run on Node.
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      // Type-aware, for the promise rules below.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A file may go over with `/* eslint-disable max-lines -- <why it is one file> */` at the top.
      'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
      '@eslint-community/eslint-comments/require-description': ['error', { ignore: [] }],
      '@eslint-community/eslint-comments/disable-enable-pair': ['error', { allowWholeFile: true }],
    },
  },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-console': 'error',
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  // Tests walk parsed JSON, YAML and JSON-RPC results of many shapes; src keeps the rule.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // The CLI and the benchmark talk to a person on the terminal.
  { files: ['src/cli/**/*.ts', 'bench/**/*.ts'], rules: { 'no-console': 'off' } },
);
