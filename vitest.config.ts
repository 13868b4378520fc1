import { defineConfig } from 'vitest/config';

// Three projects:
//  - unit: everything under test/ that needs no Kafka (real SQLite files, real MQTT brokers, socat ptys,
//    the simulated BLE controller);
//  - integration: test/integration/** against one real Kafka broker started by the global setup. Its
//    files run one at a time because some of them stop and restart that broker;
//  - cluster: the integration files that start brokers of their own (3-node clusters, the fleet, TLS
//    listeners, the black-hole proxy) and never touch the shared one. They run one at a time too.
// `npm test` (after lint, typecheck and build) runs unit first, alone; then integration and cluster side by side (two JVM lanes that
// share nothing): scripts/test.mjs, which merges the JSON reports into test-results/vitest.json.
const OWN_BROKERS = [
  'test/integration/kafka-cluster-*.test.ts',
  'test/integration/kafka-fleet.test.ts',
  'test/integration/kafka-security.test.ts',
  'test/integration/forwarder-blackhole.test.ts',
  'test/integration/forwarder-crash.test.ts',
];

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
          exclude: OWN_BROKERS,
          globalSetup: ['test/setup/kafka-global.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: OWN_BROKERS,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
