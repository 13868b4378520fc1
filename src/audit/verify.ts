/** `wardgate audit verify`: walks the hash chain of an audit file and names every line that breaks it. */
import { readFileSync } from 'node:fs';
import { type AuditRecord, GENESIS, recordHash } from './log.js';

export interface AuditVerdict {
  ok: boolean;
  records: number;
  head: { seq: number; hash: string };
  /** Each break, by line number (1-based) and why. */
  problems: { line: number; why: string }[];
}

function verifyAuditText(text: string): AuditVerdict {
  const problems: { line: number; why: string }[] = [];
  const lines = text.split('\n');
  const trailing = lines.pop();
  if (trailing !== undefined && trailing !== '') problems.push({ line: lines.length + 1, why: 'the last line is incomplete (no newline at the end)' });
  let prev = GENESIS;
  let seq = 0;
  let records = 0;
  lines.forEach((l, i) => {
    const n = i + 1;
    let r: AuditRecord;
    try {
      r = JSON.parse(l) as AuditRecord;
    } catch {
      problems.push({ line: n, why: 'not a JSON record' });
      return;
    }
    records++;
    if (typeof r !== 'object' || r === null || typeof r.hash !== 'string' || typeof r.prev !== 'string' || !Number.isInteger(r.seq)) {
      problems.push({ line: n, why: 'not an audit record (seq, prev, hash missing)' });
      return;
    }
    if (r.seq !== seq + 1)
      problems.push({ line: n, why: `seq ${r.seq} follows ${seq}: ${r.seq > seq + 1 ? 'records missing (deleted) before it' : 'out of order or repeated'}` });
    if (r.prev !== prev) problems.push({ line: n, why: 'prev is not the hash of the line before it (a line deleted, moved or edited before it)' });
    if (recordHash(r) !== r.hash) problems.push({ line: n, why: 'hash does not match the record (the line was edited)' });
    prev = r.hash;
    seq = r.seq;
  });
  return { ok: problems.length === 0, records, head: { seq, hash: prev }, problems };
}

export function verifyAuditFile(file: string): AuditVerdict {
  return verifyAuditText(readFileSync(file, 'utf8'));
}
