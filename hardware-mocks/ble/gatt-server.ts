/**
 * A peripheral's GATT server: an attribute table built from service definitions and the
 * ATT requests a central sends (MTU exchange, primary service discovery, characteristic
 * discovery, descriptor discovery, reads, writes to CCCDs, indication confirmations).
 */

export interface CharDef {
  uuid: number;
  /** Characteristic properties: 0x02 read, 0x08 write, 0x10 notify, 0x20 indicate. */
  props: number;
  read?: () => Buffer;
}

export interface ServiceDef {
  uuid: number;
  chars: CharDef[];
}

interface Attr {
  handle: number;
  type: number;
  value: Buffer;
  /** For value attributes. */
  char?: CharDef;
  /** For CCCDs: the value handle they configure. */
  cccdOf?: number;
}

const ATT = {
  ERROR: 0x01,
  MTU_REQ: 0x02,
  MTU_RSP: 0x03,
  FIND_INFO_REQ: 0x04,
  FIND_INFO_RSP: 0x05,
  READ_BY_TYPE_REQ: 0x08,
  READ_BY_TYPE_RSP: 0x09,
  READ_REQ: 0x0a,
  READ_RSP: 0x0b,
  READ_BY_GROUP_REQ: 0x10,
  READ_BY_GROUP_RSP: 0x11,
  WRITE_REQ: 0x12,
  WRITE_RSP: 0x13,
  NOTIFY: 0x1b,
  INDICATE: 0x1d,
  CONFIRM: 0x1e,
  WRITE_CMD: 0x52,
} as const;
const ERR_INVALID_HANDLE = 0x01;
const ERR_REQ_NOT_SUPP = 0x06;
const ERR_NOT_FOUND = 0x0a;

export const ATT_OPS = ATT;

function err(op: number, handle: number, code: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = ATT.ERROR;
  b[1] = op;
  b.writeUInt16LE(handle, 2);
  b[4] = code;
  return b;
}

export class GattServer {
  private readonly attrs: Attr[] = [];
  /** value handle -> CCCD value (bit0 notify, bit1 indicate). */
  readonly cccd = new Map<number, number>();
  /** characteristic uuid -> value handle */
  readonly valueHandle = new Map<number, number>();
  private readonly serviceRanges: { start: number; end: number; uuid: number }[] = [];
  mtu = 23;
  onCccdChange?: (valueHandle: number, value: number) => void;
  onConfirm?: () => void;
  /** A characteristic value was read (the controller records it as sent). */
  onValueRead?: (charUuid: number, value: Buffer) => void;
  /** A value written to a characteristic: returns an ATT error code to refuse it, 0 to accept (write response first, then what it starts). */
  onWrite?: (charUuid: number, value: Buffer) => number;
  /** Asked before a CCCD write is applied: an ATT error code refuses it (the CCCD keeps its value), 0 accepts it. */
  refuseCccd?: (charUuid: number, value: number) => number;

  constructor(services: ServiceDef[]) {
    let h = 1;
    for (const s of services) {
      const start = h;
      this.attrs.push({ handle: h++, type: 0x2800, value: Buffer.from([s.uuid & 0xff, s.uuid >> 8]) });
      for (const c of s.chars) {
        const decl = h++;
        const vh = h++;
        const v = Buffer.alloc(5);
        v[0] = c.props;
        v.writeUInt16LE(vh, 1);
        v.writeUInt16LE(c.uuid, 3);
        this.attrs.push({ handle: decl, type: 0x2803, value: v });
        this.attrs.push({ handle: vh, type: c.uuid, value: Buffer.alloc(0), char: c });
        this.valueHandle.set(c.uuid, vh);
        if (c.props & 0x30) {
          this.attrs.push({ handle: h++, type: 0x2902, value: Buffer.alloc(2), cccdOf: vh });
          this.cccd.set(vh, 0);
        }
      }
      this.serviceRanges.push({ start, end: h - 1, uuid: s.uuid });
    }
  }

  /** Resets per-connection state (CCCDs are not bonded: a new connection starts unsubscribed). */
  reset(): void {
    for (const k of this.cccd.keys()) this.cccd.set(k, 0);
    this.mtu = 23;
  }

