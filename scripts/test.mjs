#!/usr/bin/env node
// `npm test` after the lint, type check and build: the unit project ALONE first (issue 15, item 6: a
// JVM broker and a million-reading drain must not share two cores with the unit tests), THEN the Kafka
// projects side by side: integration (the one broker of its global setup), cluster (3-node clusters of
// its own) and brokers (single brokers of its own); they share nothing. The cluster and brokers runs'
// output goes to test-results/<project>.log and is printed when they end, so the runs never
// interleave. Each run writes its JSON report (test-results/vitest-<project>.json); they are merged
// into test-results/vitest.json, which .ci/run reads for its closing 'N passed, N failed' line.
// Every project always runs; the exit code fails if any failed. Extra arguments go to every run.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The tests' Kafka brokers (scripts/kafka-local.sh, also under kafka-cluster.sh) run with the JVM's
// quick compiler only and the serial collector: a broker reaches ready on 3.0 s of CPU instead of 4.3 s
// and idles on a quarter less, and the three Kafka lanes below start dozens of brokers on two cores
// (one run each: the lanes took 470, 514 and 432 s against 549, 578 and 486 s, that run beside
// four single-broker start measurements). A developer's own broker (npm run kafka) and the benchmarks'
// keep kafka-local.sh's defaults (G1, the full JIT).
process.env.KAFKA_JVM_OPTS ??= '-XX:TieredStopAtLevel=1';
process.env.KAFKA_GC_OPTS ??= '-XX:+UseSerialGC';
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const results = join(root, 'test-results');
mkdirSync(results, { recursive: true });
rmSync(join(results, 'vitest.json'), { force: true });

const counts = [
  'numTotalTestSuites',
  'numPassedTestSuites',
  'numFailedTestSuites',
  'numPendingTestSuites',
  'numTotalTests',
  'numPassedTests',
  'numFailedTests',
  'numPendingTests',
  'numTodoTests',
];
const merged = Object.fromEntries(counts.map((k) => [k, 0]));
merged.startTime = Date.now();
merged.success = true;
merged.testResults = [];
merged.projects = {};
let rc = 0;

/** Runs one project; resolves with its exit status. `log` set: output to that file instead of ours. */
function run(project, log) {
  const out = join(results, `vitest-${project}.json`);
  rmSync(out, { force: true });
  // With file filters (npm test -- test/buffer) a project may have nothing to run: that is no failure.
  const extra = process.argv.slice(2);
  // The unit project runs three files at a time (vitest's default on 2 cores is one): most of its files
  // wait on child processes, ptys and fsyncs, and none asserts on wall-clock time. Measured one after the
  // other on the 2-core VM: 256 s with three, 369 s with two (the CPU busy about 90 % against 60 %).
  const workers = project === 'unit' ? ['--maxWorkers=3', '--minWorkers=1'] : [];
  const args = [vitest, 'run', '--project', project, ...workers, `--outputFile.json=${out}`, ...(extra.length ? ['--passWithNoTests', ...extra] : [])];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: log ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (log) {
      const file = createWriteStream(log);
      child.stdout.pipe(file, { end: false });
      child.stderr.pipe(file, { end: false });
      child.on('close', () => file.end());
    }
    child.on('error', () => resolve({ project, out, status: 1, seconds: Math.round((Date.now() - started) / 1000) }));
    child.on('close', (code) => resolve({ project, out, status: code ?? 1, seconds: Math.round((Date.now() - started) / 1000) }));
  });
}

function merge({ project, out, status, seconds }) {
  if (status !== 0) rc = status;
  if (!existsSync(out)) {
    // No report (vitest itself failed): count it as one failure so the closing line cannot read green.
    merged.numFailedTests += 1;
    merged.numTotalTests += 1;
    merged.success = false;
    merged.projects[project] = { exit: status, seconds, report: false };
    console.error(`${project}: no test report (vitest exited ${status})`);
    return;
  }
  const rep = JSON.parse(readFileSync(out, 'utf8'));
  for (const k of counts) merged[k] += rep[k] ?? 0;
  merged.success &&= rep.success !== false && status === 0;
  merged.testResults.push(...(rep.testResults ?? []));
  merged.projects[project] = { exit: status, seconds, passed: rep.numPassedTests, failed: rep.numFailedTests };
}

merge(await run('unit'));
const side = ['cluster', 'brokers'];
const runs = await Promise.all([run('integration'), ...side.map((p) => run(p, join(results, `${p}.log`)))]);
for (const p of side) {
  console.log(`\n---- ${p} project (brokers of its own; ran beside the integration project) ----`);
  const log = join(results, `${p}.log`);
  if (existsSync(log)) process.stdout.write(readFileSync(log));
}
for (const r of runs) merge(r);
for (const [project, p] of Object.entries(merged.projects)) {
  console.log(`${project}: ${p.report === false ? 'no report' : `${p.passed} passed, ${p.failed} failed`} in ${p.seconds} s`);
}

// The failures again, last: a CI log is often read from its tail, where the unit project's own report
// (printed first) is long gone.
for (const file of merged.testResults) {
  for (const t of file.assertionResults ?? []) {
    if (t.status !== 'failed') continue;
    const first = String(t.failureMessages?.[0] ?? '')
      .split('\n')
      .slice(0, 6)
      .join('\n    ');
    console.log(`FAILED ${relative(process.cwd(), file.name)} > ${t.fullName}\n    ${first}`);
  }
}

writeFileSync(join(results, 'vitest.json'), JSON.stringify(merged));
process.exit(rc);
