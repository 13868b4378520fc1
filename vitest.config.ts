import { defineConfig } from 'vitest/config';

// Two projects:
//  - unit: everything under test/ that needs no Kafka (real SQLite files, real MQTT brokers, ptys);
//  - integration: test/integration/**, against one real Kafka broker started by the global setup.
//    Its files run one at a time because some of them stop and restart that broker.
export default defineConfig({
  test: {
    // The JSON report lets .ci/run print the plain 'N passed, N failed' closing line.
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
