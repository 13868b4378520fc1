/**
 * The power-loss harness's recorder: runs a process under strace and turns the trace into the
 * file-system events of one data folder, plus what the process wrote to its stdout (the
 * acknowledgements the outside world sees). Nothing here uses wardgate's code: the events are
 * the system calls as the kernel saw them (write contents and pwrite64 offsets included).
 *
 * Any system call on a file of the folder that this model does not understand (writev, mmap
 * writes, O_APPEND, a truncated string) fails the harness instead of being ignored.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A file-system event; `t` is its completion index in the whole recording, `start` its start. */
export type FsEvent =
  | { k: 'create'; name: string; trunc: boolean; t: number }
  | { k: 'write'; name: string; fd: number; off: number | null; data: Buffer; t: number }
  | { k: 'trunc'; name: string; len: number; t: number }
  | { k: 'sync'; name: string; start: number; t: number }
  | { k: 'rename'; from: string; to: string; t: number }
  | { k: 'unlink'; name: string; t: number }
  | { k: 'close'; fd: number; t: number }
  /** One complete line the process wrote to its stdout. */
  | { k: 'out'; line: string; t: number };

export const TRACED_SYSCALLS = [
  'open',
  'openat',
  'creat',
  'close',
  'write',
  'pwrite64',
  'writev',
  'pwritev',
  'pwritev2',
  'ftruncate',
  'truncate',
  'fsync',
  'fdatasync',
  'sync',
  'syncfs',
  'sync_file_range',
  'rename',
  'renameat',
  'renameat2',
  'unlink',
  'unlinkat',
  'fallocate',
  'msync',
  'copy_file_range',
  'sendfile',
  'splice',
  'dup',
  'dup2',
  'dup3',
  'lseek',
  'link',
  'linkat',
];

export interface TracedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv` under `strace -f` writing the trace to `traceFile`. Fails when strace is missing. */
export function runTraced(argv: string[], traceFile: string): Promise<TracedRun> {
  const args = [
    '-f',
    '--seccomp-bpf',
    '-y',
    '--strings-in-hex=non-ascii-chars',
    '-s',
    '4194304',
    '-e',
    'abbrev=none',
    '-e',
    `trace=${TRACED_SYSCALLS.join(',')}`,
    '-o',
    traceFile,
    '--',
    ...argv,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('strace', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run strace (scripts/install-deps.sh installs it): ${e.message}`)));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Decodes a C string literal as strace prints it (text starts at the opening quote). */
export function cString(s: string, at: number): { data: Buffer; end: number } {
  if (s[at] !== '"') throw new Error(`expected a string at ${at}: ${s.slice(at, at + 40)}`);
  const bytes: number[] = [];
  let i = at + 1;
  for (;;) {
    const c = s[i];
    if (c === undefined) throw new Error('unterminated string in trace');
    if (c === '"') break;
    if (c !== '\\') {
      bytes.push(c.charCodeAt(0));
      i++;
      continue;
    }
    const e = s[i + 1]!;
    i += 2;
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8, '\\': 92, '"': 34, "'": 39, '?': 63 };
    if (e in simple) bytes.push(simple[e]!);
    else if (e === 'x') {
      bytes.push(parseInt(s.slice(i, i + 2), 16));
      i += 2;
    } else if (/[0-7]/.test(e)) {
      let v = Number(e);
      for (let n = 0; n < 2 && /[0-7]/.test(s[i] ?? ''); n++, i++) v = v * 8 + Number(s[i]);
      bytes.push(v);
    } else throw new Error(`unknown escape \\${e} in trace`);
  }
  i++;
  if (s.startsWith('...', i)) throw new Error('strace truncated a string: raise -s');
  return { data: Buffer.from(bytes), end: i };
}

