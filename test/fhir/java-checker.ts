/**
 * Drives one of the Java checkers in test/fhir/validator (HAPI FHIR's validator, HAPI HL7 v2)
 * from vitest: one JVM per test file, started once, answering one file of many items per call.
 * The jars and classes come from scripts/clinical-validators.sh (run by scripts/install-deps.sh);
 * when they cannot be had the test fails with the script's own message, it is never skipped.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

const REPO = resolve(import.meta.dirname, '../..');

export function validatorClasspath(): string {
  const out = execFileSync('bash', [join(REPO, 'scripts/clinical-validators.sh'), 'classpath'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').at(-1)!;
}

export class JavaChecker<Answer> {
  private proc: ChildProcessWithoutNullStreams | null = null;
  private lines: Interface | null = null;
  /** Answers by the file they are for (a timed-out call never receives another call's answer). */
  private readonly pending = new Map<string, { res: (line: string) => void; rej: (e: Error) => void }>();
  private ready: { res: () => void; rej: (e: Error) => void } | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'wardgate-checker-'));
  private n = 0;
  private stderr = '';

  constructor(
    private readonly mainClass: 'Validate' | 'Hl7Check',
    private readonly env: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    const cp = validatorClasspath();
    // C1 only: these runs are short, and C2's compilations cost more than they save (measured:
    // 221 Observations in 18 s instead of 47 s on a loaded 2-core box).
    const proc = spawn('java', ['-Xss4m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', cp, this.mainClass], { env: { ...process.env, ...this.env } });
    this.proc = proc;
    proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    proc.on('exit', (code) => {
      const e = new Error(`${this.mainClass} exited (${code}): ${this.stderr}`);
      this.ready?.rej(e);
      for (const p of this.pending.values()) p.rej(e);
      this.pending.clear();
    });
    const started = new Promise<void>((res, rej) => (this.ready = { res, rej }));
    this.lines = createInterface({ input: proc.stdout });
    this.lines.on('line', (l) => {
      if (l === 'ready') return this.ready?.res();
      const file = (JSON.parse(l) as { file: string }).file;
      this.pending.get(file)?.res(l);
      this.pending.delete(file);
    });
    await started;
  }

  /** Checks `items` (resources or message strings) in one call. */
  async check(items: readonly unknown[]): Promise<Answer> {
    if (!this.proc) throw new Error('start() first');
    const file = join(this.dir, `items-${this.n++}.json`);
    writeFileSync(file, JSON.stringify(items));
    const answer = new Promise<string>((res, rej) => this.pending.set(file, { res, rej }));
    this.proc.stdin.write(`${file}\n`);
    const parsed = JSON.parse(await answer) as Answer & { failure?: string };
    if (parsed.failure) throw new Error(`${this.mainClass} failed on ${file}: ${parsed.failure}`);
    return parsed;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p && p.exitCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.stdin.end();
      await gone;
    }
    this.lines?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface FhirMessage {
  severity: string;
  location: string;
  message: string;
}
export interface FhirAnswer {
  count: number;
  results: { index: number; id?: string; messages: FhirMessage[] }[];
}

/** HAPI FHIR's validator (errors and fatals; `warnings` adds warnings). */
export const fhirValidator = (warnings = false) => new JavaChecker<FhirAnswer>('Validate', warnings ? { WARDGATE_FHIR_WARNINGS: '1' } : {});

/** Every message of an answer as "index id location: message", for a readable failing expectation. */
export function fhirProblems(a: FhirAnswer): string[] {
  return a.results.flatMap((r) => r.messages.map((m) => `#${r.index} ${r.id ?? ''} ${m.severity} ${m.location}: ${m.message}`));
}

export interface Hl7Segment {
  path: string;
  name: string;
  fields: string[][][][];
}
export interface Hl7Answer {
  count: number;
  results: { index: number; errors: string[]; segments: Hl7Segment[] }[];
}
export const hl7Checker = () => new JavaChecker<Hl7Answer>('Hl7Check');
