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
 * - newest above the kept number: first the kept record itself ("within range kept..kept",
 *   `01 04 01 <seq> <seq>`), whose time is compared with a 16-bit check of it kept with the
 *   number (timeCheck); then "report stored records >= kept + 1" (`01 03 01 <seq>`). Until that
 *   check, the probe's answer is only looked at (the report asks for it again). A meter that
 *   refuses "within range" is counted (`racp_verify_<code>`) and asked for the records as
 *   before, unchecked; equal: the probe's answer is the kept record, checked the same way;
 * - newest below the kept number, an empty meter where records were kept, or the kept record
 *   with another time (the counter restarted after a battery change or reset, possibly with
 *   more records taken since than the kept number; or wrapped past 0xFFFF): counted
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
 * was empty at first contact, or `all`: ask for every record), the bed it was kept for (a
 * ward location from the config), the kept record's 16-bit time check, and the numbers
 * committed above a refused record (at most 1,024), no values, times or patients. The buffer
 * cannot hold them: it deletes readings once Kafka acknowledged them, so a number derived from
 * it would be lost after every drain. After a gateway restart, records committed above a
 * refused one are therefore dropped (counted) when the meter sends them again; beyond 1,024 of
 * them, or after a crash between a commit and the file write, they are committed again
 * (duplicates, each with its `extra.sequence`), never skipped.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../../durable-file.js';
import type { ReadingInput } from '../../reading.js';
import type { AdapterContext } from '../types.js';
import type { Registration } from './allow-list.js';
import { type Clock, reconnectDelay } from './backoff.js';
import type { NobleCharacteristic } from './noble.js';
import { parseRacpResponse, RacpOpCode, RacpOperator, reportAllRecords, reportRecordsBetween, reportRecordsFrom } from './profiles/racp.js';

const GLUCOSE_SEQ_FILE = 'ble-glucose-seq.json';

/** Which stored records a meter's first contact imports (per device, `devices.ble.devices[].storedRecords`). */
export type StoredRecordsMode = 'since-first-contact' | 'all';

/** What the adapter does with a glucose record: submit it, drop it as already committed (counted), or drop it as a probe's answer. */
export type Admission = 'pass' | 'duplicate' | 'probe';

/**
 * probe: "last record" asked; probe_all: all asked to learn the newest (meter without "last record"); verify: the record
 * at the kept number asked, to compare its time with the one kept; report: records asked for.
 */
type Phase = 'probe' | 'probe_all' | 'verify' | 'report';

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
  /** Highest sequence number a probe saw, and its record's time check (see timeCheck). */
  newest: number | undefined;
  newestCheck: number | undefined;
  /**
   * verify: the time check kept for the number asked for (taken when asked: the kept number may move meanwhile), and
   * the one the meter's record has (undefined: none came).
   */
  wantCheck: number | undefined;
  keptCheck: number | undefined;
  /** Sequence numbers the meter sent in this report, and the first one asked for. */
  seen: Set<number>;
  from: number;
  /** The newest number the probe learned: a report's record above it is an old one left from before a wrap (or newer than the probe). */
  limit: number | undefined;
}

