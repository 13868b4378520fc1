/**
 * FHIR ids from wardgate's ids. A FHIR id is `[A-Za-z0-9\-\.]{1,64}`; gateway, device, bed and
 * patient ids may hold any character and be up to 64 (gateway) or 128 characters long. The
 * mapping, documented in docs/formats.md:
 *
 * 1. Escape: letters, digits and `-` stay; every other character (`.` included) becomes `.` and
 *    two upper-case hex digits per UTF-8 byte (`_` -> `.5F`, `:` -> `.3A`, space -> `.20`,
 *    `ü` -> `.C3.BC`). Ids of letters, digits and dashes (most ids) are unchanged. Escaping is
 *    injective, and its output never holds `..` or `.` followed by anything but [0-9A-F].
 * 2. Too long (over the budget, 64 less any suffix): the first characters of the escaped id,
 *    then `.h` and 22 lower-case hex digits (88 bits) of the SHA-256 of the original id. `.h`
 *    never occurs in an escaped id, so a shortened id never equals an escaped one; two ids
 *    collide only if they share the first characters and an 88-bit hash prefix.
 *
 * The original value always travels too, as an `identifier` (see fhir-r4.ts), so a consumer
 * joins on it, never on the FHIR id.
 */
import { createHash } from 'node:crypto';

export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const KEEP = /^[A-Za-z0-9-]+$/;
const HASH_HEX = 22;

/** Step 1: the injective escape. */
export function escapeId(raw: string): string {
  if (KEEP.test(raw)) return raw;
  let out = '';
  for (const ch of raw) {
    if (/[A-Za-z0-9-]/.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `.${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const hashHex = (raw: string): string => createHash('sha256').update(raw, 'utf8').digest('hex').slice(0, HASH_HEX);

/**
 * The FHIR id of `raw`, followed by `suffix` (which must itself be FHIR id characters and start
 * with something that is neither `.` nor a hex digit after the id, e.g. `-<seq>`).
 */
export function fhirId(raw: string, suffix = ''): string {
  if (raw.length === 0) throw new TypeError('fhirId: empty id');
  const budget = 64 - suffix.length;
  const esc = escapeId(raw);
  if (esc.length <= budget) return esc + suffix;
  const keep = budget - 2 - HASH_HEX;
  if (keep < 1) throw new TypeError(`fhirId: suffix too long (${suffix.length})`);
  // Never end the kept part on a dot: `x.` + `.h…` would read as `..`.
  const head = esc.slice(0, keep).replace(/\.[0-9A-F]?$/, '');
  return `${head}.h${hashHex(raw)}${suffix}`;
}

/** The id of the Observation for the reading `gatewayId`/`seq` (the seq after the last `-`). */
export const observationId = (gatewayId: string, seq: number): string => fhirId(gatewayId, `-${seq}`);
