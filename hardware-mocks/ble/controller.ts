/**
 * A simulated Bluetooth LE controller speaking HCI over H4 on a pseudo-terminal, so that
 * noble's own HCI, L2CAP, ATT and GATT code runs above it exactly as over a UART
 * controller. It answers the set-up commands noble sends, reports advertisements (with
 * RSSI and a scan response carrying the name) of the peripherals in range while scanning,
 * accepts LE connections up to its connection limit, carries ATT over L2CAP to each
 * peripheral's GATT server, sends notifications and indications, and drops links (on
 * request, out of range, power off). Every HCI packet in and out can be recorded (JSON
 * lines, hex) so a failing run can be replayed.
 */
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { ReadStream, WriteStream as TtyWriteStream } from 'node:tty';
import { ATT_OPS, GattServer } from './gatt-server.js';
import { GLUCOSE_MEASUREMENT, type GlucoseRecord, RACP } from './glucose-meter.js';
import type { Emission, SimPeripheral } from './peripherals.js';

const CMD = 0x01;
const ACL = 0x02;
const EVT = 0x04;
const op = (ogf: number, ocf: number): number => (ogf << 10) | ocf;
const OP = {
  DISCONNECT: op(0x01, 0x0006),
  SET_EVENT_MASK: op(0x03, 0x0001),
  RESET: op(0x03, 0x0003),
  SET_EVENT_FILTER: op(0x03, 0x0005),
  READ_LE_HOST_SUPPORTED: op(0x03, 0x006c),
  WRITE_LE_HOST_SUPPORTED: op(0x03, 0x006d),
  READ_LOCAL_VERSION: op(0x04, 0x0001),
  READ_SUPPORTED_COMMANDS: op(0x04, 0x0002),
  READ_BUFFER_SIZE: op(0x04, 0x0005),
  READ_BD_ADDR: op(0x04, 0x0009),
  READ_RSSI: op(0x05, 0x0005),
  LE_SET_EVENT_MASK: op(0x08, 0x0001),
  LE_READ_BUFFER_SIZE: op(0x08, 0x0002),
  LE_READ_FEATURES: op(0x08, 0x0003),
  LE_SET_SCAN_PARAMETERS: op(0x08, 0x000b),
  LE_SET_SCAN_ENABLE: op(0x08, 0x000c),
  LE_CREATE_CONN: op(0x08, 0x000d),
  LE_CANCEL_CONN: op(0x08, 0x000e),
  LE_CONN_UPDATE: op(0x08, 0x0013),
} as const;
const ERR_UNKNOWN_COMMAND = 0x01;
const ERR_UNKNOWN_CONNECTION = 0x02;
const ERR_CONNECTION_TIMEOUT = 0x08;
const ERR_CONNECTION_LIMIT = 0x09;
const ERR_LOCAL_HOST_TERMINATED = 0x16;
const ERR_REMOTE_USER_TERMINATED = 0x13;

export interface TruthRecord {
  /** Controller clock (ms since start). */
  t: number;
  address: string;
  char: string;
  how: 'notify' | 'indicate' | 'read';
  handle: number;
  /** Link handle and its connection number (so a test can tell connections apart). */
  link: number;
  values: Emission['values'];
  malformed?: boolean;
  hex: string;
}

export interface ControllerOptions {
  /** The controller's end of the pty pair. */
  ptyPath: string;
  peripherals: SimPeripheral[];
  /** Simultaneous LE connections the controller accepts (real ones: 5-10). */
  maxConnections?: number;
  /** Advertising period of each peripheral (ms). */
  advIntervalMs?: number;
  /** Battery notifications every this many measurement emissions (0: none). */
  batteryEvery?: number;
  /** JSON-lines file of every HCI packet (direction, time, hex), for replay. */
  recordFile?: string;
  /** JSON-lines file of every value a peripheral sent while connected. */
  truthFile?: string;
  address?: string;
  /**
   * How the UART hands bytes to the host: packets produced within one period go out in one
   * write, as a USB or UART controller delivers them in chunks (a USB frame is 1 ms; an FTDI
   * latency timer is 16 ms by default). 0: the packets of one event-loop turn go out together;
   * negative (the default): one write per packet.
   */
  deliveryMs?: number;
}

