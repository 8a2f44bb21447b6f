import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // spec/fixtures are consumers of the built package, type-checked by their own spec.
  { ignores: ['dist/', 'node_modules/', '.bench-out/', 'docs/api/', 'spec/fixtures/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // A NestJS module is an empty class that its decorator describes.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
    },
  },
  {
    files: ['spec/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/require-await': 'off',
      // Passport's and Express's own types hand out `any`; the specs check values, not types.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The demo page's script runs in the browser, as a classic script with no build step.
    files: ['demo/public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly', sessionStorage: 'readonly', fetch: 'readonly', FormData: 'readonly', Intl: 'readonly',
      },
    },
  },
);