/** Splits the argument list at top-level commas (strings and brackets kept whole). */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      const { end } = cString(s, i);
      cur += s.slice(i, end);
      i = end - 1;
      continue;
    }
    if (c === '<') {
      // an fd path annotation (-y): up to the matching '>'
      const close = s.indexOf('>', i);
      cur += s.slice(i, close + 1);
      i = close;
      continue;
    }
    if (c === '[' || c === '{' || c === '(') depth++;
    if (c === ']' || c === '}' || c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** `18</tmp/x>` -> fd and path (path without a trailing " (deleted)"). */
function fdArg(a: string): { fd: number; path: string; deleted: boolean } {
  const m = /^(-?\d+|AT_FDCWD)<(.*)>$/.exec(a);
  if (!m) return { fd: a === 'AT_FDCWD' ? -100 : Number(a), path: '', deleted: false };
  const deleted = m[2]!.endsWith(' (deleted)');
  return { fd: m[1] === 'AT_FDCWD' ? -100 : Number(m[1]), path: deleted ? m[2]!.slice(0, -10) : m[2]!, deleted };
}

const str = (a: string): string => cString(a, 0).data.toString('latin1');

/**
 * Parses one trace of one process tree. `base` is the index of its first line in the whole
 * recording (runs follow each other); returns the folder's events and the next free index.
 */
export function parseTrace(text: string, dataDir: string, base: number): { events: FsEvent[]; next: number } {
  const inDir = (p: string) => p === dataDir || p.startsWith(`${dataDir}/`);
  const lines = text.split('\n');
  const pending = new Map<string, { head: string; start: number }>();
  const events: FsEvent[] = [];
  let stdoutBuf = '';
  let t = base;
  // The traced process itself (its stdout is the pipe); children such as tsx's esbuild have their own.
  const mainPid = /^(\d+) +/.exec(lines[0] ?? '')?.[1];
  for (const raw of lines) {
    t++;
    if (!raw) continue;
    const m = /^(\d+) +(.*)$/.exec(raw);
    if (!m) throw new Error(`unexpected trace line: ${raw.slice(0, 200)}`);
    const pid = m[1]!;
    let body = m[2]!;
    if (body.startsWith('+++') || body.startsWith('---')) continue;
    let start = t;
    if (body.endsWith(' <unfinished ...>')) {
      const name = /^(\w+)\(/.exec(body)?.[1] ?? '?';
      pending.set(`${pid}:${name}`, { head: body.slice(0, -' <unfinished ...>'.length), start: t });
      continue;
    }
    const res = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    if (res) {
      const p = pending.get(`${pid}:${res[1]}`);
      if (!p) throw new Error(`resumed without start: ${raw.slice(0, 200)}`);
      pending.delete(`${pid}:${res[1]}`);
      body = p.head + res[2];
      start = p.start;
    }
    const call = /^(\w+)\((.*)\)\s+= (.*)$/.exec(body);
    if (!call) {
      if (/^\w+\(.*\)\s+= \?/.test(body) || /^\w+\(.*\) = \?/.test(body)) continue; // killed mid-call
      throw new Error(`unparsed trace line: ${raw.slice(0, 200)}`);
    }
    const [, name, argText, ret] = call as unknown as [string, string, string, string];
    if (ret.startsWith('?')) continue; // interrupted by the kill: never returned, treat as not done
    const failed = ret.startsWith('-1');
    const args = splitArgs(argText);
    const retFd = fdArg(ret.split(' ')[0]!);
    switch (name) {
      case 'write':
      case 'pwrite64': {
        const f = fdArg(args[0]!);
        if (failed) break;
        const n = Number(ret.split(' ')[0]);
        const data = cString(args[1]!, 0).data.subarray(0, n);
        if (f.fd === 1 && pid === mainPid) {
          stdoutBuf += data.toString('utf8');
          for (let nl = stdoutBuf.indexOf('\n'); nl >= 0; nl = stdoutBuf.indexOf('\n')) {
            events.push({ k: 'out', line: stdoutBuf.slice(0, nl), t });
            stdoutBuf = stdoutBuf.slice(nl + 1);
          }
        } else if (inDir(f.path) && !f.deleted) {
          events.push({ k: 'write', name: f.path, fd: f.fd, off: name === 'pwrite64' ? Number(args[3]) : null, data, t });
        }
        break;
      }
      case 'open':
      case 'openat':
      case 'creat': {
        if (failed) break;
        const flags = name === 'creat' ? 'O_CREAT|O_TRUNC' : args[name === 'open' ? 1 : 2]!;
        if (!inDir(retFd.path)) break;
        if (flags.includes('O_APPEND')) throw new Error(`O_APPEND on ${retFd.path} is not modelled`);
        if (flags.includes('O_CREAT') || flags.includes('O_TRUNC')) events.push({ k: 'create', name: retFd.path, trunc: flags.includes('O_TRUNC'), t });
        events.push({ k: 'close', fd: retFd.fd, t }); // a fresh descriptor: position 0
        break;
      }
      case 'close': {
        const f = fdArg(args[0]!);
        if (inDir(f.path)) events.push({ k: 'close', fd: f.fd, t });
        break;
      }
      case 'ftruncate': {
        const f = fdArg(args[0]!);
        if (!failed && inDir(f.path) && !f.deleted) events.push({ k: 'trunc', name: f.path, len: Number(args[1]), t });
        break;
      }
      case 'fsync':
      case 'fdatasync': {
        const f = fdArg(args[0]!);
        if (!failed && inDir(f.path) && !f.deleted) events.push({ k: 'sync', name: f.path, start, t });
        break;
      }
      case 'rename':
      case 'renameat':
      case 'renameat2': {
        if (failed) break;
        const [from, to] = name === 'rename' ? [str(args[0]!), str(args[1]!)] : [str(args[1]!), str(args[3]!)];
        if (!from.startsWith('/') || !to.startsWith('/')) throw new Error(`relative rename not modelled: ${body}`);
        if (inDir(from) || inDir(to)) events.push({ k: 'rename', from, to, t });
        break;
      }
      case 'unlink':
      case 'unlinkat': {
        if (failed) break;
        const p = str(args[name === 'unlink' ? 0 : 1]!);
        if (!p.startsWith('/')) throw new Error(`relative unlink not modelled: ${body}`);
        if (inDir(p)) events.push({ k: 'unlink', name: p, t });
        break;
      }
      case 'lseek':
      case 'dup':
      case 'dup2':
      case 'dup3': {
        const f = fdArg(args[0]!);
        if (inDir(f.path)) throw new Error(`${name} on ${f.path} is not modelled`);
        break;
      }
      default: {
        // writev, pwritev, truncate, fallocate, msync, sync, syncfs, sync_file_range, copies, links
        const touches = args.some((a) => inDir(fdArg(a).path) || (a.startsWith('"') && inDir(str(a))));
        if (touches || name === 'sync' || name === 'syncfs') throw new Error(`${name} on the data folder is not modelled: ${body.slice(0, 200)}`);
      }
    }
  }
  return { events, next: t + 1 };
}

export function readTrace(file: string, dataDir: string, base: number): { events: FsEvent[]; next: number } {
  return parseTrace(readFileSync(file, 'latin1'), dataDir, base);
}