  /** Handles one ATT PDU from the central; returns the response to send, if any. */
  handle(pdu: Buffer): Buffer | undefined {
    if (pdu.length === 0) return undefined;
    const op = pdu[0]!;
    switch (op) {
      case ATT.MTU_REQ: {
        if (pdu.length < 3) return err(op, 0, 0x04);
        this.mtu = Math.max(23, Math.min(247, pdu.readUInt16LE(1)));
        const b = Buffer.alloc(3);
        b[0] = ATT.MTU_RSP;
        b.writeUInt16LE(247, 1);
        return b;
      }
      case ATT.MTU_RSP:
        return undefined;
      case ATT.READ_BY_GROUP_REQ: {
        if (pdu.length < 7) return err(op, 0, 0x04);
        const start = pdu.readUInt16LE(1);
        const end = pdu.readUInt16LE(3);
        const found = this.serviceRanges.filter((s) => s.start >= start && s.start <= end);
        if (found.length === 0) return err(op, start, ERR_NOT_FOUND);
        const out = [ATT.READ_BY_GROUP_RSP, 6];
        for (const s of found.slice(0, Math.floor((this.mtu - 2) / 6)))
          out.push(s.start & 0xff, s.start >> 8, s.end & 0xff, s.end >> 8, s.uuid & 0xff, s.uuid >> 8);
        return Buffer.from(out);
      }
      case ATT.READ_BY_TYPE_REQ: {
        if (pdu.length < 7) return err(op, 0, 0x04);
        const start = pdu.readUInt16LE(1);
        const end = pdu.readUInt16LE(3);
        const type = pdu.readUInt16LE(5);
        const found = this.attrs.filter((a) => a.handle >= start && a.handle <= end && a.type === type);
        if (found.length === 0) return err(op, start, ERR_NOT_FOUND);
        const len = 2 + found[0]!.value.length;
        const out: number[] = [ATT.READ_BY_TYPE_RSP, len];
        for (const a of found) {
          if (2 + a.value.length !== len || out.length + len > this.mtu) break;
          out.push(a.handle & 0xff, a.handle >> 8, ...this.valueOf(a));
        }
        return Buffer.from(out);
      }
      case ATT.FIND_INFO_REQ: {
        if (pdu.length < 5) return err(op, 0, 0x04);
        const start = pdu.readUInt16LE(1);
        const end = pdu.readUInt16LE(3);
        const found = this.attrs.filter((a) => a.handle >= start && a.handle <= end);
        if (found.length === 0) return err(op, start, ERR_NOT_FOUND);
        const out: number[] = [ATT.FIND_INFO_RSP, 0x01];
        for (const a of found) {
          if (out.length + 4 > this.mtu) break;
          out.push(a.handle & 0xff, a.handle >> 8, a.type & 0xff, a.type >> 8);
        }
        return Buffer.from(out);
      }
      case ATT.READ_REQ: {
        if (pdu.length < 3) return err(op, 0, 0x04);
        const h = pdu.readUInt16LE(1);
        const a = this.attrs.find((x) => x.handle === h);
        if (!a) return err(op, h, ERR_INVALID_HANDLE);
        const v = this.valueOf(a).subarray(0, this.mtu - 1);
        if (a.char) this.onValueRead?.(a.char.uuid, v);
        return Buffer.concat([Buffer.from([ATT.READ_RSP]), v]);
      }
      case ATT.WRITE_REQ:
      case ATT.WRITE_CMD: {
        if (pdu.length < 3) return op === ATT.WRITE_REQ ? err(op, 0, 0x04) : undefined;
        const h = pdu.readUInt16LE(1);
        const a = this.attrs.find((x) => x.handle === h);
        if (!a) return op === ATT.WRITE_REQ ? err(op, h, ERR_INVALID_HANDLE) : undefined;
        if (a.cccdOf !== undefined && pdu.length >= 5) {
          const v = pdu.readUInt16LE(3);
          const charUuid = this.attrs.find((x) => x.handle === a.cccdOf)?.char?.uuid ?? 0;
          const refused = op === ATT.WRITE_REQ ? (this.refuseCccd?.(charUuid, v) ?? 0) : 0;
          if (refused) return err(op, h, refused);
          this.cccd.set(a.cccdOf, v);
          this.onCccdChange?.(a.cccdOf, v);
        } else if (a.char && this.onWrite) {
          const refused = this.onWrite(a.char.uuid, pdu.subarray(3));
          if (refused) return op === ATT.WRITE_REQ ? err(op, h, refused) : undefined;
        }
        return op === ATT.WRITE_REQ ? Buffer.from([ATT.WRITE_RSP]) : undefined;
      }
      case ATT.CONFIRM:
        this.onConfirm?.();
        return undefined;
      default:
        // Responses to the server's own requests (the barrier ping) and anything else.
        if (op % 2 === 1 || op === ATT.ERROR) return undefined;
        return err(op, 0, ERR_REQ_NOT_SUPP);
    }
  }

  private valueOf(a: Attr): Buffer {
    if (a.cccdOf !== undefined) {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(this.cccd.get(a.cccdOf) ?? 0);
      return b;
    }
    if (a.char) return a.char.read ? a.char.read() : Buffer.alloc(0);
    return a.value;
  }
}
