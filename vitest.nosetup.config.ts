import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { root: '/work/main', include: ['test/e2e/33-day2.test.ts'], testTimeout: 600_000, hookTimeout: 900_000, fileParallelism: false } });
