/**
 * Stored glucose records (Glucose Service, Record Access Control Point 0x2A52). A glucose
 * meter keeps the measurements it took while no gateway was connected, each with a sequence
 * number, and hands them over only when asked: after subscribing, the adapter writes "report
 * stored records with sequence number >= last committed + 1" (all records for a meter it has
 * never committed one of); the meter notifies those records as Glucose Measurements, then
 * indicates a response code.
 *
 * The highest committed sequence number per device is raised only once the buffer has
 * committed the record, and while a report runs a record at or below what was already
 * committed or handed to the buffer is dropped (counted), so the RACP path never commits a
 * record twice. Live notifications always pass (a meter sends each new measurement once).
 *
 * Across a restart the numbers live in `ble-glucose-seq.json` in the gateway's data folder
 * (written after each commit that raised one; mode 0600): device ids and sequence numbers
 * only, no values, times, beds or patients. The buffer cannot hold them: it deletes readings
 * once Kafka acknowledged them, so a number derived from it would be lost after every drain
 * and the next connection would fetch the meter's whole memory again. A crash between a
 * commit and the file write asks again for the records of that last commit (duplicates
 * bounded by one batch, each with its `extra.sequence`), never for fewer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../../durable-file.js';
import type { ReadingInput } from '../../reading.js';
import type { AdapterContext } from '../types.js';
import type { Clock } from './backoff.js';
import type { NobleCharacteristic } from './noble.js';
import { parseRacpResponse, RacpOpCode, reportAllRecords, reportRecordsFrom } from './profiles/racp.js';

export const GLUCOSE_SEQ_FILE = 'ble-glucose-seq.json';

interface Procedure {
  timer: unknown;
  racp: NobleCharacteristic;
}

export class StoredGlucose {
  /** deviceId -> highest sequence number the buffer committed. */
  private readonly committed = new Map<string, number>();
  /** deviceId -> highest sequence number handed to the buffer (committed or in flight). */
  private readonly submitted = new Map<string, number>();
  private readonly running = new Map<string, Procedure>();
  private readonly file: string | null;

  constructor(
    private readonly ctx: AdapterContext,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.file = ctx.dataDir ? join(ctx.dataDir, GLUCOSE_SEQ_FILE) : null;
    if (!this.file) return;
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, unknown>;
      for (const [id, seq] of Object.entries(saved)) if (typeof seq === 'number' && Number.isInteger(seq)) this.committed.set(id, seq);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_seq_unreadable' }, 1, { error: String(e) });
    }
  }

  /** The highest committed sequence number of a device (undefined: none yet). */
  lastCommitted(deviceId: string): number | undefined {
    return this.committed.get(deviceId);
  }

  /** Asks the meter for the records it stored after the last committed one; `alive` says whether the link is still this one. */
  request(deviceId: string, racp: NobleCharacteristic, alive: () => boolean): void {
    const last = this.committed.get(deviceId);
    if (last !== undefined && last >= 0xffff) return;
    this.finish(deviceId);
    // Records handed to the buffer and not yet committed stay counted: the meter sends them again (not committed), they are dropped.
    this.submitted.set(deviceId, Math.max(this.submitted.get(deviceId) ?? -1, last ?? -1));
    const proc: Procedure = { racp, timer: null };
    proc.timer = this.clock.setTimeout(() => {
      if (this.running.get(deviceId) !== proc) return;
      this.running.delete(deviceId);
      if (!alive()) return;
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'racp_timeout' }, 1, { device: deviceId });
      // Ask the meter to stop whatever it is still doing (a silent meter ignores it too).
      racp.writeAsync(Buffer.from([RacpOpCode.abortOperation, 0x00]), false).catch(() => undefined);
    }, this.timeoutMs);
    this.running.set(deviceId, proc);
    const req = last === undefined ? reportAllRecords() : reportRecordsFrom(last + 1);
    // noble never settles a write the device refused (ATT error): the timeout covers that too.
    racp.writeAsync(Buffer.from(req), false).catch(() => undefined);
  }

  /** A value the meter indicated on its RACP. */
  onRacpValue(deviceId: string, data: Buffer): void {
    const r = parseRacpResponse(data);
    if (!r.ok) {
      this.ctx.events.emit('frame_rejected', { family: 'ble', reason: `racp_${r.reason}` }, 1, { device: deviceId });
      return;
    }
    const res = r.response;
    if (res.kind !== 'response_code' || res.requestOpCode !== RacpOpCode.reportStoredRecords || !this.running.has(deviceId)) return;
    this.finish(deviceId);
    if (res.code !== 'success' && res.code !== 'no_records_found')
      this.ctx.events.emit('device_error', { family: 'ble', reason: `racp_${res.code}` }, 1, { device: deviceId });
  }

  /** The link of a device is gone: its report, if any, ends unanswered (the next connection asks again). */
  finish(deviceId: string): void {
    const p = this.running.get(deviceId);
    if (!p) return;
    this.clock.clearTimeout(p.timer);
    this.running.delete(deviceId);
  }

  /** A report of stored records is running for the device. */
  reporting(deviceId: string): boolean {
    return this.running.has(deviceId);
  }

  /** False for a record a running report sends again (at or below what the buffer has or is committing): drop it. */
  admit(deviceId: string, seq: number): boolean {
    if (!this.running.has(deviceId)) return true;
    return seq > (this.submitted.get(deviceId) ?? -1);
  }

  /** Glucose readings handed to the buffer. */
  handed(inputs: readonly ReadingInput[]): void {
    for (const [id, seq] of highest(inputs)) if (seq > (this.submitted.get(id) ?? -1)) this.submitted.set(id, seq);
  }

  /** Glucose readings the buffer committed: raises the numbers (and saves them). */
  commit(inputs: readonly ReadingInput[]): void {
    let raised = false;
    for (const [id, seq] of highest(inputs)) {
      if (seq <= (this.committed.get(id) ?? -1)) continue;
      this.committed.set(id, seq);
      raised = true;
    }
    if (!raised || !this.file) return;
    try {
      writeFileDurably(this.file, `${JSON.stringify(Object.fromEntries(this.committed))}\n`, 0o600);
    } catch (e) {
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_seq_unsaved' }, 1, { error: String(e) });
    }
  }

  /** Readings refused by the buffer: what was handed but not committed may be asked for again. */
  refused(inputs: readonly ReadingInput[]): void {
    for (const id of highest(inputs).keys()) this.submitted.set(id, this.committed.get(id) ?? -1);
  }

  stop(): void {
    for (const id of [...this.running.keys()]) this.finish(id);
  }
}

/** deviceId -> highest glucose sequence number among the inputs. */
function highest(inputs: readonly ReadingInput[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of inputs) {
    const seq = i.metric === 'glucose' ? i.extra?.sequence : undefined;
    if (typeof seq === 'number' && seq > (out.get(i.deviceId) ?? -1)) out.set(i.deviceId, seq);
  }
  return out;
}
