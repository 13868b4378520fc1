/**
 * Stored glucose records (Glucose Service, Record Access Control Point 0x2A52). A glucose
 * meter keeps the measurements it took while no gateway was connected, each with a sequence
 * number, and hands them over only when asked. After subscribing, the adapter first asks for
 * the meter's newest record ("report stored records", operator "last record": `01 06`) to
 * learn its newest sequence number; that record is not imported. Then:
 * - first contact (no number kept for the device), `storedRecords: since-first-contact` (the
 *   default): the newest number becomes the kept one and nothing older is imported (a meter
 *   newly registered to a bed may hold a previous patient's records); with `all`, the probe is
 *   skipped and every stored record is asked for (`01 01`);
 * - newest above the kept number: "report stored records >= kept + 1" (`01 03 01 <seq>`);
 *   equal: nothing to ask;
 * - newest below the kept number, or an empty meter where records were kept (the counter
 *   restarted after a battery change or reset, or wrapped past 0xFFFF): counted
 *   (`device_error{reason="glucose_sequence_restart"}`, logged with the device id and the two
 *   numbers only) and handled as a first contact; so is a meter now registered to another bed
 *   than when its number was kept (`glucose_bed_changed`).
 * A meter that does not support "last record" is asked for all records instead, learning the
 * newest number from them without importing them (first contact), or for those above the kept
 * number (no restart detection).
 *
 * The kept number only advances over a contiguous run of committed records: over the next
 * sequence number once the buffer committed it, or over one a successful report showed the
 * meter does not hold (a gap). A record the buffer refused stops it there, whatever commits
 * after it; the next request (on the same link after the backoff, or on the next connection)
 * asks again from the first record not committed. While a report runs, a record committed or
 * handed to the buffer is dropped (counted), so the RACP path never commits a record twice.
 * Live notifications always pass (a meter sends each new measurement once).
 *
 * Across a restart the numbers live in `ble-glucose-seq.json` in the gateway's data folder
 * (written after each change; mode 0600): per device id the sequence number (-1: the meter
 * was empty at first contact, or `all`: ask for every record) and the bed it was kept for (a
 * ward location from the config), no values, times or patients. The buffer cannot hold them: it deletes readings once Kafka acknowledged them, so
 * a number derived from it would be lost after every drain. Records committed above a refused
 * one are remembered in memory only: after a gateway restart they are asked for and committed
 * again (duplicates, each with its `extra.sequence`), never skipped; so is a crash between a
 * commit and the file write.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../../durable-file.js';
import type { ReadingInput } from '../../reading.js';
import type { AdapterContext } from '../types.js';
import type { Registration } from './allow-list.js';
import { type Clock, reconnectDelay } from './backoff.js';
import type { NobleCharacteristic } from './noble.js';
import { parseRacpResponse, RacpOpCode, RacpOperator, reportAllRecords, reportRecordsFrom } from './profiles/racp.js';

export const GLUCOSE_SEQ_FILE = 'ble-glucose-seq.json';

/** Which stored records a meter's first contact imports (per device, `devices.ble.devices[].storedRecords`). */
export type StoredRecordsMode = 'since-first-contact' | 'all';

/** What the adapter does with a glucose record: submit it, drop it as already committed (counted), or drop it as a probe's answer. */
export type Admission = 'pass' | 'duplicate' | 'probe';

/** probe: "last record" asked; probe_all: all asked to learn the newest (meter without "last record"); report: records asked for. */
type Phase = 'probe' | 'probe_all' | 'report';

interface Link {
  racp: NobleCharacteristic;
  /** The link is still the one the request was made on. */
  alive: () => boolean;
  /** A request may be written now (the adapter is not paused). */
  canAsk: () => boolean;
  mode: StoredRecordsMode;
  reg: Registration;
}

interface Procedure {
  timer: unknown;
  link: Link;
  phase: Phase;
  /** Highest sequence number a probe saw. */
  newest: number | undefined;
  /** Sequence numbers the meter sent in this report, and the first one asked for. */
  seen: Set<number>;
  from: number;
  /** The newest number the probe learned: a report's record above it is an old one left from before a wrap (or newer than the probe). */
  limit: number | undefined;
}

