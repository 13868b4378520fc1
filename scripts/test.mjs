#!/usr/bin/env node
// `npm test` after the type check and build: the unit project, THEN the integration project, never
// both at once (issue 15, item 6: a JVM broker and a million-reading drain must not share two cores
// with the unit tests). Each run writes its JSON report (test-results/vitest-<project>.json); the
// two are merged into test-results/vitest.json, which .ci/run reads for its closing
// 'N passed, N failed' line. Both projects always run; the exit code fails if either failed.
// Extra arguments go to both vitest runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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

for (const project of ['unit', 'integration']) {
  const out = join(results, `vitest-${project}.json`);
  rmSync(out, { force: true });
  const started = Date.now();
  // With file filters (npm test -- test/buffer) one project may have nothing to run: that is no failure.
  const extra = process.argv.slice(2);
  const args = [vitest, 'run', '--project', project, `--outputFile.json=${out}`, ...(extra.length ? ['--passWithNoTests', ...extra] : [])];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  const status = r.status ?? 1;
  if (status !== 0) rc = status;
  const seconds = Math.round((Date.now() - started) / 1000);
  if (!existsSync(out)) {
    // No report (vitest itself failed): count it as one failure so the closing line cannot read green.
    merged.numFailedTests += 1;
    merged.numTotalTests += 1;
    merged.success = false;
    merged.projects[project] = { exit: status, seconds, report: false };
    console.error(`${project}: no test report (vitest exited ${status})`);
    continue;
  }
  const rep = JSON.parse(readFileSync(out, 'utf8'));
  for (const k of counts) merged[k] += rep[k] ?? 0;
  merged.success &&= rep.success !== false && status === 0;
  merged.testResults.push(...(rep.testResults ?? []));
  merged.projects[project] = { exit: status, seconds, passed: rep.numPassedTests, failed: rep.numFailedTests };
  console.log(`${project}: ${rep.numPassedTests} passed, ${rep.numFailedTests} failed in ${seconds} s`);
}

writeFileSync(join(results, 'vitest.json'), JSON.stringify(merged));
process.exit(rc);
