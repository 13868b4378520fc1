/**
 * Replays a recorded HCI session (a controller `recordFile`: JSON lines {t, dir, hex}) to a
 * host on a pty, so a failing run can be re-run under a debugger: controller-to-host packets
 * are sent in order (at their recorded spacing, or at once), and before each recorded
 * host-to-controller packet the replayer waits for the host to send it. The first packet
 * the host sends that differs from the record is reported as the point of divergence.
 *
 *   node --import tsx hardware-mocks/ble/replay.ts RECORD.jsonl PTY_PATH [--fast]
 */
import { openSync, readFileSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';

export interface HciRecord {
  t: number;
  dir: 'h2c' | 'c2h';
  hex: string;
}

export interface ReplayResult {
  replayed: number;
  /** Index and packets where the host first did something else than recorded. */
  divergence?: { index: number; expected: string; got: string };
}

export function readRecord(file: string): HciRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l) as HciRecord);
}

/** Splits an H4 byte stream into packets (commands and ACL data, as a host sends them). */
function* h4Packets(buf: Buffer): Generator<{ pkt: Buffer; rest: Buffer }> {
  let b = buf;
  for (;;) {
    if (b.length < 4) return;
    const len = b[0] === 0x01 ? 4 + b[3]! : b[0] === 0x02 && b.length >= 5 ? 5 + b.readUInt16LE(3) : -1;
    if (len < 0 || b.length < len) return;
    yield { pkt: b.subarray(0, len), rest: b.subarray(len) };
    b = b.subarray(len);
  }
}

export async function replay(records: readonly HciRecord[], ptyPath: string, opts: { fast?: boolean } = {}): Promise<ReplayResult> {
  const fd = openSync(ptyPath, 'r+');
  const input = new ReadStream(fd);
  input.setRawMode(true);
  const output = new WriteStream(fd);
  const fromHost: string[] = [];
  let pending = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  input.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    for (const { pkt, rest } of h4Packets(pending)) {
      fromHost.push(pkt.toString('hex'));
      pending = Buffer.from(rest);
    }
    wake?.();
  });
  let last = records[0]?.t ?? 0;
  let i = 0;
  try {
    for (; i < records.length; i++) {
      const r = records[i]!;
      if (r.dir === 'c2h') {
        if (!opts.fast && r.t > last) await new Promise((res) => setTimeout(res, r.t - last));
        last = r.t;
        output.write(Buffer.from(r.hex, 'hex'));
        continue;
      }
      while (fromHost.length === 0) await new Promise<void>((res) => (wake = res));
      const got = fromHost.shift()!;
      if (got !== r.hex) return { replayed: i, divergence: { index: i, expected: r.hex, got } };
    }
    return { replayed: i };
  } finally {
    input.destroy();
    output.destroy();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [file, pty] = process.argv.slice(2);
  if (!file || !pty) {
    process.stderr.write('usage: replay.ts RECORD.jsonl PTY_PATH [--fast]\n');
    process.exit(2);
  }
  const r = await replay(readRecord(file), pty, { fast: process.argv.includes('--fast') });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
