/**
 * The BLE adapter: scans, connects to the allow-listed wearables (never to anything else),
 * subscribes to every characteristic the decoder table knows, and turns each value into
 * Readings for its bed.
 *
 * Connection policy: at most `maxConnections` links. When more registered devices are in
 * range than that, devices wait in arrival order, and the connected device that has held
 * its slot longest gives it up once it has held it for `dwell` (rotation), so no registered
 * device starves. A device that drops or fails to connect is retried after a doubling
 * delay (`backoff.initial` .. `backoff.max`, reset once it is subscribed again).
 *
 * Backpressure: while more than `maxHeldReadings` readings wait for the buffer, the
 * adapter unsubscribes from every characteristic (devices stop sending) and subscribes
 * again once half of them have settled: nothing queues up inside the gateway.
 */

import type { ReadingInput } from '../../reading.js';
import { TokenBucket } from '../mqtt/rate-limit.js';
import type { AdapterContext, AdapterStatus, DeviceAdapter } from '../types.js';
import { AllowList, type Registration } from './allow-list.js';
import { type Clock, reconnectDelay, systemClock } from './backoff.js';
import type { BleConfig } from './config.js';
import { StoredGlucose } from './glucose-records.js';
import {
  type NobleCharacteristic,
  type NobleFactory,
  type NobleLike,
  type NoblePeripheral,
  nobleFactory,
  onTransportError,
  stopNoble,
  transportActivity,
} from './noble.js';
import { boundStrangers } from './noble-memory.js';
import { type Preflight, preflight } from './preflight.js';
import { type Decoder, decoderFor } from './profiles/index.js';
import { RACP_UUID } from './profiles/racp.js';
import { normaliseUuid } from './profiles/uuid.js';
import { registerVendorOximeter } from './profiles/vendor-oximeter.js';
import { appendInputs } from './readings.js';
import { deviceIdFor, linkReading, type ReadingBase, readingBase, rssiReading } from './status-readings.js';

type SlotState = 'idle' | 'connecting' | 'connected' | 'backoff';

/** Readings per submission at most. */
const BATCH_MAX = 512;

interface Slot {
  address: string;
  reg: Registration;
  /** The device id (ble-<address>) and the fields every reading of the device carries, made once. */
  id: string;
  base: ReadingBase;
  peripheral: NoblePeripheral | null;
  state: SlotState;
  failures: number;
  /** Earliest time of the next attempt. */
  notBefore: number;
  /** When it started waiting for a slot (fair order). */
  waitingSince: number;
  connectedAt: number;
  /** Dropped by the link (not rotated out, not stopped): counts towards `degraded`. */
  lost: boolean;
  subscribed: NobleCharacteristic[];
  /** Those of `subscribed` whose notifications the device confirmed are on (the last CCCD write it answered). */
  notifying: Set<NobleCharacteristic>;
  /** The CCCD writes of this link in progress (one at a time), and the link epoch they belong to. */
  sync: Promise<void> | null;
  syncToken: object | null;
  syncEpoch: number;
  bucket: TokenBucket;
  timer: unknown;
  rssiTimer: unknown;
  /** Bumped on every (re)connect, so late events of an old link are ignored. */
  epoch: number;
}

export interface BleAdapterOptions {
  noble?: NobleFactory;
  clock?: Clock;
  /** Start-up checks for a raw HCI socket (default: preflight.ts; null: none). */
  preflight?: ((deviceId: number | undefined) => Preflight) | null;
}

export class BleAdapter implements DeviceAdapter {
  readonly family = 'ble';
  private ctx: AdapterContext | null = null;
  private noble: NobleLike | null = null;
  private readonly allow: AllowList;
  private readonly slots = new Map<string, Slot>();
  private readonly makeNoble: NobleFactory;
  private readonly clock: Clock;
  private readonly preflight: ((deviceId: number | undefined) => Preflight) | null;
  private running = false;
  private adapterState = 'unknown';
  /** The current noble instance has been powered on. */
  private wasOn = false;
  /** RSSI requests in a row the controller left unanswered (watchdog). */
  private unanswered = 0;
  /** HCI packets received from the controller so far (the watchdog's sign of life). */
  private received: () => number = () => 0;
  private powerFailures = 0;
  private recoveryTimer: unknown = null;
  private rotationTimer: unknown = null;
  private connecting = false;
  private batch: ReadingInput[] = [];
  private flushScheduled = false;
  private held = 0;
  private paused = false;
  private pending = new Set<Promise<void>>();
  private readonly ignored = new Set<string>();
  /** Glucose meters' stored records (RACP) and the highest committed sequence number per device. */
  private glucose: StoredGlucose | null = null;
  private batchHasGlucose = false;

