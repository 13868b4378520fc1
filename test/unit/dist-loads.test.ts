/**
 * Every module of the built gateway loads in plain Node, as the shipped command loads it: no
 * transform, Node's own ES module loader, which sees only some of a CommonJS package's exports as
 * named ones. Vitest's transform is more lenient: a named import kafkajs does not expose to Node
 * (ConfigResourceTypes) passed every in-process test, and stopped `bin/wardgate.js` from loading
 * the kafkajs client at all. The one module left out runs only as a worker thread.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder } from '../helpers/files.js';
import { REPO } from '../helpers/gateway.js';

/** Worker-thread entry points: they read workerData when loaded. */
const WORKER_ENTRIES = new Set(['forwarder/client-worker.js']);

describe('the build', () => {
  it('every module of dist/src loads in plain Node (no loader, no transform)', () => {
    const src = join(REPO, 'src');
    const dist = join(REPO, 'dist/src');
    const stale = readdirSync(src, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => {
        const built = join(dist, f.replace(/\.ts$/, '.js'));
        return !existsSync(built) || statSync(built).mtimeMs < statSync(join(src, f)).mtimeMs;
      });
    expect(stale, 'run npm run build first').toEqual([]);
    const modules = filesUnder(dist, '.js').filter((f) => !WORKER_ENTRIES.has(relative(dist, f)));
    expect(modules.length).toBeGreaterThan(100);
    const script =
      `const bad = []; for (const f of ${JSON.stringify(modules)}) ` +
      "{ try { await import(f); } catch (e) { bad.push(f + ': ' + e.message); } } console.log(JSON.stringify(bad)); process.exit(0);";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual([]);
  });
});
