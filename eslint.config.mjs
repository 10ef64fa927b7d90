// Lint: TypeScript rules, and Nx module boundaries that keep the architecture of DESIGN §1:
// plugins import only the SDK, the SDK imports nothing of ours, the repository only the SDK,
// core the repository and the SDK, the API core; apps compose.
import nx from '@nx/eslint-plugin';

const production = {
  sdk: [],
  repository: ['scope:sdk'],
  core: ['scope:sdk', 'scope:repository'],
  api: ['scope:core', 'scope:sdk', 'scope:repository'],
  testing: ['scope:sdk'],
  plugin: ['scope:sdk'],
  app: ['scope:api', 'scope:core', 'scope:app', 'scope:sdk', 'scope:repository'],
  // End-to-end tests read what plugins wrote (the Ethereum plugin's block decoder checks exported files).
  e2e: ['scope:app', 'scope:core', 'scope:testing', 'scope:sdk', 'scope:repository', 'scope:api', 'scope:plugin'],
};

const constraints = (extra) =>
  Object.entries(production).map(([scope, allowed]) => ({ sourceTag: `scope:${scope}`, onlyDependOnLibsWithTags: [...allowed, ...extra] }));

// The CLI's `serve` and the end-to-end tests start the server application itself.
const allow = ['@chainvault/server'];

const testFiles = ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/__fixtures__/**/*.ts', 'apps/server-e2e/test-support/**/*.ts'];

export default [
  { ignores: ['**/dist', '**/node_modules', '**/*.js', '**/*.cjs', '**/*.mjs', 'data/**', 'tmp/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Used where an invariant holds that the types cannot express (a job of kind RESTORE has a restoreId).
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@nx/enforce-module-boundaries': ['error', { allow, depConstraints: constraints([]) }],
    },
  },
  {
    // Tests may use the shared test helpers, whatever their project.
    files: testFiles,
    rules: {
      '@nx/enforce-module-boundaries': ['error', { allow, depConstraints: constraints(['scope:testing']) }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['apps/server-e2e/src/support/**/*.ts', 'apps/cli/src/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
];
