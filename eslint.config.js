// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of DESIGN.md ("Dependencies point one way"), enforced. Each entry: the files, the
 * folders they must not import from, and whether type-only imports of those are allowed.
 */
const layer = (folders) =>
  folders.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../${f}/**`, `../../${f}/**`]);
const layerRules = (files, forbidden, message, allowTypeImports = false) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: [{ group: layer(forbidden), message, allowTypeImports }] },
    ],
  },
});

/** SQL lives in db/ only: elsewhere, nothing calls `.query(...)` on a pool or a client. */
const noSqlOutsideDb = {
  selector: "CallExpression[callee.property.name='query']",
  message: 'SQL lives in db/: call a repository function from there.',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.tools/**', 'bin/**', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  layerRules(
    ['operators/**/*.ts'],
    ['activities', 'api', 'db', 'workflows', 'workers', 'sandbox', 'cli'],
    'An adapter speaks to its operator and uses lib/ only (DESIGN.md layout).',
  ),
  layerRules(
    ['db/**/*.ts'],
    ['activities', 'api', 'operators', 'workflows', 'workers', 'sandbox', 'cli'],
    'db/ holds the repository functions and uses lib/ only (DESIGN.md layout).',
  ),
  layerRules(
    ['lib/**/*.ts'],
    ['activities', 'api', 'db', 'operators', 'workflows', 'workers', 'sandbox', 'cli'],
    'lib/ is the bottom layer: it imports nothing of ours above it.',
  ),
  layerRules(
    ['sandbox/**/*.ts'],
    ['activities', 'api', 'db', 'operators', 'workflows', 'workers', 'cli'],
    'The sandbox shares nothing with the adapters: a simulator reusing their code cannot catch their mistakes.',
  ),
  {
    // Activities never reach up into the API, and use workflow code for its types only.
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: layer(['api', 'workers', 'cli', 'sandbox']),
              message: 'Activities never import the API or entry points.',
            },
            {
              group: layer(['workflows']),
              message:
                'Activities import workflow types only (starting workflows is for the API and workflows).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // The API reaches operators through their registry (operators/registry.ts), never an
    // adapter's internals, and never through activities' modules.
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../operators/*/**', '../operators/*/*'],
              message: 'The API reaches operators through operators/registry.ts (and their types).',
            },
            {
              group: layer(['activities']),
              message: 'The API uses activity types only; what moves money runs as an activity.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      'api/**/*.ts',
      'activities/**/*.ts',
      'workers/**/*.ts',
      'workflows/**/*.ts',
      'lib/**/*.ts',
      'operators/**/*.ts',
      'cli/**/*.ts',
    ],
    rules: { 'no-restricted-syntax': ['error', noSqlOutsideDb] },
  },
  {
    // Workflow code is replayed: it must stay deterministic and free of I/O (DESIGN.md, Temporal).
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'pg',
                'express',
                'pino*',
                '../activities/*',
                '../db/*',
                '../operators/*',
                '../api/*',
              ],
              message: 'Workflows are deterministic: import only types and pure helpers.',
              allowTypeImports: true,
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'No I/O in workflows: call an activity.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Non-deterministic: pass it in or use uuid4() from the SDK.',
        },
      ],
    },
  },
);