interface Link {
  handle: number;
  peripheral: SimPeripheral;
  gatt: GattServer;
  timer: NodeJS.Timeout | null;
  emissions: number;
  /** Indications wait for the central's confirmation, one at a time (bounded queue). */
  indicationInFlight: boolean;
  indicationQueue: Emission[];
  rx: { len: number; cid: number; data: Buffer } | null;
  barrier: (() => void) | null;
  /** A RACP procedure in progress: records still to notify, then the response to indicate. */
  racp: { records: GlucoseRecord[]; response: Buffer | null; timer: NodeJS.Timeout | null; waited?: boolean } | null;
  /** ATT PDUs sent to the host on this link (a power-off barrier round counts what was sent after its request). */
  attSent: number;
  /** Power is going off: the peripheral sends no more values (answers to the host's requests still go out, covered by the barrier). */
  stopping: boolean;
  /** Power-off drained this link: the host read everything it sent; nothing more is answered or sent on it. */
  off: boolean;
}

/** ATT errors of the Glucose Service: a RACP procedure already running; a CCCD not configured for the procedure. */
const ATT_ERR_PROCEDURE_IN_PROGRESS = 0x80;
const ATT_ERR_CCCD_IMPROPER = 0xfd;

export class SimulatedController {
  private fd = -1;
  private input: ReadStream | null = null;
  private output: TtyWriteStream | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private outQueue: Buffer[] = [];
  /** Barriers to release when the host's end closes (it will never answer). */
  private readonly hostGone = new Set<() => void>();
  private outScheduled = false;
  private scanning = false;
  private filterDuplicates = false;
  private reported = new Set<string>();
  private advTimer: NodeJS.Timeout | null = null;
  private readonly links = new Map<number, Link>();
  private pendingConnect: { address: string } | null = null;
  private nextHandle = 0x40;
  private readonly started = Date.now();
  private record: WriteStream | null = null;
  private truth: WriteStream | null = null;
  private readonly opts: Required<Omit<ControllerOptions, 'recordFile' | 'truthFile'>> & ControllerOptions;
  /** Counters a test may read: what the controller did (never what the host did). */
  readonly stats = {
    connections: 0,
    connectAttempts: new Map<string, number>(),
    refusedAtLimit: 0,
    notificationsSent: 0,
    malformedSent: 0,
    commands: 0,
    malformedEvents: 0,
    /** Writes to the pty (each may carry several HCI packets). */
    writes: 0,
  };
  /** Addresses the host ever asked to connect to. */
  readonly connectRequests = new Set<string>();
  powered = false;
  /** Test knob: Read RSSI commands go unanswered (the rest works: a firmware that lost that one command). */
  muteRssi = false;
  /** Test knob: wedged firmware, the UART still open: nothing more reaches the host (answers, events, notifications). */
  wedged = false;

  constructor(opts: ControllerOptions) {
    this.opts = { maxConnections: 7, advIntervalMs: 100, batteryEvery: 20, address: '00:1a:7d:da:71:13', deliveryMs: -1, ...opts };
    if (opts.recordFile) this.record = createWriteStream(opts.recordFile, { flags: 'a' });
    if (opts.truthFile) this.truth = createWriteStream(opts.truthFile, { flags: 'a' });
  }

  get peripherals(): SimPeripheral[] {
    return this.opts.peripherals;
  }

  now(): number {
    return Date.now() - this.started;
  }

  /** Opens the pty and starts answering. */
  powerOn(): void {
    if (this.powered) return;
    this.fd = openSync(this.opts.ptyPath, 'r+');
    this.input = new ReadStream(this.fd);
    this.input.setRawMode(true);
    this.output = new TtyWriteStream(this.fd);
    this.input.on('data', (d: Buffer) => this.onBytes(d));
    this.input.on('error', () => undefined);
    const gone = (): void => {
      for (const f of [...this.hostGone]) f();
    };
    this.input.on('close', gone).on('end', gone);
    this.output.on('error', () => undefined);
    this.powered = true;
    this.advTimer = setInterval(() => this.advertise(), this.opts.advIntervalMs);
  }

