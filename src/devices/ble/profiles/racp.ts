/**
 * Record Access Control Point (0x2A52) of the Glucose Service (GLS v1.0 §3.4, layout of the
 * value in the GATT Specification Supplement, "Record Access Control Point"): request
 * builders and a response parser. Pure: bytes in, result out; never throws.
 *
 * Value layout: Op Code (uint8), Operator (uint8), Operand (variable).
 * Responses are indicated by the server with Operator 0x00 (Null).
 */
import { u16 } from './bytes.js';

export const RACP_UUID = '2a52';

export const RacpOpCode = {
  reportStoredRecords: 0x01,
  deleteStoredRecords: 0x02,
  abortOperation: 0x03,
  reportNumberOfStoredRecords: 0x04,
  numberOfStoredRecordsResponse: 0x05,
  responseCode: 0x06,
} as const;

export const RacpOperator = { null: 0x00, allRecords: 0x01, lessOrEqual: 0x02, greaterOrEqual: 0x03, withinRange: 0x04, first: 0x05, last: 0x06 } as const;

/** Filter type of a GLS operand: 0x01 sequence number (uint16), 0x02 user facing time. */
const RACP_FILTER_SEQUENCE_NUMBER = 0x01;

const RESPONSE_CODES: Readonly<Record<number, RacpResponseCode>> = {
  1: 'success',
  2: 'op_code_not_supported',
  3: 'invalid_operator',
  4: 'operator_not_supported',
  5: 'invalid_operand',
  6: 'no_records_found',
  7: 'abort_unsuccessful',
  8: 'procedure_not_completed',
  9: 'operand_not_supported',
};

export type RacpResponseCode =
  | 'success'
  | 'op_code_not_supported'
  | 'invalid_operator'
  | 'operator_not_supported'
  | 'invalid_operand'
  | 'no_records_found'
  | 'abort_unsuccessful'
  | 'procedure_not_completed'
  | 'operand_not_supported'
  | 'reserved';

export type RacpResponse =
  | { kind: 'response_code'; requestOpCode: number; code: RacpResponseCode; codeValue: number }
  | { kind: 'number_of_records'; count: number };

/** Why a value was refused; a fixed set so the caller can count each as a metrics label. */
export type RacpRejectReason = 'too_short' | 'bad_length' | 'unexpected_operator' | 'unknown_opcode';

export type RacpParseResult = { ok: true; response: RacpResponse } | { ok: false; reason: RacpRejectReason };

const rejectRacp = (reason: RacpRejectReason): RacpParseResult => ({ ok: false, reason });

/** Report stored records, all of them: 01 01. */
export function reportAllRecords(): Uint8Array {
  return Uint8Array.of(RacpOpCode.reportStoredRecords, RacpOperator.allRecords);
}

/**
 * Report stored records with sequence number >= `fromSeq`: 01 03 01 LL HH. For "the records
 * after the last one seen", pass lastSeen + 1 (a caller at 0xFFFF has nothing newer to ask for).
 */
export function reportRecordsFrom(fromSeq: number): Uint8Array {
  const s = fromSeq & 0xffff;
  return Uint8Array.of(RacpOpCode.reportStoredRecords, RacpOperator.greaterOrEqual, RACP_FILTER_SEQUENCE_NUMBER, s & 0xff, s >> 8);
}

/** Report stored records with sequence numbers from `min` to `max` (inclusive): 01 04 01 <min LE> <max LE>. */
export function reportRecordsBetween(min: number, max: number): Uint8Array {
  const a = min & 0xffff;
  const b = max & 0xffff;
  return Uint8Array.of(RacpOpCode.reportStoredRecords, RacpOperator.withinRange, RACP_FILTER_SEQUENCE_NUMBER, a & 0xff, a >> 8, b & 0xff, b >> 8);
}

/** Report number of stored records, all of them: 04 01. */
export function reportNumberOfRecords(): Uint8Array {
  return Uint8Array.of(RacpOpCode.reportNumberOfStoredRecords, RacpOperator.allRecords);
}

/** Parses a value the server indicated on the RACP. */
export function parseRacpResponse(b: Uint8Array): RacpParseResult {
  if (b.length < 2) return rejectRacp('too_short');
  const op = b[0]!;
  if (op !== RacpOpCode.responseCode && op !== RacpOpCode.numberOfStoredRecordsResponse) return rejectRacp('unknown_opcode');
  if (b.length !== 4) return rejectRacp('bad_length');
  if (b[1] !== RacpOperator.null) return rejectRacp('unexpected_operator');
  if (op === RacpOpCode.numberOfStoredRecordsResponse) return { ok: true, response: { kind: 'number_of_records', count: u16(b, 2) } };
  const codeValue = b[3]!;
  return { ok: true, response: { kind: 'response_code', requestOpCode: b[2]!, code: RESPONSE_CODES[codeValue] ?? 'reserved', codeValue } };
}
