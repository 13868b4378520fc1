/**
 * Power loss, seen from an MQTT sensor: a PUBACK on the socket means the reading is on disk.
 *
 * The production MQTT path (embedded broker -> Ingest -> encrypted buffer) and a QoS 1 publisher
 * run in one process under strace (fixtures/powercut-mqtt.ts). The recording gives, at the kernel
 * level, every write to the buffer's files, every fsync/fdatasync, and every byte the broker wrote
 * to its TCP socket. Each MQTT PUBACK packet found in those socket writes is an acknowledgement
 * the outside world saw; at the moment its write(2) STARTED, the files as fsynced so far (nothing
 * unsynced: ./powercut/model.ts) must already hold the reading of the message it acknowledges,
 * opened with wardgate. The expected side is the recording (packet id -> the value the publisher
 * put in that PUBLISH), never the buffer's counters. Under `eatmydata` (fsync a no-op), or with
 * the PUBACK sent before the commit, this fails.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { type TestEnv, testEnv } from './helpers.js';
import { PowerCutModel } from './powercut/model.js';
import { cString, readTrace, runTraced } from './powercut/strace.js';

const FIXTURE = resolve(__dirname, 'fixtures', 'powercut-mqtt.ts');
const MESSAGES = 300;

let env: TestEnv;
let model: PowerCutModel;
let traceText = '';
let images: string;

beforeAll(async () => {
  env = testEnv('wg-powercut-mqtt-');
  mkdirSync(env.dir, { recursive: true, mode: 0o700 });
  images = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'wg-powercut-mqtt-images-'));
  const trace = join(env.dir, '..', 'mqtt.trace');
  const run = await runTraced([process.execPath, '--import', 'tsx', FIXTURE, env.dir, env.keyFile, String(MESSAGES)], trace);
  expect(run.code, run.stderr).toBe(0);
  traceText = readFileSync(trace, 'latin1');
  model = new PowerCutModel(env.dir, readTrace(trace, env.dir, 0).events);
  rmSync(trace);
}, 120_000);

afterAll(() => {
  env?.cleanup();
  if (images) rmSync(images, { recursive: true, force: true });
});

/**
 * MQTT PUBACK packets (type 4, remaining length 2) in the process's socket writes, each with the
 * index of the trace line where its write(2)/writev(2) started (same numbering as readTrace, base 0).
 */
function pubacksOnSockets(text: string): { id: number; start: number }[] {
  const lines = text.split('\n');
  const pending = new Map<string, { head: string; start: number }>();
  const found: { id: number; start: number }[] = [];
  const streams = new Map<string, { bytes: Buffer; starts: { from: number; start: number }[] }>();
  for (const [i, raw] of lines.entries()) {
    const t = i + 1;
    const m = /^(\d+) +(.*)$/.exec(raw);
    if (!m) continue;
    let body = m[2]!;
    let start = t;
    if (body.endsWith(' <unfinished ...>')) {
      const name = /^(\w+)\(/.exec(body)?.[1] ?? '?';
      pending.set(`${m[1]}:${name}`, { head: body.slice(0, -' <unfinished ...>'.length), start: t });
      continue;
    }
    const res = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    if (res) {
      const p = pending.get(`${m[1]}:${res[1]}`);
      if (!p) continue;
      pending.delete(`${m[1]}:${res[1]}`);
      body = p.head + res[2];
      start = p.start;
    }
    const call = /^(write|writev)\(\d+<((?:socket|TCP|TCPv6):\[[^\]]*\])>, (.*)\)\s+= (\d+)$/.exec(body);
    if (!call) continue;
    // The bytes written: one string (write) or each iov_base (writev), up to the returned count.
    const chunks: Buffer[] = [];
    if (call[1] === 'write') chunks.push(cString(call[3]!, 0).data);
    else for (let at = call[3]!.indexOf('iov_base="'); at >= 0; at = call[3]!.indexOf('iov_base="', at + 1)) chunks.push(cString(call[3]!, at + 9).data);
    const data = Buffer.concat(chunks).subarray(0, Number(call[4]));
    // Each socket's bytes as one stream (a packet may be written in pieces), split into MQTT
    // packets (fixed header byte, remaining length varint, body); a packet's time is the start of
    // the write that carried its first byte.
    const st = streams.get(call[2]!) ?? { bytes: Buffer.alloc(0), starts: [] as { from: number; start: number }[] };
    streams.set(call[2]!, st);
    st.starts.push({ from: st.bytes.length, start });
    st.bytes = Buffer.concat([st.bytes, data]);
    for (;;) {
      let len = 0;
      let mul = 1;
      let p = 1;
      let whole = true;
      for (;;) {
        const b = st.bytes[p++];
        if (b === undefined) {
          whole = false;
          break;
        }
        len += (b & 0x7f) * mul;
        mul *= 128;
        if (!(b & 0x80)) break;
      }
      if (!whole || st.bytes.length < p + len) break;
      if (st.bytes[0]! >> 4 === 4 && len === 2) found.push({ id: st.bytes.readUInt16BE(p), start: st.starts.filter((x) => x.from <= 0).at(-1)!.start });
      const used = p + len;
      st.bytes = st.bytes.subarray(used);
      st.starts = st.starts
        .map((x) => ({ from: x.from - used, start: x.start }))
        .filter((x, k, a) => x.from > 0 || a[k + 1] === undefined || a[k + 1]!.from > 0);
    }
  }
  return found;
}