  /**
   * Stops the radio: no more notifications, then barriers on every link until the host has
   * read everything sent on it (`drain`), then the links and the transport are gone.
   */
  async powerOff(): Promise<void> {
    if (!this.powered) return;
    for (const l of this.links.values()) {
      l.stopping = true;
      this.stopLink(l);
    }
    await Promise.all([...this.links.values()].map((l) => this.drain(l)));
    this.links.clear();
    this.scanning = false;
    this.pendingConnect = null;
    if (this.advTimer) clearInterval(this.advTimer);
    this.advTimer = null;
    this.powered = false;
    this.flushOut();
    this.input?.destroy();
    this.output?.destroy();
    this.input = null;
    this.output = null;
    try {
      closeSync(this.fd);
    } catch {
      /* already closed by the streams */
    }
  }

  async close(): Promise<void> {
    await this.powerOff();
    await Promise.all([this.record, this.truth].map((s) => (s ? new Promise<void>((r) => s.end(() => r())) : Promise.resolve())));
  }

  /** Links on which the host has at least one notification or indication enabled. */
  subscribedLinks(): number {
    let n = 0;
    for (const l of this.links.values()) if ([...l.gatt.cccd.values()].some((v) => v !== 0)) n++;
    return n;
  }

  connectedAddresses(): string[] {
    return [...this.links.values()].map((l) => l.peripheral.address);
  }

  /** The peripheral drops its link (walks out of range, battery pulled) until `setInRange(true)`. */
  async setInRange(address: string, inRange: boolean): Promise<void> {
    const p = this.opts.peripherals.find((x) => x.address === address.toLowerCase());
    if (!p) return;
    p.inRange = inRange;
    if (!inRange) {
      const l = [...this.links.values()].find((x) => x.peripheral === p);
      if (l) await this.dropLink(l, ERR_CONNECTION_TIMEOUT);
    }
  }

  /** The peripheral ends the link itself (remote user terminated). */
  async remoteDisconnect(address: string): Promise<void> {
    const l = [...this.links.values()].find((x) => x.peripheral.address === address.toLowerCase());
    if (l) await this.dropLink(l, ERR_REMOTE_USER_TERMINATED);
  }

  /**
   * Advertising reports from `n` devices not on any list, each under a random address of its own
   * (phones and beacons near a ward: their private addresses change every few minutes), each a
   * name of 20 bytes and a 16-bit service. Sent while the host scans; returns the reports sent.
   */
  advertiseStrangers(n: number, rng: () => number = Math.random): number {
    if (!this.scanning) return 0;
    for (let i = 0; i < n; i++) {
      const address = Array.from({ length: 6 }, (_, k) => {
        const b = Math.floor(rng() * 256);
        return (k === 0 ? (b & 0x3f) | 0x40 : b).toString(16).padStart(2, '0'); // resolvable private address
      }).join(':');
      const name = `phone-${address.replace(/:/g, '').slice(0, 14)}`;
      const adv = Buffer.from([0x02, 0x01, 0x1a, 0x03, 0x03, 0x0d, 0x18]);
      const rsp = Buffer.concat([Buffer.from([name.length + 1, 0x09]), Buffer.from(name, 'latin1')]);
      this.advReport(0x00, address, adv, -70, 0x01);
      this.advReport(0x04, address, rsp, -70, 0x01);
    }
    return n;
  }

  /** Sends a malformed HCI event (an advertising report whose length runs past its end). */
  sendMalformedEvent(): void {
    this.stats.malformedEvents++;
    this.send(Buffer.from([EVT, 0x3e, 0x0c, 0x02, 0x01, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x1f, 0x02]));
  }

  // --- HCI transport -----------------------------------------------------------------

  private send(pkt: Buffer): void {
    if (!this.output || this.wedged) return;
    this.record?.write(`{"t":${this.now()},"dir":"c2h","hex":"${pkt.toString('hex')}"}\n`);
    if (this.opts.deliveryMs < 0) {
      this.stats.writes++;
      this.output.write(pkt);
      return;
    }
    this.outQueue.push(pkt);
    if (this.outScheduled) return;
    this.outScheduled = true;
    if (this.opts.deliveryMs > 0) setTimeout(() => this.flushOut(), this.opts.deliveryMs);
    else setImmediate(() => this.flushOut());
  }

  private flushOut(): void {
    this.outScheduled = false;
    const q = this.outQueue;
    if (q.length === 0) return;
    this.outQueue = [];
    this.stats.writes++;
    this.output?.write(q.length === 1 ? q[0]! : Buffer.concat(q));
  }