  constructor(
    private readonly cfg: BleConfig,
    opts: BleAdapterOptions = {},
  ) {
    this.allow = new AllowList(cfg.devices);
    this.makeNoble = opts.noble ?? nobleFactory(cfg.hci);
    this.clock = opts.clock ?? systemClock;
    this.preflight = opts.preflight === undefined ? preflight : opts.preflight;
    if (cfg.vendorDecoders.includes('vendor_oximeter')) registerVendorOximeter();
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.running) throw new Error('BLE adapter already started');
    // A raw HCI socket on Linux: say at once what cannot work (a UART needs none of this).
    if (!this.cfg.hci.uart && process.platform === 'linux' && this.preflight) {
      const pf = this.preflight(this.cfg.hci.deviceId);
      for (const w of pf.warnings) ctx.log.warn(w);
      if (pf.errors.length > 0) throw new Error(`the Bluetooth adapter cannot be used: ${pf.errors.join('; ')}; see docs/ble.md`);
    }
    this.running = true;
    this.ctx = ctx;
    this.glucose = new StoredGlucose(ctx, this.clock, this.cfg.racpTimeout, this.cfg.backoff);
    try {
      await this.bringUp(this.cfg.startTimeout);
    } catch (e) {
      this.running = false;
      this.teardownNoble();
      this.ctx = null;
      throw e;
    }
    this.scheduleRotation();
    ctx.log.info({ registered: this.allow.size, maxConnections: this.cfg.maxConnections }, 'BLE adapter started');
  }

  /**
   * Creates noble and waits (at most `timeoutMs`) for the controller to power on. With
   * `failFast` (recovery), a transport that reports an error (the UART is not there yet) ends
   * the wait at once, so the next attempt follows the backoff instead of the start timeout.
   */
  private bringUp(timeoutMs: number, failFast = false): Promise<void> {
    const noble = this.makeNoble();
    this.noble = noble;
    this.wasOn = false;
    // Phones and beacons near the ward: noble forgets the addresses that are not ours (noble-memory.ts).
    boundStrangers(noble, (address) => this.slots.has(address));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = this.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(
          new Error(
            `the Bluetooth adapter did not power on within ${timeoutMs} ms (state ${this.adapterState}): is it present, not blocked by rfkill (rfkill ` +
              `unblock bluetooth), powered (hciconfig hci0 up), not held by bluetoothd, and does wardgate have CAP_NET_RAW and CAP_NET_ADMIN? See docs/ble.md`,
          ),
        );
      }, timeoutMs);
      noble.on('stateChange', (state: string) => {
        if (noble !== this.noble) return;
        this.adapterState = state;
        if (!settled && state === 'poweredOn') {
          settled = true;
          this.clock.clearTimeout(timer);
          resolve();
        } else if (!settled && (state === 'unauthorized' || state === 'unsupported')) {
          settled = true;
          this.clock.clearTimeout(timer);
          reject(
            new Error(
              `the Bluetooth adapter is ${state}: ` +
                `${state === 'unauthorized' ? 'wardgate needs CAP_NET_RAW and CAP_NET_ADMIN' : 'no usable LE controller (wrong hci device?)'}; see docs/ble.md`,
            ),
          );
        }
        this.onStateChange(state);
      });
      noble.on('discover', (p: NoblePeripheral) => noble === this.noble && this.onDiscover(p));
      this.received = transportActivity(noble);
      if (failFast)
        onTransportError(noble, (e) => {
          // Only "the port is not there": any other transport error waits for the start timeout as before.
          if (settled || noble !== this.noble || !/ENOENT|No such file|cannot open/i.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`)) return;
          settled = true;
          this.clock.clearTimeout(timer);
          reject(new Error(`the Bluetooth transport failed: ${e.message}`));
        });
    });
  }

  private onStateChange(state: string): void {
    if (!this.running) return;
    if (state === 'poweredOn') {
      this.powerFailures = 0;
      this.unanswered = 0;
      this.wasOn = true;
      this.startScanning();
      return;
    }
    // noble reports poweredOff once before the controller answers its reset: only a controller
    // that was on and went away is a loss.
    if (state === 'poweredOff' && this.wasOn) this.controllerLost('adapter_powered_off');
  }

  /** The controller is gone (powered off, or no longer answering): every link is down; recover with a new transport. */
  private controllerLost(reason: string): void {
    if (!this.wasOn) return;
    this.wasOn = false;
    this.adapterState = reason === 'adapter_powered_off' ? 'poweredOff' : 'unresponsive';
    this.ctx?.events.emit('device_error', { family: 'ble', reason });
    for (const s of this.slots.values()) this.linkGone(s, reason, false);
    this.scheduleRecovery();
  }

  /** The controller went away: a new noble (a new transport) after a backoff, until one powers on. */
  private scheduleRecovery(): void {
    if (this.recoveryTimer !== null || !this.running) return;
    const delay = reconnectDelay(this.powerFailures++, this.cfg.backoff.initial, this.cfg.backoff.max);
    this.recoveryTimer = this.clock.setTimeout(() => {
      this.recoveryTimer = null;
      if (!this.running) return;
      this.teardownNoble();
      for (const s of this.slots.values()) s.peripheral = null;
      this.bringUp(this.cfg.startTimeout, true).then(
        () => this.ctx?.log.info('Bluetooth adapter powered on again'),
        () => this.scheduleRecovery(),
      );
    }, delay);
  }

  private teardownNoble(): void {
    const n = this.noble;
    this.noble = null;
    if (!n) return;
    n.removeAllListeners('discover');
    stopNoble(n);
  }

  private startScanning(): void {
    const n = this.noble;
    if (!n || !this.running || this.adapterState !== 'poweredOn') return;
    n.startScanningAsync([], true).catch((e: unknown) =>
      this.ctx?.events.emit('device_error', { family: 'ble', reason: 'scan_failed' }, 1, { error: String(e) }),
    );
  }

  private onDiscover(p: NoblePeripheral): void {
    if (!this.running) return;
    const address = p.address.toLowerCase();
    let slot = this.slots.get(address);
    if (!slot) {
      if (this.ignored.has(address)) return;
      const reg = this.allow.match({ address, name: p.advertisement?.localName, serviceUuids: p.advertisement?.serviceUuids ?? [] });
      if (!reg) {
        // Bounded: a ward full of phones must not grow this set without limit.
        if (this.ignored.size > 10_000) this.ignored.clear();
        this.ignored.add(address);
        return;
      }
      const now = this.clock.now();
      slot = {
        address,
        reg,
        id: deviceIdFor(address),
        base: readingBase(address, reg),
        peripheral: null,
        state: 'idle',
        failures: 0,
        notBefore: now,
        waitingSince: now,
        connectedAt: 0,
        lost: false,
        subscribed: [],
        notifying: new Set(),
        sync: null,
        syncToken: null,
        syncEpoch: -1,
        bucket: new TokenBucket(this.cfg.maxNotificationsPerSecond, this.cfg.maxNotificationsPerSecond * 2, now),
        timer: null,
        rssiTimer: null,
        epoch: 0,
      };
      this.slots.set(address, slot);
    }
    slot.peripheral = p;
    this.maybeConnect();
  }

  private activeLinks(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state === 'connected' || s.state === 'connecting') n++;
    return n;
  }

  /** Connects the longest-waiting eligible device, if a slot is free (one attempt at a time, as the controller does). */
  private maybeConnect(): void {
    if (!this.running || this.connecting || this.adapterState !== 'poweredOn' || this.activeLinks() >= this.cfg.maxConnections) return;
    const now = this.clock.now();
    let best: Slot | undefined;
    for (const s of this.slots.values()) {
      if (s.state !== 'idle' || !s.peripheral || s.notBefore > now) continue;
      if (!best || s.waitingSince < best.waitingSince) best = s;
    }
    if (best) void this.connect(best);
  }

  private async connect(s: Slot): Promise<void> {
    const p = s.peripheral!;
    const epoch = ++s.epoch;
    s.state = 'connecting';
    this.connecting = true;
    let timedOut = false;
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
      try {
        p.cancelConnect();
      } catch {
        /* already settled */
      }
    }, this.cfg.connectTimeout);
    try {
      await p.connectAsync();
      if (timedOut) throw new Error('connect timed out');
      if (!this.running || s.epoch !== epoch) {
        await p.disconnectAsync().catch(() => undefined);
        return;
      }
      p.once('disconnect', (reason: unknown) => {
        if (s.epoch === epoch) this.linkGone(s, `hci_${String(reason)}`, true);
      });
      s.state = 'connected';
      s.connectedAt = this.clock.now();
      s.lost = false;
      this.connecting = false;
      this.clock.clearTimeout(timer);
      this.startScanning();
      this.submit([linkReading(s.base, true, 'connected')]);
      await this.subscribe(s, p, epoch);
      if (s.epoch !== epoch || s.state !== 'connected') return;
      s.failures = 0;
      this.readRssi(s, p, epoch);
    } catch (e) {
      this.clock.clearTimeout(timer);
      if (e instanceof CccdUnanswered) this.subscriptionFailed(s, epoch, e);
      else if (s.epoch === epoch && this.running) {
        this.ctx?.events.emit('device_error', { family: 'ble', reason: timedOut ? 'connect_timeout' : 'connect_failed' }, 1, {
          device: deviceIdFor(s.address),
          error: String(e),
        });
        if (s.state === 'connected') {
          p.disconnectAsync().catch(() => undefined);
          this.linkGone(s, 'setup_failed', true);
        } else this.backoff(s, true);
      }
    } finally {
      if (s.epoch === epoch) this.connecting = false;
      this.maybeConnect();
    }
  }

  private async subscribe(s: Slot, p: NoblePeripheral, epoch: number): Promise<void> {
    // All of them: noble's "some services" call fails when a device lacks one of those asked for.
    const { characteristics } = await p.discoverAllServicesAndCharacteristicsAsync();
    let racp: NobleCharacteristic | undefined;
    let glucose = false;
    for (const c of characteristics) {
      if (normaliseUuid(c.uuid) === RACP_UUID && c.properties.includes('indicate') && c.properties.includes('write')) {
        racp = c;
        c.on('data', (data: unknown) => s.epoch === epoch && Buffer.isBuffer(data) && this.glucose?.onRacpValue(deviceIdFor(s.address), data));
        s.subscribed.push(c);
        await this.syncSubscriptions(s);
        continue;
      }
      const d = decoderFor(c.uuid);
      if (!d) continue;
      c.on('data', (data: unknown) => {
        // noble emits 'data' without a buffer for a read that failed.
        if (s.epoch === epoch && Buffer.isBuffer(data)) this.onValue(s, d, data);
      });
      if (c.properties.includes('read') && !c.properties.includes('notify') && !c.properties.includes('indicate')) continue;
      if (c.properties.includes('notify') || c.properties.includes('indicate')) {
        s.subscribed.push(c);
        await this.syncSubscriptions(s);
      }
      // A battery level is read once at connect as well (most straps only notify on change).
      if (d.name === 'battery' && c.properties.includes('read')) await c.readAsync();
      if (d.name === 'glucose') glucose = true;
    }
    // A glucose meter: the records it stored since the last one committed (not while paused: its notifications are off).
    if (racp && glucose && !this.paused && s.epoch === epoch)
      this.glucose?.request(
        deviceIdFor(s.address),
        racp,
        () => s.epoch === epoch && s.state === 'connected',
        s.reg,
        () => !this.paused,
      );
  }

  /**
   * RSSI status reading every `statusInterval`; it doubles as the controller watchdog: a
   * controller that leaves two RSSI requests in a row unanswered, and sent nothing else
   * meanwhile, is treated as gone (noble's UART transport does not always report a vanished
   * port). A host slow to read (a loaded machine) still sees packets arriving: not a loss.
   */
  private readRssi(s: Slot, p: NoblePeripheral, epoch: number): void {
    if (s.epoch !== epoch || s.state !== 'connected' || !this.running) return;
    let answered = false;
    const received = this.received;
    const receivedBefore = received();
    const watchdog = this.clock.setTimeout(() => {
      if (answered || s.epoch !== epoch || !this.running) return;
      if (received() !== receivedBefore) return;
      if (++this.unanswered >= 2) this.controllerLost('controller_unresponsive');
    }, this.cfg.connectTimeout);
    p.updateRssiAsync().then(
      (rssi) => {
        answered = true;
        this.unanswered = 0;
        this.clock.clearTimeout(watchdog);
        if (s.epoch === epoch && s.state === 'connected' && Number.isFinite(rssi) && rssi !== 127) this.submit([rssiReading(s.base, rssi)]);
      },
      () => {
        answered = true;
        this.clock.clearTimeout(watchdog);
      },
    );
    s.rssiTimer = this.clock.setTimeout(() => this.readRssi(s, p, epoch), this.cfg.statusInterval);
  }

  /** The link is gone (dropped, powered off, rotated out): status reading, then a retry after the backoff. */
  private linkGone(s: Slot, reason: string, lost: boolean): void {
    if (s.state !== 'connected' && s.state !== 'connecting') return;
    const wasConnected = s.state === 'connected';
    s.epoch++;
    s.subscribed = [];
    s.notifying = new Set();
    this.glucose?.finish(deviceIdFor(s.address));
    if (s.rssiTimer !== null) this.clock.clearTimeout(s.rssiTimer);
    s.rssiTimer = null;
    if (s.state === 'connecting') this.connecting = false;
    if (wasConnected && this.running) this.submit([linkReading(s.base, false, reason)]);
    s.lost = lost;
    this.backoff(s, false);
    this.startScanning();
    this.maybeConnect();
  }

  private backoff(s: Slot, failed: boolean): void {
    const delay = reconnectDelay(s.failures, this.cfg.backoff.initial, this.cfg.backoff.max);
    if (failed) s.lost = true;
    s.failures++;
    s.state = 'backoff';
    s.notBefore = this.clock.now() + delay;
    if (s.timer !== null) this.clock.clearTimeout(s.timer);
    s.timer = this.clock.setTimeout(() => {
      s.timer = null;
      if (s.state !== 'backoff') return;
      s.state = 'idle';
      s.waitingSince = this.clock.now();
      this.maybeConnect();
    }, delay);
  }

  /** Rotation: with devices waiting and no free slot, the longest-connected device past its dwell gives its slot up. */
  private scheduleRotation(): void {
    const every = Math.max(100, Math.floor(this.cfg.dwell / 4));
    this.rotationTimer = this.clock.setTimeout(() => {
      this.rotationTimer = null;
      if (!this.running) return;
      this.rotate();
      this.maybeConnect();
      this.scheduleRotation();
    }, every);
  }

  private rotate(): void {
    if (this.activeLinks() < this.cfg.maxConnections) return;
    const now = this.clock.now();
    const waiting = [...this.slots.values()].some((s) => s.state === 'idle' && s.peripheral && s.notBefore <= now);
    if (!waiting) return;
    let oldest: Slot | undefined;
    for (const s of this.slots.values())
      if (s.state === 'connected' && now - s.connectedAt >= this.cfg.dwell && (!oldest || s.connectedAt < oldest.connectedAt)) oldest = s;
    if (!oldest) return;
    const p = oldest.peripheral;
    const s = oldest;
    this.glucose?.finish(deviceIdFor(s.address));
    s.subscribed = [];
    s.notifying = new Set();
    s.state = 'idle';
    s.lost = false;
    s.notBefore = now;
    s.waitingSince = now;
    this.submit([linkReading(s.base, false, 'rotated')]);
    // Values the host reads until the link is gone were sent by the device: they still become
    // readings. The link's handlers end when the disconnect completes (or a new link began).
    const epoch = s.epoch;
    const gone = (): void => {
      if (s.epoch === epoch) s.epoch++;
    };
    if (p) p.disconnectAsync().then(gone, gone);
    else gone();
  }

  // --- values -------------------------------------------------------------------------

  private onValue(s: Slot, d: Decoder, data: Buffer): void {
    const ctx = this.ctx;
    if (!ctx || !this.running) return;
    // A glucose meter's report sends the records asked for as fast as its link allows: not throttled (a report ends within racpTimeout).
    if (!s.bucket.take(this.clock.now()) && !(d.name === 'glucose' && this.glucose?.reporting(s.id))) {
      ctx.events.emit('frame_rejected', { family: 'ble', reason: 'throttled' }, 1, { device: s.id });
      return;
    }
    const r = d.parse(data);
    if (!r.ok) {
      ctx.events.emit('frame_rejected', { family: 'ble', reason: `${d.name}_${r.reason}` }, 1, { device: s.id });
      return;
    }
    if (d.name === 'glucose') {
      // A stored record a report sends again is dropped (counted): the RACP path commits each record once. A probe's answer is only looked at.
      const seq = r.readings[0]?.extra?.sequence;
      const admitted = typeof seq === 'number' ? (this.glucose?.admit(s.id, seq, data) ?? 'pass') : 'pass';
      if (admitted !== 'pass') {
        if (admitted === 'duplicate') ctx.events.emit('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' }, 1, { device: s.id });
        return;
      }
      this.batchHasGlucose = true;
    }
    // Straight into the batch (one notification: a few readings, no array of its own).
    const before = this.batch.length;
    const specials = appendInputs(this.batch, r.readings, s.base, d.priorityClass ?? 'vital');
    if (specials !== null) for (const sp of specials) ctx.events.emit('reading_flagged', { flag: `special_${sp}` });
    if (this.batch.length > before) this.batchAdded();
  }

  /**
   * Collects readings into one submission per `batchWindow` (a real timer, not the policy
   * clock: it only groups work), or at once when a batch is full.
   */
  private submit(inputs: ReadingInput[]): void {
    if (!this.ctx || !this.running) return;
    for (const i of inputs) this.batch.push(i);
    this.batchAdded();
  }

  /** Readings were added to the batch: flush it when full, else once the window is over. */
  private batchAdded(): void {
    if (this.batch.length >= BATCH_MAX) {
      this.flush();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.cfg.batchWindow > 0) setTimeout(() => this.flush(), this.cfg.batchWindow);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const ctx = this.ctx;
    const inputs = this.batch;
    this.batch = [];
    const glucose = this.batchHasGlucose ? this.glucose : null;
    this.batchHasGlucose = false;
    if (!ctx || !this.running || inputs.length === 0) return;
    // A device that ignores its unsubscription cannot make the gateway hold more than twice the bound.
    if (this.held + inputs.length > 2 * this.cfg.maxHeldReadings) {
      ctx.events.emit('reading_refused', { reason: 'ble_backpressure' }, inputs.length);
      glucose?.refused(inputs);
      return;
    }
    this.held += inputs.length;
    if (this.held > this.cfg.maxHeldReadings) this.setPaused(true);
    glucose?.handed(inputs);
    const p = ctx.sink.submit(inputs).then(
      () => glucose?.commit(inputs),
      () => glucose?.refused(inputs), // refused: counted by the pipeline; a wearable cannot resend (a meter's stored record is asked for again)
    );
    const tracked = p.finally(() => {
      this.pending.delete(tracked);
      this.held -= inputs.length;
      if (this.paused && this.held <= this.cfg.maxHeldReadings / 2) this.setPaused(false);
    });
    this.pending.add(tracked);
  }

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    for (const s of this.slots.values()) {
      if (s.state !== 'connected') continue;
      const epoch = s.epoch;
      this.syncSubscriptions(s).catch((e: unknown) => this.subscriptionFailed(s, epoch, e));
    }
  }

  /**
   * Brings the link's notifications to what is wanted now (off while paused), one CCCD write
   * at a time, reading `paused` again after each: noble answers a subscribe issued while its
   * unsubscribe is still in flight as "already subscribed" (its state changes only when the
   * device answers the write), and the unsubscribe then lands, so overlapping pause/resume
   * calls left the device silent for good.
   */
  private syncSubscriptions(s: Slot): Promise<void> {
    const epoch = s.epoch;
    if (s.sync && s.syncEpoch === epoch) return s.sync;
    const token = {};
    let done = false;
    const run = async (): Promise<void> => {
      try {
        for (;;) {
          if (s.epoch !== epoch || s.state !== 'connected' || !this.running) return;
          const want = !this.paused;
          const c = s.subscribed.find((x) => s.notifying.has(x) !== want);
          if (!c) return;
          await this.cccdWrite(c, want);
          if (s.epoch !== epoch) return;
          if (want) s.notifying.add(c);
          else s.notifying.delete(c);
        }
      } finally {
        done = true;
        if (s.syncToken === token) {
          s.sync = null;
          s.syncToken = null;
        }
      }
    };
    s.syncToken = token;
    s.syncEpoch = epoch;
    const p = run();
    if (!done) s.sync = p;
    return p;
  }

  /**
   * One CCCD write, bounded by `connectTimeout`: noble never settles a write the device
   * refused (an ATT error response), so a refusal and a lost answer both end here.
   */
  private cccdWrite(c: NobleCharacteristic, on: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const t = this.clock.setTimeout(() => reject(new CccdUnanswered(c.uuid)), this.cfg.connectTimeout);
      (on ? c.subscribeAsync() : c.unsubscribeAsync()).then(
        () => {
          this.clock.clearTimeout(t);
          resolve();
        },
        (e: unknown) => {
          this.clock.clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  /** A CCCD write failed on a live link: its notifications are in an unknown state, so the link is dropped and set up again (after the backoff). */
  private subscriptionFailed(s: Slot, epoch: number, e: unknown): void {
    if (s.epoch !== epoch || s.state !== 'connected' || !this.running) return;
    this.ctx?.events.emit('device_error', { family: 'ble', reason: 'subscribe_failed' }, 1, { device: deviceIdFor(s.address), error: String(e) });
    s.peripheral?.disconnectAsync().catch(() => undefined);
    this.linkGone(s, 'subscribe_failed', true);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    // What the devices sent before stop goes to the buffer; nothing is submitted after.
    this.flush();
    this.running = false;
    for (const t of [this.recoveryTimer, this.rotationTimer]) if (t !== null) this.clock.clearTimeout(t);
    this.recoveryTimer = this.rotationTimer = null;
    const disconnects: Promise<unknown>[] = [];
    for (const s of this.slots.values()) {
      for (const t of [s.timer, s.rssiTimer]) if (t !== null) this.clock.clearTimeout(t);
      s.timer = s.rssiTimer = null;
      s.epoch++;
      if ((s.state === 'connected' || s.state === 'connecting') && s.peripheral) {
        if (s.state === 'connecting') s.peripheral.cancelConnect();
        else disconnects.push(s.peripheral.disconnectAsync().catch(() => undefined));
      }
    }
    this.slots.clear();
    this.glucose?.stop();
    this.batch = [];
    this.paused = false;
    this.connecting = false;
    // Give the links a moment to close cleanly; a controller that is gone cannot hold stop.
    const scanStopped = this.noble?.stopScanningAsync().catch(() => undefined);
    await Promise.race([Promise.all([...disconnects, scanStopped]), new Promise((r) => setTimeout(r, 1000))]);
    this.teardownNoble();
    this.adapterState = 'unknown';
    await Promise.all([...this.pending]);
    this.ctx = null;
  }

  status(): AdapterStatus {
    if (!this.running) return { state: 'stopped', devices: this.slots.size };
    let connected = 0;
    let lost = 0;
    let silent = 0;
    for (const s of this.slots.values()) {
      if (s.state === 'connected') {
        // Not paused and no CCCD write under way, yet a characteristic is not notifying: the link delivers nothing.
        if (!this.paused && s.sync === null && s.subscribed.some((c) => !s.notifying.has(c))) silent++;
        else connected++;
      } else if (s.lost) lost++;
    }
    const detail =
      `${connected} connected of ${this.allow.size} ` +
      `registered${silent ? `, ${silent} connected but not subscribed` : ''}${lost ? `, ${lost} lost` : ''}, adapter ` +
      `${this.adapterState}${this.paused ? ', paused (buffer slow)' : ''}`;
    return { state: this.adapterState !== 'poweredOn' || lost > 0 || silent > 0 ? 'degraded' : 'running', devices: connected, detail };
  }
}

/** A CCCD write the device refused or did not answer in time. */
class CccdUnanswered extends Error {
  constructor(uuid: string) {
    super(`the device did not accept the CCCD write of characteristic ${uuid} (refused or unanswered)`);
  }
}

export const bleFamily = {
  name: 'ble',
  create: (cfg: BleConfig): DeviceAdapter[] => (cfg.enabled ? [new BleAdapter(cfg)] : []),
};