interface Device {
  /** Every record up to this one is committed (-1: from the first; undefined: never contacted). Saved. */
  kept: number | undefined;
  /** The time check of the record at `kept` (undefined: not known, e.g. passed over as a gap). Saved. */
  keptCheck: number | undefined;
  /** Time checks of records handed to the buffer above `kept` (for `keptCheck` when it moves over them). */
  checks: Map<number, number>;
  /** The bed the meter was registered to when `kept` was set (undefined: a file from before beds were saved). Saved. */
  bed: string | undefined;
  /** Committed above `kept` (after a refused or not yet committed one). Saved, so a restart does not ask for them again. */
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
        // { seq, bed, check?, done? }, or a bare number (a file written before beds were saved: adopted by the current registration).
        const { seq, bed, check, done } =
          typeof v === 'number' ? { seq: v, bed: undefined, check: undefined, done: undefined } : ((v ?? {}) as Record<string, unknown>);
        if (!isSeq(seq) || seq < -1) continue;
        const meter = this.device(id);
        meter.kept = seq;
        meter.bed = typeof bed === 'string' ? bed : undefined;
        meter.keptCheck = isSeq(check) ? check : undefined;
        if (Array.isArray(done)) for (const x of done) if (isSeq(x) && x > seq) meter.done.add(x);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_seq_unreadable' }, 1, { error: String(e) });
    }
  }

  private device(id: string): Device {
    let meter = this.devices.get(id);
    if (!meter) {
      meter = {
        kept: undefined,
        keptCheck: undefined,
        checks: new Map(),
        bed: undefined,
        done: new Set(),
        inflight: new Set(),
        held: null,
        retryWanted: false,
        refusals: 0,
        retryTimer: null,
        link: null,
      };
      this.devices.set(id, meter);
    }
    return meter;
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
    const meter = this.device(deviceId);
    const mode: StoredRecordsMode = reg.storedRecords ?? 'since-first-contact';
    meter.link = { racp, alive, canAsk, mode, reg };
    meter.retryWanted = false;
    if (meter.kept !== undefined && meter.bed !== undefined && meter.bed !== reg.bed) {
      // Registered to another bed since its number was kept: its records since then may be the previous patient's.
      this.ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_bed_changed' }, 1, { device: deviceId });
      this.forget(meter);
    }
    meter.bed = reg.bed;
    if (meter.kept === undefined && mode === 'all') {
      meter.kept = -1;
      this.save();
      this.ask(deviceId, meter.link, 'report', -1);
    } else this.ask(deviceId, meter.link, 'probe', 0);
  }

  /** Writes one request (phase report: records >= from, all when from is 0 or below; verify: the record `from`). */
  private ask(deviceId: string, link: Link, phase: Phase, from: number, limit?: number, newestCheck?: number): void {
    const wantCheck = phase === 'verify' ? this.devices.get(deviceId)?.keptCheck : undefined;
    const proc: Procedure = { timer: null, link, phase, newest: undefined, newestCheck, wantCheck, keptCheck: undefined, seen: new Set(), from, limit };
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
        : phase === 'verify'
          ? reportRecordsBetween(from, from)
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
    if (proc.phase === 'verify') {
      this.verified(deviceId, proc, res.code);
      return;
    }
    if (proc.phase !== 'report') {
      const unsupported = res.code === 'operator_not_supported' || res.code === 'invalid_operator';
      if (!ended && !(proc.phase === 'probe' && unsupported)) {
        this.ctx.events.emit('device_error', { family: 'ble', reason: `racp_${res.code}` }, 1, { device: deviceId });
        return;
      }
      if (ended) {
        this.probed(deviceId, proc.link, proc.newest, proc.newestCheck);
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
      const meter = this.device(deviceId);
      meter.held = { seqs: proc.seen, from: Math.max(0, proc.from), upTo: Math.max(...proc.seen) };
      // The report's end may be read after every commit of it: the kept number moves here then, and is saved.
      if (this.advance(deviceId, meter)) this.save();
    }
    this.maybeRetry(deviceId);
  }

  /** The probe learned the meter's newest sequence number (undefined: it holds none) and that record's time check. */
  private probed(deviceId: string, link: Link, newest: number | undefined, newestCheck: number | undefined): void {
    const meter = this.device(deviceId);
    const kept = meter.kept;
    // The newest is the kept record itself, with another time: a meter that restarted and has taken as many records since.
    const other = newest !== undefined && newest === kept && checksDiffer(meter.keptCheck, newestCheck);
    if (kept !== undefined && (newest === undefined ? kept >= 0 : newest < kept || other)) this.restarted(deviceId, meter, newest);
    if (meter.kept === undefined) {
      if (link.mode === 'all') {
        meter.kept = -1;
        meter.keptCheck = undefined;
        this.save();
        this.ask(deviceId, link, 'report', -1, newest);
        return;
      }
      // First contact: nothing older than now is imported.
      meter.kept = newest ?? -1;
      meter.keptCheck = newest === undefined ? undefined : newestCheck;
      for (const s of meter.done) if (s <= meter.kept) meter.done.delete(s);
      this.advance(deviceId, meter);
      this.save();
      return;
    }
    if (newest !== undefined && newest > meter.kept) {
      // More records than the kept number: first ask for the kept one, whose time tells a continuation from a meter that
      // restarted and has since taken more records than were kept (same number, another measurement).
      if (meter.kept >= 0 && meter.keptCheck !== undefined) this.ask(deviceId, link, 'verify', meter.kept, newest, newestCheck);
      else this.ask(deviceId, link, 'report', meter.kept + 1, newest);
    } else this.maybeRetry(deviceId);
  }

  /**
   * The answer to "the record at the kept number": another time than kept is a restart; the same (or no such record, or
   * a refusal: a meter without "within range"), a continuation.
   */
  private verified(deviceId: string, proc: Procedure, code: string): void {
    const meter = this.device(deviceId);
    const newest = proc.limit;
    if (code !== 'success' && code !== 'no_records_found')
      // A meter without "within range" (or another refusal): the kept number cannot be checked; continue as before.
      this.ctx.events.emit('device_error', { family: 'ble', reason: `racp_verify_${code}` }, 1, { device: deviceId });
    if (meter.kept === undefined || newest === undefined) return;
    if (code === 'success' && checksDiffer(proc.wantCheck, proc.keptCheck)) {
      this.restarted(deviceId, meter, newest);
      this.probed(deviceId, proc.link, newest, proc.newestCheck);
      return;
    }
    // From the record after the one checked (the kept number may have moved meanwhile: what is committed or in flight is dropped as before).
    this.ask(deviceId, proc.link, 'report', proc.from + 1, newest);
  }

  /** The counter restarted (battery change, reset, another meter under the address) or wrapped: counted, then a new first contact. */
  private restarted(deviceId: string, meter: Device, newest: number | undefined): void {
    this.ctx.events.emit('device_error', { family: 'ble', reason: 'glucose_sequence_restart' }, 1, {
      device: deviceId,
      kept: meter.kept,
      newest: newest ?? null,
    });
    this.forget(meter);
  }

  /** A new first contact: nothing kept. */
  private forget(meter: Device): void {
    meter.kept = undefined;
    meter.keptCheck = undefined;
    meter.checks.clear();
    meter.done.clear();
    meter.held = null;
  }

  /** The link of a device is gone: its report, if any, ends unanswered (the next connection asks again). */
  finish(deviceId: string): void {
    const meter = this.devices.get(deviceId);
    if (meter?.retryTimer) {
      this.clock.clearTimeout(meter.retryTimer);
      meter.retryTimer = null;
    }
    const p = this.running.get(deviceId);
    if (!p) return;
    this.clock.clearTimeout(p.timer);
    this.running.delete(deviceId);
  }

  /** After a refusal: the same link asks again from the first record not committed, after the backoff. */
  private maybeRetry(deviceId: string): void {
    const meter = this.devices.get(deviceId);
    if (!meter?.retryWanted || !meter.link || this.running.has(deviceId) || meter.retryTimer) return;
    const link = meter.link;
    meter.retryTimer = this.clock.setTimeout(
      () => {
        meter.retryTimer = null;
        if (!link.alive() || this.running.has(deviceId)) return;
        if (!link.canAsk()) {
          meter.refusals++;
          this.maybeRetry(deviceId);
          return;
        }
        this.request(deviceId, link.racp, link.alive, link.reg, link.canAsk);
      },
      reconnectDelay(meter.refusals++, this.retry.initial, this.retry.max),
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
  admit(deviceId: string, seq: number, record: Uint8Array): Admission {
    const proc = this.running.get(deviceId);
    const meter = this.device(deviceId);
    if (!proc) {
      this.handing(meter, seq, record);
      return 'pass';
    }
    if (proc.phase === 'verify') {
      // Only looked at: the kept record's time. Any other (the meter's memory is asked for next) waits for that report.
      if (seq === proc.from) proc.keptCheck = timeCheck(record);
      return 'probe';
    }
    if (proc.phase !== 'report') {
      if (proc.newest === undefined || seq > proc.newest) {
        proc.newest = seq;
        proc.newestCheck = timeCheck(record);
      }
      // On first contact nothing is imported before the probe's answer; later, a record above the kept number is new,
      // unless the kept record is to be checked first (the report after the check asks for it again).
      if (meter.kept === undefined || seq <= meter.kept || meter.keptCheck !== undefined) return 'probe';
    } else if (proc.limit !== undefined && seq > proc.limit) {
      // Above the newest the probe saw: left from before a wrap (the meter's filter compares numbers), or taken since the
      // probe; not seen, so the kept number stops below it; asked for again after this report (a probe ends it if old).
      meter.retryWanted = true;
      return 'probe';
    } else proc.seen.add(seq);
    if (seq <= (meter.kept ?? -1) || meter.done.has(seq) || meter.inflight.has(seq)) return 'duplicate';
    // In flight from now (the batch is handed to the buffer up to batchWindow later): the report's copy is a duplicate.
    this.handing(meter, seq, record);
    return 'pass';
  }

  /** A record goes to the buffer: in flight, and its time check kept until the kept number passes it (bounded). */
  private handing(meter: Device, seq: number, record: Uint8Array): void {
    meter.inflight.add(seq);
    if (meter.checks.size >= 4096) meter.checks.clear();
    meter.checks.set(seq, timeCheck(record));
  }

  /** Glucose readings handed to the buffer. */
  handed(inputs: readonly ReadingInput[]): void {
    for (const [id, seqs] of sequences(inputs)) {
      const meter = this.device(id);
      for (const s of seqs) meter.inflight.add(s);
    }
  }

  /** Glucose readings the buffer committed: the kept number advances over the contiguous run (saved). */
  commit(inputs: readonly ReadingInput[]): void {
    let raised = false;
    for (const [id, seqs] of sequences(inputs)) {
      const meter = this.device(id);
      for (const s of seqs) {
        meter.inflight.delete(s);
        if (s > (meter.kept ?? -1)) meter.done.add(s);
      }
      meter.refusals = 0;
      // Raised, or committed above a refused record (kept in the file too, so a restart does not ask for them again).
      if (this.advance(id, meter) || meter.done.size > 0) raised = true;
    }
    if (raised) this.save();
  }

  /** Readings refused by the buffer: the kept number stops before them; they are asked for again. */
  refused(inputs: readonly ReadingInput[]): void {
    for (const [id, seqs] of sequences(inputs)) {
      const meter = this.device(id);
      for (const s of seqs) meter.inflight.delete(s);
      meter.retryWanted = true;
      this.maybeRetry(id);
    }
  }

  /** Raises the kept number over committed records and over gaps a report showed; true when it moved. */
  private advance(_id: string, meter: Device): boolean {
    // Before the first contact is settled (the probe's answer) nothing moves: the probe sets the start.
    if (meter.kept === undefined) return false;
    let k = meter.kept;
    const h = meter.held;
    while (k < 0xffff) {
      const next = k + 1;
      if (meter.done.delete(next) || (h && next >= h.from && next <= h.upTo && !h.seqs.has(next))) k = next;
      else break;
    }
    if (k === meter.kept) return false;
    meter.kept = k;
    // Passed over as a gap, the kept record's time is not known (the next contact does not check it).
    meter.keptCheck = meter.checks.get(k);
    for (const s of meter.checks.keys()) if (s <= k) meter.checks.delete(s);
    return true;
  }

  private save(): void {
    if (!this.file) return;
    const out: Record<string, { seq: number; bed?: string; check?: number; done?: number[] }> = {};
    for (const [id, meter] of this.devices) {
      if (meter.kept === undefined) continue;
      const e: { seq: number; bed?: string; check?: number; done?: number[] } = { seq: meter.kept };
      if (meter.bed !== undefined) e.bed = meter.bed;
      if (meter.keptCheck !== undefined) e.check = meter.keptCheck;
      if (meter.done.size > 0) e.done = [...meter.done].sort((a, b) => a - b).slice(0, MAX_SAVED_DONE);
      out[id] = e;
    }
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

/** Sequence numbers committed above a refused one that the file keeps per device (more come again after a restart). */
const MAX_SAVED_DONE = 1024;

const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= -1 && x <= 0xffff;

/**
 * A 16-bit check of a Glucose Measurement's time (base time and time offset octets, as the meter sent them): two
 * records with the same sequence number and another time are two measurements. 16 bits of a SHA-256 tell two times
 * apart (a miss: 1 in 65,536) but cannot be turned back into one (tens of thousands of times in a year share each).
 */
function timeCheck(record: Uint8Array): number {
  const hasOffset = record.length > 0 && (record[0]! & 0x01) !== 0;
  const time = record.subarray(3, hasOffset ? 12 : 10);
  const h = createHash('sha256').update(time).digest();
  return h.readUInt16BE(0);
}

const checksDiffer = (kept: number | undefined, seen: number | undefined): boolean => kept !== undefined && seen !== undefined && kept !== seen;

/** deviceId -> glucose sequence numbers among the inputs. */
function sequences(inputs: readonly ReadingInput[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const i of inputs) {
    const seq = i.metric === 'glucose' ? i.extra?.sequence : undefined;
    if (typeof seq === 'number') (out.get(i.deviceId) ?? out.set(i.deviceId, []).get(i.deviceId)!).push(seq);
  }
  return out;
}