  private onBytes(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 1) return;
      const type = this.buf[0]!;
      let len: number;
      if (type === CMD) {
        if (this.buf.length < 4) return;
        len = 4 + this.buf[3]!;
      } else if (type === ACL) {
        if (this.buf.length < 5) return;
        len = 5 + this.buf.readUInt16LE(3);
      } else {
        // Not H4: resynchronise by dropping a byte.
        this.buf = this.buf.subarray(1);
        continue;
      }
      if (this.buf.length < len) return;
      const pkt = this.buf.subarray(0, len);
      this.buf = this.buf.subarray(len);
      this.record?.write(`{"t":${this.now()},"dir":"h2c","hex":"${pkt.toString('hex')}"}\n`);
      if (type === CMD) this.onCommand(pkt.readUInt16LE(1), pkt.subarray(4));
      else this.onAcl(pkt);
    }
  }

  private complete(opcode: number, ret: number[] | Buffer = [0]): void {
    const params = Buffer.from(ret);
    const b = Buffer.alloc(6 + params.length);
    b[0] = EVT;
    b[1] = 0x0e;
    b[2] = 3 + params.length;
    b[3] = 1;
    b.writeUInt16LE(opcode, 4);
    params.copy(b, 6);
    this.send(b);
  }

  private status(opcode: number, status: number): void {
    const b = Buffer.alloc(7);
    b[0] = EVT;
    b[1] = 0x0f;
    b[2] = 4;
    b[3] = status;
    b[4] = 1;
    b.writeUInt16LE(opcode, 5);
    this.send(b);
  }

  private onCommand(opcode: number, p: Buffer): void {
    this.stats.commands++;
    switch (opcode) {
      case OP.RESET:
        // A reset forgets every connection (no disconnection events): what a new host sees.
        for (const l of this.links.values()) this.stopLink(l);
        this.links.clear();
        this.scanning = false;
        this.pendingConnect = null;
        this.complete(opcode);
        return;
      case OP.SET_EVENT_MASK:
      case OP.LE_SET_EVENT_MASK:
      case OP.WRITE_LE_HOST_SUPPORTED:
      case OP.SET_EVENT_FILTER:
      case OP.LE_SET_SCAN_PARAMETERS:
        this.complete(opcode);
        return;
      case OP.READ_LE_HOST_SUPPORTED:
        this.complete(opcode, [0, 1, 0]);
        return;
      case OP.LE_READ_FEATURES:
        this.complete(opcode, [0, 0x01, 0, 0, 0, 0, 0, 0, 0]); // encryption only: legacy scanning, no DLE
        return;
      case OP.READ_LOCAL_VERSION:
        this.complete(opcode, [0, 0x09, 0x00, 0x00, 0x09, 0xff, 0xff, 0x00, 0x00]);
        return;
      case OP.READ_BD_ADDR:
        this.complete(opcode, [
          0,
          ...this.opts.address
            .split(':')
            .reverse()
            .map((h) => parseInt(h, 16)),
        ]);
        return;
      case OP.LE_READ_BUFFER_SIZE:
        this.complete(opcode, [0, 251, 0, 8]);
        return;
      case OP.READ_BUFFER_SIZE:
        this.complete(opcode, [0, 251, 0, 0, 8, 0, 0, 0]);
        return;
      case OP.READ_SUPPORTED_COMMANDS:
        this.complete(opcode, [0, ...new Array<number>(64).fill(0)]);
        return;
      case OP.LE_SET_SCAN_ENABLE:
        this.scanning = p[0] === 1;
        this.filterDuplicates = p[1] === 1;
        this.reported.clear();
        this.complete(opcode);
        return;
      case OP.LE_CREATE_CONN:
        this.createConnection(p);
        return;
      case OP.LE_CANCEL_CONN: {
        const pending = this.pendingConnect;
        this.pendingConnect = null;
        this.complete(opcode, [pending ? 0 : 0x0c]);
        if (pending) this.connComplete(ERR_UNKNOWN_CONNECTION, 0, pending.address);
        return;
      }
      case OP.DISCONNECT: {
        const handle = p.readUInt16LE(0) & 0x0fff;
        const l = this.links.get(handle);
        this.status(opcode, l ? 0 : ERR_UNKNOWN_CONNECTION);
        if (l) {
          this.stopLink(l);
          this.links.delete(handle);
          this.disconnComplete(handle, ERR_LOCAL_HOST_TERMINATED);
        }
        return;
      }
      case OP.READ_RSSI: {
        if (this.muteRssi) return;
        const handle = p.readUInt16LE(0);
        const l = this.links.get(handle);
        const rssi = l ? l.peripheral.nextRssi() : 127;
        this.complete(opcode, [l ? 0 : ERR_UNKNOWN_CONNECTION, handle & 0xff, handle >> 8, rssi & 0xff]);
        return;
      }
      case OP.LE_CONN_UPDATE:
        this.status(opcode, 0);
        return;
      default:
        this.complete(opcode, [ERR_UNKNOWN_COMMAND]);
        return;
    }
  }

  // --- advertising and connections -------------------------------------------------------

  private advertise(): void {
    // The initiator connects on the next advertisement of the peripheral it waits for.
    const pending = this.pendingConnect && this.opts.peripherals.find((x) => x.address === this.pendingConnect!.address);
    if (pending?.inRange) this.establish(pending);
    if (!this.scanning) return;
    const connected = new Set(this.connectedAddresses());
    for (const p of this.opts.peripherals) {
      if (!p.inRange || connected.has(p.address)) continue;
      if (this.filterDuplicates && this.reported.has(p.address)) continue;
      this.reported.add(p.address);
      const uuid = p.serviceUuid();
      const adv = Buffer.from([0x02, 0x01, 0x06, 0x03, 0x03, uuid & 0xff, uuid >> 8]);
      const rsp = Buffer.concat([Buffer.from([p.name.length + 1, 0x09]), Buffer.from(p.name, 'latin1')]);
      const rssi = p.nextRssi();
      this.advReport(0x00, p.address, adv, rssi);
      this.advReport(0x04, p.address, rsp, rssi);
    }
  }

  private advReport(type: number, address: string, data: Buffer, rssi: number, addressType = 0x00): void {
    const addr = address
      .split(':')
      .reverse()
      .map((h) => parseInt(h, 16));
    const body = Buffer.from([0x02, 1, type, addressType, ...addr, data.length, ...data, rssi & 0xff]);
    this.send(Buffer.concat([Buffer.from([EVT, 0x3e, body.length]), body]));
  }

  private createConnection(p: Buffer): void {
    const address = [...p.subarray(6, 12)]
      .reverse()
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(':');
    this.connectRequests.add(address);
    this.stats.connectAttempts.set(address, (this.stats.connectAttempts.get(address) ?? 0) + 1);
    if (this.links.size >= this.opts.maxConnections) {
      this.stats.refusedAtLimit++;
      this.status(OP.LE_CREATE_CONN, ERR_CONNECTION_LIMIT);
      return;
    }
    if (this.pendingConnect) {
      this.status(OP.LE_CREATE_CONN, 0x0c); // command disallowed: one create connection at a time
      return;
    }
    this.status(OP.LE_CREATE_CONN, 0);
    this.pendingConnect = { address };
  }

  private establish(p: SimPeripheral): void {
    if (!this.powered || !p.inRange) return;
    this.pendingConnect = null;
    const handle = this.nextHandle;
    this.nextHandle = this.nextHandle >= 0x0eff ? 0x40 : this.nextHandle + 1;
    const gatt = new GattServer(p.services());
    const link: Link = {
      handle,
      peripheral: p,
      gatt,
      timer: null,
      emissions: 0,
      indicationInFlight: false,
      indicationQueue: [],
      rx: null,
      barrier: null,
      racp: null,
      attSent: 0,
      stopping: false,
      off: false,
    };
    gatt.onCccdChange = () => this.schedule(link);
    gatt.refuseCccd = () => {
      if (p.refuseCccd) p.cccdRefused++;
      return p.refuseCccd;
    };
    gatt.onWrite = (uuid, v) => (uuid === RACP && p.racp ? this.racpWrite(link, v) : 0);
    gatt.onValueRead = (uuid, v) => {
      // Only the battery level is readable; its read value is a reading like a notified one.
      if (uuid === 0x2a19) this.writeTruth(link, { charUuid: uuid, bytes: v, values: [{ metric: 'battery_level', value: v[0]!, unit: '%' }] }, 'read');
    };
    gatt.onConfirm = () => {
      link.indicationInFlight = false;
      const next = link.indicationQueue.shift();
      if (next) this.deliver(link, next);
    };
    this.links.set(handle, link);
    this.stats.connections++;
    this.connComplete(0, handle, p.address);
  }

  private connComplete(status: number, handle: number, address: string): void {
    const addr = address
      .split(':')
      .reverse()
      .map((h) => parseInt(h, 16));
    const body = Buffer.from([0x01, status, handle & 0xff, handle >> 8, 0x00, 0x00, ...addr, 0x18, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00]);
    this.send(Buffer.concat([Buffer.from([EVT, 0x3e, body.length]), body]));
  }

  private disconnComplete(handle: number, reason: number): void {
    this.send(Buffer.from([EVT, 0x05, 0x04, 0x00, handle & 0xff, handle >> 8, reason]));
  }

  private stopLink(l: Link): void {
    if (l.timer) clearInterval(l.timer);
    l.timer = null;
    l.indicationQueue.length = 0;
    if (l.racp?.timer) clearTimeout(l.racp.timer);
    l.racp = null;
  }

  /**
   * A value written to the glucose meter's RACP: refused while its indications (or, for a
   * report, the Glucose Measurement notifications) are off, or while a procedure runs (but an
   * abort); otherwise, after the write response, the selected records go out one per timer
   * turn as notifications, then the response as an indication.
   */
  private racpWrite(l: Link, v: Buffer): number {
    const cccd = (uuid: number): number => l.gatt.cccd.get(l.gatt.valueHandle.get(uuid) ?? -1) ?? 0;
    if ((cccd(RACP) & 0x02) === 0 || (v[0] === 0x01 && (cccd(GLUCOSE_MEASUREMENT) & 0x01) === 0)) return ATT_ERR_CCCD_IMPROPER;
    const abort = v[0] === 0x03;
    if (l.racp && !abort) return ATT_ERR_PROCEDURE_IN_PROGRESS;
    const a = l.peripheral.memory.request(v);
    if (a.abort && l.racp?.timer) clearTimeout(l.racp.timer);
    l.racp = { records: [...a.records], response: a.response, timer: null };
    l.racp.timer = setTimeout(() => this.racpStep(l), 0);
    return 0;
  }

  private racpStep(l: Link): void {
    const run = l.racp;
    if (!run || !this.links.has(l.handle)) return;
    const r = run.records.shift();
    if (r) {
      this.deliver(l, l.peripheral.glucoseEmission(r));
      run.timer = setTimeout(() => this.racpStep(l), 0);
      return;
    }
    const wait = l.peripheral.memory.responseDelayMs;
    if (run.response && wait > 0 && !run.waited) {
      run.waited = true;
      run.timer = setTimeout(() => this.racpStep(l), wait);
      return;
    }
    l.racp = null;
    if (run.response) this.deliver(l, { charUuid: RACP, bytes: run.response, values: [] });
  }

  private async dropLink(l: Link, reason: number): Promise<void> {
    this.stopLink(l);
    this.links.delete(l.handle);
    this.disconnComplete(l.handle, reason);
  }

  /**
   * Power-off of one link: barrier rounds until one is answered with nothing sent on the link
   * after its request. The host's requests still in flight when power-off began (a read of the
   * battery level, a CCCD write) are answered after the first barrier request; an answer that
   * carries a value is in the truth file, so the host must have read it before the power goes:
   * the next round's request follows it. Then the link is off (its later requests go unanswered).
   */
  private async drain(l: Link): Promise<void> {
    for (let round = 0; round < 50; round++) {
      const before = l.attSent;
      if (!(await this.barrier(l))) break;
      // Checked after the await: the rest of the chunk that carried the host's answer has been handled.
      if (l.attSent === before + 1) break;
    }
    l.off = true;
  }

  /** Resolves true when the host has answered an ATT request sent after everything before it on this link (false: it never will). */
  private barrier(l: Link): Promise<boolean> {
    return new Promise((resolve) => {
      // A host that closed its end cannot answer; one that no longer answers cannot hold the
      // power switch for ever. The cap is long because a host on a loaded machine may take
      // seconds to read what was sent, and everything sent must be read before the power goes.
      const finish = (answered: boolean): void => {
        clearTimeout(t);
        this.hostGone.delete(gone);
        l.barrier = null;
        resolve(answered);
      };
      const gone = (): void => finish(false);
      const t = setTimeout(gone, 15_000);
      this.hostGone.add(gone);
      l.barrier = () => finish(true);
      this.sendAtt(l, Buffer.from([ATT_OPS.MTU_REQ, 247, 0]));
    });
  }

  private schedule(l: Link): void {
    if (l.stopping) return; // a CCCD written during power-off starts nothing
    const any = [...l.gatt.cccd.values()].some((v) => v !== 0);
    if (any && !l.timer) l.timer = setInterval(() => this.tick(l), l.peripheral.intervalMs);
    if (!any && l.timer) this.stopLink(l);
  }

  private tick(l: Link): void {
    if (!this.links.has(l.handle)) {
      this.stopLink(l);
      return;
    }
    const e = l.peripheral.emit();
    l.emissions++;
    this.deliver(l, e);
    if (this.opts.batteryEvery > 0 && l.emissions % this.opts.batteryEvery === 0) this.deliver(l, l.peripheral.emitBattery());
  }

  /** Sends one value if its CCCD asks for it; indications one at a time. Only sent values enter the truth file. */
  private deliver(l: Link, e: Emission): void {
    if (l.stopping) return;
    const vh = l.gatt.valueHandle.get(e.charUuid);
    if (vh === undefined) return;
    const cccd = l.gatt.cccd.get(vh) ?? 0;
    let opcode: number;
    if (cccd & 0x01) opcode = ATT_OPS.NOTIFY;
    else if (cccd & 0x02) {
      if (l.indicationInFlight) {
        if (l.indicationQueue.length < 4) l.indicationQueue.push(e);
        return;
      }
      l.indicationInFlight = true;
      opcode = ATT_OPS.INDICATE;
    } else return;
    const pdu = Buffer.alloc(3 + e.bytes.length);
    pdu[0] = opcode;
    pdu.writeUInt16LE(vh, 1);
    e.bytes.copy(pdu, 3);
    this.stats.notificationsSent++;
    if (e.malformed) this.stats.malformedSent++;
    this.writeTruth(l, e, opcode === ATT_OPS.NOTIFY ? 'notify' : 'indicate');
    this.sendAtt(l, pdu);
  }

  private writeTruth(l: Link, e: Emission, how: TruthRecord['how']): void {
    const rec: TruthRecord = {
      t: this.now(),
      address: l.peripheral.address,
      char: e.charUuid.toString(16),
      how,
      handle: l.gatt.valueHandle.get(e.charUuid) ?? 0,
      link: l.handle,
      values: e.values,
      hex: e.bytes.toString('hex'),
    };
    if (e.malformed) rec.malformed = true;
    this.truth?.write(`${JSON.stringify(rec)}\n`);
  }

  private sendAtt(l: Link, pdu: Buffer): void {
    const b = Buffer.alloc(9 + pdu.length);
    b[0] = ACL;
    b.writeUInt16LE(l.handle | (0x02 << 12), 1);
    b.writeUInt16LE(4 + pdu.length, 3);
    b.writeUInt16LE(pdu.length, 5);
    b.writeUInt16LE(0x0004, 7);
    pdu.copy(b, 9);
    l.attSent++;
    this.send(b);
  }

  private onAcl(pkt: Buffer): void {
    const hf = pkt.readUInt16LE(1);
    const handle = hf & 0x0fff;
    const pb = (hf >> 12) & 0x03;
    const data = pkt.subarray(5);
    // Number of Completed Packets: the host's ACL flow control.
    this.send(Buffer.from([EVT, 0x13, 0x05, 0x01, handle & 0xff, handle >> 8, 0x01, 0x00]));
    const l = this.links.get(handle);
    if (!l || l.off) return;
    if (pb === 0x00 || pb === 0x02) {
      if (data.length < 4) return;
      l.rx = { len: data.readUInt16LE(0), cid: data.readUInt16LE(2), data: Buffer.from(data.subarray(4)) };
    } else if (l.rx) {
      l.rx.data = Buffer.concat([l.rx.data, data]);
    }
    if (!l.rx || l.rx.data.length < l.rx.len) return;
    const { cid, data: sdu } = l.rx;
    l.rx = null;
    if (cid !== 0x0004) return; // signalling and SMP: nothing to say
    if (sdu[0] === ATT_OPS.MTU_RSP && l.barrier) {
      const done = l.barrier;
      l.barrier = null;
      done();
      return;
    }
    const rsp = l.gatt.handle(sdu);
    if (rsp) this.sendAtt(l, rsp);
  }
}
