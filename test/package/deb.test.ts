/**
 * The Debian package as an operator gets it: scripts/package-deb.sh builds the amd64 package
 * (arm64 needs a cross compiler and is not built here), dpkg-deb shows its control data, files,
 * modes, maintainer scripts and conffiles, the extracted gateway runs, lintian finds no error,
 * and the package installs, upgrades (the data key and an edited conffile are kept) and purges
 * on this machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/bin.js';
import { REPO, tempDir } from '../helpers/gateway.js';

const VERSION = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
const DEB = join(REPO, `dist/deb/wardgate_${VERSION}_amd64.deb`);
let extracted = '';
let control = '';
/** lintian takes a while: started as soon as the package exists, awaited by its test. */
let lintian: Promise<{ status: number | null; out: string; err: string }>;

/** Runs a command without blocking the event loop (lintian and dpkg take a while). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, out, err }));
  });
}

beforeAll(async () => {
  ensureBuilt();
  rmSync(DEB, { force: true });
  const b = await run('bash', [join(REPO, 'scripts/package-deb.sh')], { WARDGATE_DEB_ARCHS: 'amd64', WARDGATE_DEB_SKIP_BUILD: '1' });
  if (b.status !== 0) throw new Error(`package-deb.sh failed (${b.status}): ${b.err}`);
  lintian = run('lintian', ['--no-tag-display-limit', DEB]).catch((e: Error) => ({ status: null, out: '', err: `lintian did not run: ${e.message}` }));
  const dir = tempDir('wg-deb-');
  extracted = join(dir, 'root');
  control = join(dir, 'DEBIAN');
  execFileSync('dpkg-deb', ['-x', DEB, extracted]);
  execFileSync('dpkg-deb', ['-e', DEB, control]);
}, 240_000);

describe('Debian package (amd64)', () => {
  it('control: name, version, architecture, Node >= 20 and what the maintainer scripts use', async () => {
    const info = (await run('dpkg-deb', ['--info', DEB])).out;
    expect(info).toMatch(/^ Package: wardgate$/m);
    expect(info).toMatch(new RegExp(`^ Version: ${VERSION.replace(/\./g, '\\.')}$`, 'm'));
    expect(info).toMatch(/^ Architecture: amd64$/m);
    const depends = /^ Depends: (.*)$/m.exec(info)?.[1] ?? '';
    expect(depends.split(/,\s*/)).toEqual(expect.arrayContaining(['nodejs (>= 20)', 'adduser', 'libc6']));
    expect(readFileSync(join(control, 'conffiles'), 'utf8').trim().split('\n')).toEqual(['/etc/wardgate/wardgate.yaml']);
    for (const s of ['postinst', 'prerm', 'postrm']) {
      expect(statSync(join(control, s)).mode & 0o777, s).toBe(0o755);
      expect((await run('sh', ['-n', join(control, s)])).status, s).toBe(0);
    }
  });

  it('contents: the command, the unit, the conffile, udev rules, production modules only, root-owned with sane modes', async () => {
    const lines = (await run('dpkg-deb', ['--contents', DEB])).out.split('\n').filter(Boolean);
    const entry = (p: string): string | undefined => lines.find((l) => l.split(/\s+/)[5] === `./${p}`);
    const expectFile = (p: string, mode: string): void => {
      const e = entry(p);
      expect(e, p).toBeDefined();
      expect(e!.split(/\s+/).slice(0, 2), p).toEqual([mode, 'root/root']);
    };
    expectFile('lib/systemd/system/wardgate.service', '-rw-r--r--');
    expectFile('etc/wardgate/wardgate.yaml', '-rw-r--r--');
    expectFile('lib/udev/rules.d/60-wardgate-serial.rules', '-rw-r--r--');
    expectFile('usr/share/wardgate/ble.conf', '-rw-r--r--');
    expectFile('usr/lib/wardgate/bin/wardgate.js', '-rwxr-xr-x');
    expectFile('usr/lib/wardgate/node_modules/better-sqlite3/build/Release/better_sqlite3.node', '-rw-r--r--');
    expectFile('usr/lib/wardgate/node_modules/unix-dgram/build/Release/unix_dgram.node', '-rw-r--r--');
    expectFile('usr/share/doc/wardgate/copyright', '-rw-r--r--');
    expect(entry('usr/bin/wardgate')).toMatch(/^lrwxrwxrwx root\/root .* -> \.\.\/lib\/wardgate\/bin\/wardgate\.js$/);
    expect(lines.filter((l) => !l.includes(' root/root '))).toEqual([]);
    // Development dependencies are not shipped.
    for (const dev of ['vitest', 'typescript', 'tsx', 'esbuild'])
      expect(
        lines.some((l) => l.includes(`/node_modules/${dev}/`)),
        dev,
      ).toBe(false);
    // The unit and the BLE drop-in are the repository's.
    expect(readFileSync(join(extracted, 'lib/systemd/system/wardgate.service'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/wardgate.service'), 'utf8'));
    expect(readFileSync(join(extracted, 'usr/share/wardgate/ble.conf'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/wardgate.service.d/ble.conf'), 'utf8'));
    expect(readlinkSync(join(extracted, 'usr/bin/wardgate'))).toBe('../lib/wardgate/bin/wardgate.js');
    // patches/ applied to the shipped modules (kafkajs: every broker answers before a retry).
    expect(readFileSync(join(extracted, 'usr/lib/wardgate/node_modules/kafkajs/src/producer/sendMessages.js'), 'utf8')).toContain(
      'await Promise.allSettled(requests)',
    );
    expect(readFileSync(join(extracted, 'usr/lib/wardgate/node_modules/@platformatic/kafka/dist/clients/producer/producer.js'), 'utf8')).toContain(
      'PLT_KFK_NO_LEADER',
    );
  });

  it('every native module is an x86-64 ELF object (readelf)', async () => {
    const nodes = (await run('find', [join(extracted, 'usr/lib/wardgate/node_modules'), '-name', '*.node', '-type', 'f'])).out.split('\n').filter(Boolean);
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const f of nodes) expect((await run('readelf', ['-h', f])).out, f).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
  });

  it('the extracted gateway runs: version, the shipped config checks, a simulated run commits readings', async () => {
    const bin = join(extracted, 'usr/bin/wardgate');
    const v = await run(bin, ['--version']);
    expect(v.status, v.err).toBe(0);
    expect(v.out.trim()).toBe(VERSION);
    const data = tempDir('wg-deb-data-');
    const c = await run(bin, ['config', 'check', join(extracted, 'etc/wardgate/wardgate.yaml')], {
      STATE_DIRECTORY: data,
      WARDGATE_KEY_FILE: join(data, 'k.key'),
    });
    expect(c.err).not.toMatch(/invalid configuration|not valid YAML/);
    const s = await run(bin, [
      'simulate',
      '--beds',
      '2',
      '--duration',
      '1s',
      '--drain-timeout',
      '200ms',
      '--brokers',
      '127.0.0.1:1',
      '--data',
      data,
      '--no-live',
    ]);
    expect(s.status, s.err).toBe(0);
    const n = Number(/(\d+) readings committed/.exec(s.out)?.[1]);
    expect(n).toBeGreaterThan(0);
  }, 60_000);

  it('the unit as installed by the package passes systemd-analyze verify and scores at most 2.0', async () => {
    const root = join(tempDir('wg-deb-root-'), 'root');
    cpSync(extracted, root, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    const v = await run('systemd-analyze', ['verify', `--root=${root}`, 'wardgate.service']);
    expect(v.status, v.err).toBe(0);
    expect(v.err).toBe('');
    const s = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', join(extracted, 'lib/systemd/system/wardgate.service')]);
    const score = Number(/Overall exposure level for wardgate\.service: (\d+\.\d)/.exec(s.out)?.[1]);
    expect(score, s.out).toBeLessThanOrEqual(2.0);
  });

  it('postinst refuses clearly when Node is older than 20.19.4 (and changes nothing)', async () => {
    const stub = tempDir('wg-node18-');
    writeFileSync(join(stub, 'node'), '#!/bin/sh\ncase "$1" in --version) echo v18.19.0;; -p) echo 18;; esac\n');
    chmodSync(join(stub, 'node'), 0o755);
    const r = await run('sh', [join(control, 'postinst'), 'configure'], { PATH: `${stub}:/usr/sbin:/usr/bin:/sbin:/bin` });
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/needs Node\.js 20\.19\.4 or later; found: v18\.19\.0/);
    expect(r.err).toMatch(/NodeSource/);
  });
});

/**
 * Installing on this machine (as root, as CI runs): only where no wardgate is installed and no
 * /var/lib/wardgate exists, so that a real installation is never touched. Elsewhere the test fails
 * saying why (it is not skipped).
 */
describe('Debian package installed on this machine', () => {
  const preexisting = async (): Promise<string | null> => {
    if (process.getuid?.() !== 0) return 'not root';
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${Status} is dpkg-query's own field syntax, not a template
    if ((await run('dpkg-query', ['-W', '-f=${Status}', 'wardgate'])).out.includes('installed')) return 'wardgate is installed here';
    if (existsSync('/var/lib/wardgate')) return '/var/lib/wardgate exists here';
    return null;
  };
  let installedByUs = false;
  afterAll(async () => {
    if (!installedByUs) return;
    await run('dpkg', ['--purge', 'wardgate']);
    rmSync('/var/lib/wardgate', { recursive: true, force: true });
    await run('deluser', ['--system', '--quiet', 'wardgate']);
    await run('delgroup', ['--system', '--quiet', 'wardgate']);
  });

  it('install: a wardgate system user, /var/lib/wardgate 0700, a 0600 data key; upgrade keeps the key and an edited conffile; purge removes the ' +
    'files', async () => {
    const why = await preexisting();
    expect(why, `the install test needs root and a machine without wardgate (${why})`).toBeNull();
    installedByUs = true;
    const i = await run('dpkg', ['-i', DEB]);
    expect(i.status, i.out + i.err).toBe(0);
    expect(i.out).toMatch(/generated the data key \/var\/lib\/wardgate\/wardgate\.key/);
    const pw = (await run('getent', ['passwd', 'wardgate'])).out.split(':');
    expect(pw[0]).toBe('wardgate');
    expect(Number(pw[2])).toBeLessThan(1000); // a system user
    const uid = Number(pw[2]);
    const data = statSync('/var/lib/wardgate');
    expect([data.mode & 0o777, data.uid]).toEqual([0o700, uid]);
    const key = statSync('/var/lib/wardgate/wardgate.key');
    expect([key.mode & 0o777, key.uid]).toEqual([0o600, uid]);
    const keyBytes = readFileSync('/var/lib/wardgate/wardgate.key');
    const conf = statSync('/etc/wardgate/wardgate.yaml');
    expect(conf.mode & 0o777).toBe(0o640);
    expect(lstatSync('/usr/bin/wardgate').isSymbolicLink()).toBe(true);
    expect((await run('/usr/bin/wardgate', ['--version'])).out.trim()).toBe(VERSION);
    // The operator edits the configuration; the package is installed again (an upgrade).
    const edited = `${readFileSync('/etc/wardgate/wardgate.yaml', 'utf8')}\n# edited on the ward\n`;
    writeFileSync('/etc/wardgate/wardgate.yaml', edited);
    const again = await run('dpkg', ['-i', '--force-confold', DEB]);
    expect(again.status, again.out + again.err).toBe(0);
    expect(again.out).not.toMatch(/generated the data key/);
    expect(readFileSync('/var/lib/wardgate/wardgate.key').equals(keyBytes)).toBe(true);
    expect(readFileSync('/etc/wardgate/wardgate.yaml', 'utf8')).toBe(edited);
    const p = await run('dpkg', ['--purge', 'wardgate']);
    expect(p.status, p.out + p.err).toBe(0);
    for (const f of [
      '/usr/bin/wardgate',
      '/usr/lib/wardgate',
      '/lib/systemd/system/wardgate.service',
      '/etc/wardgate/wardgate.yaml',
      '/lib/udev/rules.d/60-wardgate-serial.rules',
    ]) {
      expect(existsSync(f), f).toBe(false);
    }
    // Kept on purge, said so: it may hold unsent readings and the only copy of their key.
    expect(p.err).toMatch(/kept \/var\/lib\/wardgate/);
    expect(existsSync('/var/lib/wardgate/wardgate.key')).toBe(true);
  }, 120_000);
});

// Last, so that lintian (started in beforeAll) runs while the tests above do.
describe('Debian package lint', () => {
  it('lintian reports no error', async () => {
    const l = await lintian;
    expect(l.status, l.err).toBe(0); // 1: errors found, 2: lintian failed, null: not installed
    const errors = l.out.split('\n').filter((x) => x.startsWith('E: '));
    expect(errors).toEqual([]);
    expect(l.out + l.err).not.toMatch(/^E: /m);
  }, 240_000);
});
