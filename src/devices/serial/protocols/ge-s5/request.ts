/**
 * Requests to an S/5 monitor (reference §3.3-3.6, vectors V-GE-1..3): a 40-byte DRI header
 * (little-endian) with one subrecord descriptor, then the subrecord. frame.ts frames them.
 */
export const MAINTYPE = { phdb: 0, wave: 1, alarm: 4 } as const;

function record(maintype: number, level: number, sub: Buffer): Buffer {
  const b = Buffer.alloc(40 + sub.length);
  b.writeUInt16LE(b.length, 0);
  b[3] = level;
  b.writeUInt16LE(maintype, 14);
  // sr_desc[0] = { offset 0, type 0 (request) }, sr_desc[1].type = 0xFF (end of list)
  b[21] = 0xff;
  sub.copy(b, 40);
  return b;
}

/** Displayed-values request (phdb_rcrd_type 1): every `intervalS` seconds (>= 5; 0 stops), classes as phdb_class_bf. */
export function displRequest(intervalS: number, classBits = 0, level = 9): Buffer {
  const sub = Buffer.alloc(9);
  sub[0] = 1;
  sub.writeInt16LE(intervalS, 1);
  sub.writeUInt32LE(classBits >>> 0, 3);
  return record(MAINTYPE.phdb, level, sub);
}

/** Alarm request (al_tx_cmd, 16-bit cmd + 5 reserved): 0 status now, 2 differential mode, 3 exit. */
export function alarmRequest(cmd: number, level = 0): Buffer {
  const sub = Buffer.alloc(12);
  sub.writeUInt16LE(cmd, 0);
  return record(MAINTYPE.alarm, level, sub);
}
