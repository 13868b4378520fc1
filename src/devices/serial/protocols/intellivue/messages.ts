/**
 * What the gateway sends an IntelliVue (reference §2.3, vectors V-PH-3..6): the association
 * request, the MDS Create Event Result, extended polls, release. Builders return user data;
 * frame.ts frames them. Big-endian throughout.
 */

/** The serial association request VSCaptureMP and others send (V-PH-6, 300 bytes): poll profile, min period 500 ms, MTU 1456. */
export const AARQ = Buffer.from(
  [
    '0DFF01280508130100160102800014020002C1FF01163180A0808001010000A280A003000001A4803080020101060452',
    '010001308006025101000000003080020102060C2A8648CE14020100000001013080060C2A8648CE1402010000000201',
    '00000000000061803080020101A0806080A180060C2A8648CE14020100000003010000BE802880060C2A8648CE140201',
    '000000010102010281820080800000004000000000000000800000002000000000000000000200640001002880000000',
    '00000FA0000005B0000005B0FFFFFFFF600000000001000CF00100088E00000000000000010200340006003000010021',
    '0000000100010006000000C9000100090000003C00010005000000100001002A00000001000100360000000100000000',
    '000000000000000000000000',
  ].join(''),
  'hex',
);

/** Release request (SPDU 0x09) as VSCaptureMP sends it (its rlrq_msg); the reference names only the SPDU id (§2.3 step 7). */
export const RELEASE_REQUEST = Buffer.from('0918C11661803080020101A08062808001000000000000000000', 'hex');
/** Release response (SPDU 0x0A, VSCaptureMP's rlrq_resp_msg): the answer to a release request the monitor sends. */
export const RELEASE_RESPONSE = Buffer.from('0A18C11661803080020101A08063808001000000000000000000', 'hex');

const SESSION = [0xe1, 0x00, 0x00, 0x02];

/** MDS Create Event Result (V-PH-5 with invoke id 1 and event time 0x000ABD00): echoes the report's invoke id and event time. */
export function mdsCreateResult(invokeId: number, eventTime: number): Buffer {
  const b = Buffer.alloc(28);
  Buffer.from(SESSION).copy(b, 0);
  b.writeUInt16BE(2, 4); // RORS
  b.writeUInt16BE(20, 6);
  b.writeUInt16BE(invokeId & 0xffff, 8);
  b.writeUInt16BE(1, 10); // confirmed event report
  b.writeUInt16BE(14, 12);
  b.writeUInt16BE(0x21, 14); // MDS object, context 0, handle 0
  b.writeUInt32BE(eventTime >>> 0, 20);
  b.writeUInt16BE(0x0d06, 24); // NOM_NOTI_MDS_CREAT
  b.writeUInt16BE(0, 26);
  return b;
}

export interface PollSpec {
  invokeId: number;
  pollNumber: number;
  /** Polled object code: 6 numerics, 0x36 alert monitor, 0x21 MDS. */
  objCode: number;
  /** Attribute group: 0 all, 0x0801 alert monitor, 0x0803 metric observed values. */
  group: number;
  /** NOM_ATTR_TIME_PD_POLL period in 1/8 ms ticks; omitted when undefined. */
  periodTicks?: number;
}

/** Extended poll request (action 0xF13B; V-PH-3 numerics, V-PH-4 alarms). */
export function extendedPoll(p: PollSpec): Buffer {
  const attrs = p.periodTicks === undefined ? 0 : 8;
  const b = Buffer.alloc(40 + attrs);
  Buffer.from(SESSION).copy(b, 0);
  b.writeUInt16BE(1, 4); // ROIV
  b.writeUInt16BE(32 + attrs, 6);
  b.writeUInt16BE(p.invokeId & 0xffff, 8);
  b.writeUInt16BE(7, 10); // confirmed action
  b.writeUInt16BE(26 + attrs, 12);
  b.writeUInt16BE(0x21, 14); // MDS object
  // 16..19 context, handle; 20..23 scope: zero
  b.writeUInt16BE(0xf13b, 24);
  b.writeUInt16BE(12 + attrs, 26);
  b.writeUInt16BE(p.pollNumber & 0xffff, 28);
  b.writeUInt16BE(1, 30); // NOM_PART_OBJ
  b.writeUInt16BE(p.objCode, 32);
  b.writeUInt16BE(p.group, 34);
  b.writeUInt16BE(attrs === 0 ? 0 : 1, 36);
  b.writeUInt16BE(attrs, 38);
  if (p.periodTicks !== undefined) {
    b.writeUInt16BE(0xf13e, 40);
    b.writeUInt16BE(4, 42);
    b.writeUInt32BE(p.periodTicks >>> 0, 44);
  }
  return b;
}

/** Single poll request (action 0x0C16, reference §2.3; V-PH-5b polls the MDS object): no attribute list. */
export function singlePoll(p: Omit<PollSpec, 'periodTicks'>): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(SESSION).copy(b, 0);
  b.writeUInt16BE(1, 4); // ROIV
  b.writeUInt16BE(28, 6);
  b.writeUInt16BE(p.invokeId & 0xffff, 8);
  b.writeUInt16BE(7, 10); // confirmed action
  b.writeUInt16BE(22, 12);
  b.writeUInt16BE(0x21, 14); // MDS object
  b.writeUInt16BE(0x0c16, 24);
  b.writeUInt16BE(8, 26);
  b.writeUInt16BE(p.pollNumber & 0xffff, 28);
  b.writeUInt16BE(1, 30); // NOM_PART_OBJ
  b.writeUInt16BE(p.objCode, 32);
  b.writeUInt16BE(p.group, 34);
  return b;
}
