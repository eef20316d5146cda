import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * End-to-end files share one lab and build on each other's state in a fixed order: the lab
 * itself, then the engine, then the stack. Their names start with that order.
 */
class ByFileName extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    // Set for the whole run: vitest takes the sequencer from the root config, not from a project.
    sequence: { sequencer: ByFileName },
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // One lab of booted hosts is shared by every end-to-end file: it is brought up once and
          // down at the end, and the files run one after another because they change those hosts.
          globalSetup: ['test/e2e/lab-setup.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