/** The readings (value) in the files a power cut at `cut` is sure to leave (fsynced only), opened with wardgate. */
async function fsyncedValues(cut: number): Promise<Set<number>> {
  const dir = join(images, `image-${cut}`);
  mkdirSync(dir, { mode: 0o700 });
  for (const [name, data] of model.imageAt(cut, 'none')) if (!name.endsWith('-shm')) writeFileSync(join(dir, name), data, { mode: 0o600 });
  const buf = await openBuffer({
    dir,
    keyFile: env.keyFile,
    gatewayId: 'gw-powercut',
    events: new Events(silentLogger()),
    log: silentLogger(),
    ballastBytes: 0,
  });
  const values = new Set<number>();
  try {
    for (let l = buf.lease({ maxReadings: 5000, maxBytes: 1 << 30 }); l; l = buf.lease({ maxReadings: 5000, maxBytes: 1 << 30 })) {
      for (const r of l.readings) if (r.metric === 'heart_rate') values.add(r.value);
      buf.ack(l.id);
    }
  } finally {
    await buf.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return values;
}

describe('power loss: MQTT PUBACK on the socket after the fsync (crash consistency from the recorded system calls)', () => {
  it('fsync before every PUBACK: when the broker starts writing a PUBACK, the files as fsynced so far hold the reading it acknowledges', async () => {
    // What the publisher sent: packet id -> value, the latest PUBLISH with that id before the PUBACK.
    const sent = model.out
      .filter((o) => o.line.startsWith('P '))
      .map((o) => ({ t: o.t, id: Number(o.line.split(' ')[1]), value: Number(o.line.split(' ')[2]) }));
    expect(sent.length).toBe(MESSAGES);
    expect(new Set(sent.map((s) => s.value)).size).toBe(MESSAGES);
    const pubacks = pubacksOnSockets(traceText);
    // Every message was acknowledged on the socket, once (the publisher waited for each).
    expect(pubacks.length).toBe(MESSAGES);
    const acked = pubacks.map((a) => {
      const s = sent.filter((x) => x.id === a.id && x.t < a.start).at(-1);
      if (!s) throw new Error(`PUBACK ${a.id} at line ${a.start} for no PUBLISH printed before it`);
      return { ...a, value: s.value };
    });
    // PUBACKs that see the same fsynced state share one image.
    const groups = new Map<string, { cut: number; values: number[] }>();
    for (const a of acked) {
      const key = model.syncedKey(a.start);
      const g = groups.get(key);
      if (g) {
        g.cut = Math.min(g.cut, a.start);
        g.values.push(a.value);
      } else groups.set(key, { cut: a.start, values: [a.value] });
    }
    const failures: string[] = [];
    for (const g of groups.values()) {
      const have = await fsyncedValues(g.cut);
      const missing = g.values.filter((v) => !have.has(v));
      if (missing.length)
        failures.push(`cut ${g.cut}: ${missing.length} reading(s) acknowledged by PUBACK not fsynced before it, e.g. ${missing.slice(0, 3).join(', ')}`);
    }
    console.log(`[power loss mqtt] ${acked.length} PUBACKs on the socket checked against ${groups.size} fsynced states (${model.fileSyncs} file fsyncs)`);
    expect(failures.slice(0, 5), `${failures.length} of ${groups.size} fsynced states`).toEqual([]);
    expect(model.fileSyncs).toBeGreaterThan(0);
  }, 120_000);
});
