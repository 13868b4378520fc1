/**
 * The simulated glucose meter's memory and its Record Access Control Point (RACP, 0x2A52),
 * written from the Glucose Service (GLS v1.0 §3.4) and the GATT Specification Supplement,
 * independently of wardgate's parsers (nothing here is imported from src/).
 *
 * The meter stores every measurement it takes, connected or not, each with the next
 * sequence number. Over RACP it answers "report stored records" (operators: all records,
 * greater than or equal to a sequence number, within a range of sequence numbers, first
 * record, last record: the oldest and the newest in storage order), "report number of stored records" and
 * "abort operation"; other op codes get "op code not supported", other operators "operator
 * not supported". The controller sends the selected records as Glucose Measurement
 * notifications, then the response indication.
 */
import { Bytes, sfloat } from './sig-encode.js';

export const GLUCOSE_SERVICE = 0x1808;
export const GLUCOSE_MEASUREMENT = 0x2a18;
export const RACP = 0x2a52;

const OP = { report: 0x01, delete: 0x02, abort: 0x03, reportNumber: 0x04, numberResponse: 0x05, responseCode: 0x06 } as const;
const OPERATOR = { null: 0x00, all: 0x01, lessOrEqual: 0x02, greaterOrEqual: 0x03, withinRange: 0x04, first: 0x05, last: 0x06 } as const;
export const RACP_CODE = {
  success: 0x01,
  opCodeNotSupported: 0x02,
  invalidOperator: 0x03,
  operatorNotSupported: 0x04,
  invalidOperand: 0x05,
  noRecordsFound: 0x06,
  operandNotSupported: 0x09,
} as const;
const FILTER_SEQUENCE = 0x01;

export interface GlucoseRecord {
  seq: number;
  /** mg/dL, as the meter measured it (sent in kg/L: 1 mg/dL = 1e-5 kg/L). */
  mgdl: number;
  bytes: Buffer;
}

/** What the meter does with a RACP write: the records to notify, then the response to indicate (none: it never answers). */
export interface RacpAnswer {
  records: GlucoseRecord[];
  response: Buffer | null;
  /** An abort: the procedure in progress stops before its next record. */
  abort: boolean;
}

/**
 * How the meter answers: as GLS says; "op code not supported" to every request (a meter
 * with a RACP it does not implement); never (silent); every record whatever the filter
 * (a meter that ignores the operand); "operator not supported" to first/last record; or
 * "operator not supported" to within a range.
 */
export type RacpMode = 'normal' | 'unsupported' | 'silent' | 'ignore_filter' | 'no_first_last' | 'no_range';

export class GlucoseMemory {
  readonly records: GlucoseRecord[] = [];
  /** Every RACP value written to the meter, in order (what the central asked for). */
  readonly requests: Buffer[] = [];
  mode: RacpMode = 'normal';
  /** The pause between a report's last record and its response (a slow meter; the procedure still runs meanwhile). */
  responseDelayMs = 0;
  private nextSeq: number;

  constructor(firstSeq = 1) {
    this.nextSeq = firstSeq;
  }

  /** Battery change or factory reset: the memory is cleared and the counter starts again at `firstSeq`. */
  reset(firstSeq = 1): void {
    this.records.length = 0;
    this.nextSeq = firstSeq & 0xffff;
  }

  /** Takes a measurement (mg/dL): stored with the next sequence number, returned as Glucose Measurement bytes. */
  take(mgdl: number, at: Date): GlucoseRecord {
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) & 0xffff;
    // Flags: concentration and type/location present, kg/L; capillary whole blood (1), finger (1).
    const bytes = new Bytes()
      .u8(0x02)
      .u16(seq)
      .dateTime(at)
      .u16(sfloat(mgdl / 100_000, 5))
      .u8(0x11)
      .done();
    const r = { seq, mgdl, bytes };
    this.records.push(r);
    return r;
  }

  /** Answers one value written to the RACP. */
  request(v: Buffer): RacpAnswer {
    this.requests.push(Buffer.from(v));
    const none = (response: Buffer | null): RacpAnswer => ({ records: [], response, abort: false });
    if (this.mode === 'silent') return none(null);
    if (v.length < 1) return none(null);
    const op = v[0]!;
    if (this.mode === 'unsupported' || (op !== OP.report && op !== OP.reportNumber && op !== OP.abort)) return none(code(op, RACP_CODE.opCodeNotSupported));
    if (v.length < 2) return none(code(op, RACP_CODE.invalidOperator));
    const operator = v[1]!;
    if (op === OP.abort) {
      if (operator !== OPERATOR.null || v.length !== 2)
        return none(code(op, operator !== OPERATOR.null ? RACP_CODE.invalidOperator : RACP_CODE.invalidOperand));
      return { records: [], response: code(op, RACP_CODE.success), abort: true };
    }
    const sel = this.mode === 'ignore_filter' ? [...this.records] : this.select(operator, v.subarray(2));
    if (typeof sel === 'number') return none(code(op, sel));
    if (op === OP.reportNumber) return none(Buffer.from([OP.numberResponse, OPERATOR.null, sel.length & 0xff, sel.length >> 8]));
    if (sel.length === 0) return none(code(op, RACP_CODE.noRecordsFound));
    return { records: sel, response: code(op, RACP_CODE.success), abort: false };
  }

  private select(operator: number, operand: Buffer): GlucoseRecord[] | number {
    switch (operator) {
      case OPERATOR.all:
        return operand.length === 0 ? [...this.records] : RACP_CODE.invalidOperand;
      case OPERATOR.greaterOrEqual: {
        if (operand.length < 1) return RACP_CODE.invalidOperand;
        if (operand[0] !== FILTER_SEQUENCE) return RACP_CODE.operandNotSupported;
        if (operand.length !== 3) return RACP_CODE.invalidOperand;
        const from = operand.readUInt16LE(1);
        return this.records.filter((r) => r.seq >= from);
      }
      case OPERATOR.first:
      case OPERATOR.last: {
        if (this.mode === 'no_first_last') return RACP_CODE.operatorNotSupported;
        if (operand.length !== 0) return RACP_CODE.invalidOperand;
        const r = operator === OPERATOR.first ? this.records[0] : this.records[this.records.length - 1];
        return r ? [r] : [];
      }
      case OPERATOR.withinRange: {
        if (this.mode === 'no_range') return RACP_CODE.operatorNotSupported;
        if (operand.length < 1) return RACP_CODE.invalidOperand;
        if (operand[0] !== FILTER_SEQUENCE) return RACP_CODE.operandNotSupported;
        if (operand.length !== 5) return RACP_CODE.invalidOperand;
        const min = operand.readUInt16LE(1);
        const max = operand.readUInt16LE(3);
        if (min > max) return RACP_CODE.invalidOperand;
        return this.records.filter((r) => r.seq >= min && r.seq <= max);
      }
      case OPERATOR.lessOrEqual:
        return RACP_CODE.operatorNotSupported;
      default:
        // Null, or a reserved value: not an operator of this op code.
        return RACP_CODE.invalidOperator;
    }
  }
}

/** Response Code indication: 06 00 <request op code> <code>. */
function code(requestOp: number, value: number): Buffer {
  return Buffer.from([OP.responseCode, OPERATOR.null, requestOp, value]);
}