interface Device {
  /** Every record up to this one is committed (-1: from the first; undefined: never contacted). Saved. */
  kept: number | undefined;
  /** The bed the meter was registered to when `kept` was set (undefined: a file from before beds were saved). Saved. */
  bed: string | undefined;
  /** Committed above `kept` (after a refused or not yet committed one). */
  done: Set<number>;
  /** Handed to the buffer, not yet committed or refused. */
  inflight: Set<number>;
  /** The last successful report: the records the meter holds between `from` and `upTo` (others there do not exist). */
  held: { seqs: Set<number>; from: number; upTo: number } | null;
  /** A record was refused since the last request: ask again after the backoff. */
  retryWanted: boolean;
  refusals: number;
  retryTimer: unknown;
  link: Link | null;
}

export class StoredGlucose {
  private readonly devices = new Map<string, Device>();
  private readonly running = new Map<string, Procedure>();
  private readonly file: string | null;

  constructor(
    private readonly ctx: AdapterContext,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly retry: { initial: number; max: number } = { initial: 1_000, max: 60_000 },
  ) {
    this.file = ctx.dataDir ? join(ctx.dataDir, GLUCOSE_SEQ_FILE) : null;
    if (!this.file) return;
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, unknown>;
      for (const [id, v] of Object.entries(saved)) {
        // { seq, bed }, or a bare number (a file written before beds were saved: adopted by the current registration).
        const { seq, bed } = typeof v === 'number' ? { seq: v, bed: undefined } : ((v ?? {}) as { seq?: unknown; bed?: unknown });
        if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < -1 || seq > 0xffff) continue;
        const d = this.device(id);
        d.kept = seq;
        d.bed = typeof bed === 'string' ? bed : undefined;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_seq_unreadable' }, 1, { error: String(e) });
    }
  }

  private device(id: string): Device {
    let d = this.devices.get(id);
    if (!d) {
      d = { kept: undefined, bed: undefined, done: new Set(), inflight: new Set(), held: null, retryWanted: false, refusals: 0, retryTimer: null, link: null };
      this.devices.set(id, d);
    }
    return d;
  }

  /** Every record of the device up to this sequence number is committed (-1: none yet, import from the first; undefined: never contacted). */
  lastCommitted(deviceId: string): number | undefined {
    return this.devices.get(deviceId)?.kept;
  }

  /**
   * Asks the meter for the records it stored after the last committed one (first its newest
   * number); `alive` says whether the link is still this one, `canAsk` whether a request may be written now.
   */
  request(deviceId: string, racp: NobleCharacteristic, alive: () => boolean, reg: Registration, canAsk = () => true): void {
    this.finish(deviceId);
    const d = this.device(deviceId);
    const mode: StoredRecordsMode = reg.storedRecords ?? 'since-first-contact';
    d.link = { racp, alive, canAsk, mode, reg };
    d.retryWanted = false;
    if (d.kept !== undefined && d.bed !== undefined && d.bed !== reg.bed) {
      // Registered to another bed since its number was kept: its records since then may be the previous patient's.
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_bed_changed' }, 1, { device: deviceId });
      this.forget(d);
    }
    d.bed = reg.bed;
    if (d.kept === undefined && mode === 'all') {
      d.kept = -1;
      this.save();
      this.ask(deviceId, d.link, 'report', -1);
    } else this.ask(deviceId, d.link, 'probe', 0);
  }

  /** Writes one request (phase report: records >= from, all when from is 0 or below). */
  private ask(deviceId: string, link: Link, phase: Phase, from: number, limit?: number): void {
    const proc: Procedure = { timer: null, link, phase, newest: undefined, seen: new Set(), from, limit };
    proc.timer = this.clock.setTimeout(() => {
      if (this.running.get(deviceId) !== proc) return;
      this.running.delete(deviceId);
      if (!link.alive()) return;
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'racp_timeout' }, 1, { device: deviceId });
      // Ask the meter to stop whatever it is still doing (a silent meter ignores it too).
      link.racp.writeAsync(Buffer.from([RacpOpCode.abortOperation, 0x00]), false).catch(() => undefined);
      this.maybeRetry(deviceId);
    }, this.timeoutMs);
    this.running.set(deviceId, proc);
    const req =
      phase === 'probe'
        ? Uint8Array.of(RacpOpCode.reportStoredRecords, RacpOperator.last)
        : phase === 'probe_all' || from <= 0
          ? reportAllRecords()
          : reportRecordsFrom(from);
    // noble never settles a write the device refused (ATT error): the timeout covers that too.
    link.racp.writeAsync(Buffer.from(req), false).catch(() => undefined);
  }

  /** A value the meter indicated on its RACP. */
  onRacpValue(deviceId: string, data: Buffer): void {
    const r = parseRacpResponse(data);
    if (!r.ok) {
      this.ctx.events.emit('frame_rejected', { family: 'ble', reason: `racp_${r.reason}` }, 1, { device: deviceId });
      return;
    }
    const res = r.response;
    const proc = this.running.get(deviceId);
    if (res.kind !== 'response_code' || res.requestOpCode !== RacpOpCode.reportStoredRecords || !proc) return;
    this.finish(deviceId);
    const ended = res.code === 'success' || res.code === 'no_records_found';
    if (proc.phase !== 'report') {
      const unsupported = res.code === 'operator_not_supported' || res.code === 'invalid_operator';
      if (!ended && !(proc.phase === 'probe' && unsupported)) {
        this.ctx.events.emit('device_error', { family: 'ble', reason: `racp_${res.code}` }, 1, { device: deviceId });
        return;
      }
      if (ended) {
        this.probed(deviceId, proc.link, proc.newest);
        return;
      }
      // No "last record": learn the newest from all records (first contact), or ask above the kept number.
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'racp_last_record_unsupported' }, 1, { device: deviceId });
      const kept = this.device(deviceId).kept;
      if (kept === undefined) this.ask(deviceId, proc.link, 'probe_all', 0);
      else if (kept < 0xffff) this.ask(deviceId, proc.link, 'report', kept + 1);
      return;
    }
    if (!ended) this.ctx.events.emit('device_error', { family: 'ble', reason: `racp_${res.code}` }, 1, { device: deviceId });
    if (res.code === 'success' && proc.seen.size > 0) {
      const d = this.device(deviceId);
      d.held = { seqs: proc.seen, from: Math.max(0, proc.from), upTo: Math.max(...proc.seen) };
      this.advance(deviceId, d);
    }
    this.maybeRetry(deviceId);
  }

  /** The probe learned the meter's newest sequence number (undefined: it holds none). */
  private probed(deviceId: string, link: Link, newest: number | undefined): void {
    const d = this.device(deviceId);
    const kept = d.kept;
    if (kept !== undefined && (newest === undefined ? kept >= 0 : newest < kept)) {
      // The counter restarted (battery change, reset, another meter under the address) or wrapped: a new first contact.
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_sequence_restart' }, 1, {
        device: deviceId,
        kept,
        newest: newest ?? null,
      });
      this.forget(d);
    }
    if (d.kept === undefined) {
      if (link.mode === 'all') {
        d.kept = -1;
        this.save();
        this.ask(deviceId, link, 'report', -1, newest);
        return;
      }
      // First contact: nothing older than now is imported.
      d.kept = newest ?? -1;
      for (const s of d.done) if (s <= d.kept) d.done.delete(s);
      this.advance(deviceId, d);
      this.save();
      return;
    }
    if (newest !== undefined && newest > d.kept) this.ask(deviceId, link, 'report', d.kept + 1, newest);
    else this.maybeRetry(deviceId);
  }

  /** A new first contact: nothing kept. */
  private forget(d: Device): void {
    d.kept = undefined;
    d.done.clear();
    d.held = null;
  }

  /** The link of a device is gone: its report, if any, ends unanswered (the next connection asks again). */
  finish(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (d?.retryTimer) {
      this.clock.clearTimeout(d.retryTimer);
      d.retryTimer = null;
    }
    const p = this.running.get(deviceId);
    if (!p) return;
    this.clock.clearTimeout(p.timer);
    this.running.delete(deviceId);
  }

  /** After a refusal: the same link asks again from the first record not committed, after the backoff. */
  private maybeRetry(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (!d?.retryWanted || !d.link || this.running.has(deviceId) || d.retryTimer) return;
    const link = d.link;
    d.retryTimer = this.clock.setTimeout(
      () => {
        d.retryTimer = null;
        if (!link.alive() || this.running.has(deviceId)) return;
        if (!link.canAsk()) {
          d.refusals++;
          this.maybeRetry(deviceId);
          return;
        }
        this.request(deviceId, link.racp, link.alive, link.reg, link.canAsk);
      },
      reconnectDelay(d.refusals++, this.retry.initial, this.retry.max),
    );
  }

  /** A report of stored records (or a probe) is running for the device. */
  reporting(deviceId: string): boolean {
    return this.running.has(deviceId);
  }

  /**
   * What to do with a record the meter sent while a report or probe runs: one already committed or in flight is dropped
   * (counted); during a probe, one at or below the kept number (or any, on first contact) is only looked at.
   */
  admit(deviceId: string, seq: number): Admission {
    const proc = this.running.get(deviceId);
    const d = this.device(deviceId);
    if (!proc) {
      d.inflight.add(seq);
      return 'pass';
    }
    if (proc.phase !== 'report') {
      if (proc.newest === undefined || seq > proc.newest) proc.newest = seq;
      // On first contact nothing is imported before the probe's answer; later, a record above the kept number is new.
      if (d.kept === undefined || seq <= d.kept) return 'probe';
    } else if (proc.limit !== undefined && seq > proc.limit) {
      // Above the newest the probe saw: left from before a wrap (the meter's filter compares numbers), or taken since the
      // probe; not seen, so the kept number stops below it; asked for again after this report (a probe ends it if old).
      d.retryWanted = true;
      return 'probe';
    } else proc.seen.add(seq);
    if (seq <= (d.kept ?? -1) || d.done.has(seq) || d.inflight.has(seq)) return 'duplicate';
    // In flight from now (the batch is handed to the buffer up to batchWindow later): the report's copy is a duplicate.
    d.inflight.add(seq);
    return 'pass';
  }

  /** Glucose readings handed to the buffer. */
  handed(inputs: readonly ReadingInput[]): void {
    for (const [id, seqs] of sequences(inputs)) {
      const d = this.device(id);
      for (const s of seqs) d.inflight.add(s);
    }
  }

  /** Glucose readings the buffer committed: the kept number advances over the contiguous run (saved). */
  commit(inputs: readonly ReadingInput[]): void {
    let raised = false;
    for (const [id, seqs] of sequences(inputs)) {
      const d = this.device(id);
      for (const s of seqs) {
        d.inflight.delete(s);
        if (s > (d.kept ?? -1)) d.done.add(s);
      }
      d.refusals = 0;
      if (this.advance(id, d)) raised = true;
    }
    if (raised) this.save();
  }

  /** Readings refused by the buffer: the kept number stops before them; they are asked for again. */
  refused(inputs: readonly ReadingInput[]): void {
    for (const [id, seqs] of sequences(inputs)) {
      const d = this.device(id);
      for (const s of seqs) d.inflight.delete(s);
      d.retryWanted = true;
      this.maybeRetry(id);
    }
  }

  /** Raises the kept number over committed records and over gaps a report showed; true when it moved. */
  private advance(_id: string, d: Device): boolean {
    // Before the first contact is settled (the probe's answer) nothing moves: the probe sets the start.
    if (d.kept === undefined) return false;
    let k = d.kept;
    const h = d.held;
    while (k < 0xffff) {
      const next = k + 1;
      if (d.done.delete(next) || (h && next >= h.from && next <= h.upTo && !h.seqs.has(next))) k = next;
      else break;
    }
    if (k === d.kept) return false;
    d.kept = k;
    return true;
  }

  private save(): void {
    if (!this.file) return;
    const out: Record<string, { seq: number; bed?: string }> = {};
    for (const [id, d] of this.devices) if (d.kept !== undefined) out[id] = { seq: d.kept, ...(d.bed !== undefined ? { bed: d.bed } : {}) };
    try {
      writeFileDurably(this.file, `${JSON.stringify(out)}\n`, 0o600);
    } catch (e) {
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_seq_unsaved' }, 1, { error: String(e) });
    }
  }

  stop(): void {
    for (const id of [...this.running.keys()]) this.finish(id);
    for (const id of this.devices.keys()) this.finish(id);
  }
}

/** deviceId -> glucose sequence numbers among the inputs. */
function sequences(inputs: readonly ReadingInput[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const i of inputs) {
    const seq = i.metric === 'glucose' ? i.extra?.sequence : undefined;
    if (typeof seq === 'number') (out.get(i.deviceId) ?? out.set(i.deviceId, []).get(i.deviceId)!).push(seq);
  }
  return out;
}
