/**
 * Requests to an S/5 monitor (reference §3.3-3.6, vectors V-GE-1..4; the computer-interface
 * specification's Appendix A examples A-1..A-6): a 40-byte DRI header (little-endian) with one
 * subrecord descriptor, then the subrecord. frame.ts frames them.
 */
export const MAINTYPE = { phdb: 0, wave: 1, alarm: 4 } as const;
/** phdb_rcrd_type (§3.4): displayed values, 10 s and 60 s trends. */
export const PHDB_TYPE = { displ: 1, trend10s: 2, trend60s: 3 } as const;

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

/** dri_phdb_req (9 bytes): record type, interval in s (>= 5; -1 once; 0 stops), classes as phdb_class_bf. */
export function phdbRequest(recordType: number, intervalS: number, classBits = 0, level = 9): Buffer {
  const sub = Buffer.alloc(9);
  sub[0] = recordType;
  sub.writeInt16LE(intervalS, 1);
  sub.writeUInt32LE(classBits >>> 0, 3);
  return record(MAINTYPE.phdb, level, sub);
}

/** Displayed-values request (phdb_rcrd_type 1): every `intervalS` seconds (>= 5; 0 stops), classes as phdb_class_bf. */
export function displRequest(intervalS: number, classBits = 0, level = 9): Buffer {
  return phdbRequest(PHDB_TYPE.displ, intervalS, classBits, level);
}

/** Waveform request (wf_req, 32 bytes): req_type 0 start / 1 stop, up to 8 waveform types, 0xFF-terminated. */
export function waveRequest(reqType: 0 | 1, types: readonly number[], level = 0): Buffer {
  const sub = Buffer.alloc(32);
  sub.writeInt16LE(reqType, 0);
  const list = types.slice(0, 8);
  list.forEach((t, i) => {
    sub[4 + i] = t;
  });
  if (list.length < 8) sub[4 + list.length] = 0xff;
  return record(MAINTYPE.wave, level, sub);
}

/** Alarm request (al_tx_cmd, 16-bit cmd + 5 reserved): 0 status now, 2 differential mode, 3 exit. */
export function alarmRequest(cmd: number, level = 0): Buffer {
  const sub = Buffer.alloc(12);
  sub.writeUInt16LE(cmd, 0);
  return record(MAINTYPE.alarm, level, sub);
}
