/**
 * Heart Rate Measurement (0x2A37). Flags: bit0 uint16 rate, bit1 contact detected, bit2
 * contact feature supported, bit3 energy expended (uint16 kJ), bit4 RR intervals (uint16,
 * 1/1024 s, filling the rest of the packet). An odd number of RR octets is refused.
 */
import { u16 } from './bytes.js';
import { type ParseResult, type ProfileReading, reject } from './types.js';

export function parseHeartRate(b: Uint8Array): ParseResult {
  if (b.length < 2) return reject('too_short');
  const flags = b[0]!;
  const wide = (flags & 0x01) !== 0;
  const contactSupported = (flags & 0x04) !== 0;
  const contact = (flags & 0x02) !== 0;
  const hasEnergy = (flags & 0x08) !== 0;
  const hasRr = (flags & 0x10) !== 0;
  let o = 1;
  const need = 1 + (wide ? 2 : 1) + (hasEnergy ? 2 : 0) + (hasRr ? 2 : 0);
  if (b.length < need) return reject('too_short');
  const rate = wide ? u16(b, o) : b[o]!;
  o += wide ? 2 : 1;
  const extra: Record<string, string | number> = { contact: contactSupported ? (contact ? 'detected' : 'not_detected') : 'unsupported' };
  if (hasEnergy) {
    extra.energyExpendedKj = u16(b, o);
    o += 2;
  }
  const out: ProfileReading[] = [];
  const hr: ProfileReading = { metric: 'heart_rate', unit: '/min', value: rate, extra };
  // A strap that says it can tell skin contact and has none is not measuring a person.
  if (contactSupported && !contact) hr.questionable = true;
  out.push(hr);
  if (hasRr) {
    const rest = b.length - o;
    if (rest % 2 !== 0) return reject('rr_odd_octets');
    for (; o < b.length; o += 2) out.push({ metric: 'rr_interval', unit: 's', value: u16(b, o) / 1024 });
  }
  return { ok: true, readings: out };
}
