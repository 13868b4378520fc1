import { defineConfig } from 'vitest/config';

// Four projects:
//  - unit: everything under test/ that needs no Kafka (real SQLite files, real MQTT brokers, socat ptys,
//    the simulated BLE controller); scripts/test.mjs runs it three files at a time;
//  - integration: test/integration/** against one real Kafka broker started by the global setup. Its
//    files run one at a time because some of them stop and restart that broker;
//  - cluster: the failover and leader-move files, each with a 3-node cluster of its own (a new
//    file with brokers of its own goes in CLUSTERS or OWN_BROKER, or it runs in the integration lane);
//  - brokers: the other files with brokers of their own (TLS and SASL listeners, a broker behind the
//    black-hole or the crash test's proxy, the fleet's 3-node cluster, the controller-failover file's
//    3-node cluster). The two lanes are balanced by duration (about 8 min each on the CI machine);
//    neither touches the shared broker.
// `npm test` (after lint, typecheck and build) runs unit first, alone; then integration, cluster and
// brokers side by side (JVM lanes that share nothing, mostly waiting on outages and restarts):
// scripts/test.mjs, which merges the JSON reports into test-results/vitest.json.
const CLUSTERS = ['test/integration/kafka-cluster-failover.test.ts', 'test/integration/kafka-cluster-leader.test.ts'];
const OWN_BROKER = [
  'test/integration/kafka-cluster-controller.test.ts',
  'test/integration/kafka-security.test.ts',
  'test/integration/forwarder-blackhole.test.ts',
  'test/integration/forwarder-crash.test.ts',
  'test/integration/kafka-fleet.test.ts',
  'test/integration/kafka-no-leader.test.ts',
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
          exclude: [...CLUSTERS, ...OWN_BROKER],
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
          include: CLUSTERS,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'brokers',
          include: OWN_BROKER,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
