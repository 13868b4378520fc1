/**
 * Line faults for tests, applied to the bytes of one record on their way out: noise between
 * records, a dropped byte, a corrupted checksum, a record split into pieces. Each returns
 * what to write and whether the record is damaged (the gateway must then not deliver it).
 */
export interface FaultOptions {
  /** Probability a record is preceded by 1-40 random bytes. */
  noise?: number;
  /** Probability one byte of the record is dropped. */
  drop?: number;
  /** Probability the record's last checksum-covered byte is flipped. */
  corrupt?: number;
  /** Write the record in pieces of 1..split bytes (0: whole). */
  split?: number;
}

export function parseFaults(list: string[]): FaultOptions {
  const f: FaultOptions = {};
  for (const item of list) {
    const [k, v] = item.split('=');
    const n = v === undefined ? 0.05 : Number(v);
    if (k === 'noise' || k === 'drop' || k === 'corrupt' || k === 'split') f[k] = n;
  }
  return f;
}

export interface Damage {
  chunks: Buffer[];
  damaged?: string;
  /** Noise bytes written before the record, if any. */
  noise?: Buffer;
}

/**
 * `record` is the framed record; `noiseByte` filters noise so it cannot fake a frame start
 * for protocols where that matters (it still may: the gateway must resynchronise).
 */
export function applyFaults(record: Buffer, f: FaultOptions, rand: () => number, corruptAt = record.length - 2): Damage {
  let bytes = record;
  let damaged: string | undefined;
  const pre: Buffer[] = [];
  if (f.noise && rand() < f.noise) {
    const n = 1 + Math.floor(rand() * 40);
    pre.push(Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256))));
  }
  if (f.drop && rand() < f.drop && bytes.length > 2) {
    const i = 1 + Math.floor(rand() * (bytes.length - 2));
    bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
    damaged = 'dropped_byte';
  } else if (f.corrupt && rand() < f.corrupt && corruptAt >= 0) {
    bytes = Buffer.from(bytes);
    bytes[corruptAt] = bytes[corruptAt]! ^ 0x01;
    damaged = 'corrupted';
  }
  const chunks = [...pre];
  const noise = pre[0];
  if (f.split && f.split > 0) {
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(rand() * f.split);
      chunks.push(bytes.subarray(i, i + n));
      i += n;
    }
  } else chunks.push(bytes);
  return { chunks, ...(damaged ? { damaged } : {}), ...(noise ? { noise } : {}) };
}
