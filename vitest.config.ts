import { defineConfig } from 'vitest/config';

// Two projects:
//  - unit: everything under test/ that needs no Kafka (real SQLite files, real MQTT brokers, ptys);
//  - integration: test/integration/**, against one real Kafka broker started by the global setup.
//    Its files run one at a time because some of them stop and restart that broker.
// `npm test` runs the two projects one after the other, never at once (scripts/test.mjs), and merges
// their JSON reports into test-results/vitest.json.
export default defineConfig({
  test: {
    // The JSON report lets .ci/run print the plain 'N passed, N failed' closing line (scripts/test.mjs
    // points each project's run at its own file and merges them).
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/kafka-global.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
