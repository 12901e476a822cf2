import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [{ name: 'execa', message: 'Use src/exec.ts' }] }],
    },
  },
  { files: ['src/exec.ts', 'src/exec-stream.ts', 'test/**'], rules: { 'no-restricted-imports': 'off' } },
);
