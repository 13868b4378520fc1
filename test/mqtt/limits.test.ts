import { describe, expect, it } from 'vitest';
import { FrameGuard } from '../../src/devices/mqtt/frame-guard.js';
import { PublishTrimmer } from '../../src/devices/mqtt/publish-trimmer.js';
import { TokenBucket } from '../../src/devices/mqtt/rate-limit.js';

/** MQTT 3.1.1 remaining-length varint (§2.2.3). */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const packet = (header: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([header, ...varint(body.length)]), body]);
const str = (s: string): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)]);
/** PUBLISH QoS 1 on ward/1/ox/spo2 with message id 7. */
const publish = (payloadBytes: number): Buffer => packet(0x32, Buffer.concat([str('ward/1/ox/spo2'), Buffer.from([0, 7]), Buffer.alloc(payloadBytes)]));
const connect = packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 30]), str('c1')]));
const pingreq = Buffer.from([0xc0, 0x00]);

describe('frame guard', () => {
  it('passes a stream of packets under the limit, however it is split', () => {
    const stream = Buffer.concat([connect, publish(100), pingreq, publish(1000), publish(0)]);
    for (const chunk of [1, 2, 3, 7, 64, stream.length]) {
      const g = new FrameGuard(1100);
      for (let i = 0; i < stream.length; i += chunk) expect(g.feed(stream.subarray(i, i + chunk))).toBe('ok');
    }
  });

  it('stops an oversized packet at its header, before its body arrives', () => {
    const big = publish(70_000);
    const g = new FrameGuard(64 * 1024);
    expect(g.feed(Buffer.concat([publish(10), big.subarray(0, 5)]))).toBe('too_large');
    expect(g.feed(publish(1))).toBe('too_large'); // stays so
  });

  it('refuses a remaining length of more than four bytes', () => {
    const g = new FrameGuard(1 << 28);
    expect(g.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe('malformed');
  });

  it('accepts a packet exactly at the limit and refuses one byte more', () => {
    const at = publish(500);
    const limit = at.length - 3; // remaining length (1 type byte + 2 length bytes)
    expect(new FrameGuard(limit).feed(at)).toBe('ok');
    expect(new FrameGuard(limit - 1).feed(at)).toBe('too_large');
  });

  it('finds where the next PUBLISH starts, however the stream is split, without being fooled by body bytes', () => {
    const subscribe = packet(0x82, Buffer.concat([Buffer.from([0, 1]), str('wardgate/alarms/#'), Buffer.from([1])]));
    // A PUBLISH whose body is full of 0x30/0x32 (a PUBLISH type byte) and a PINGREQ-like pair.
    const tricky = packet(0x30, Buffer.concat([str('ward/1/ox/n'), Buffer.from('00220\xc0\x00', 'latin1')]));
    const head = Buffer.concat([connect, pingreq, subscribe]);
    const stream = Buffer.concat([head, tricky, pingreq, publish(10)]);
    for (const chunk of [1, 2, 5, 13, stream.length]) {
      const g = new FrameGuard(1100);
      // Fed up to the first PUBLISH (what the broker reads while paused), then past it.
      const starts: number[] = [];
      for (let i = 0; i < stream.length; ) {
        const c = stream.subarray(i, Math.min(stream.length, i + chunk));
        const at = g.firstPublish(c);
        if (at >= 0 && starts.at(-1) !== i + at) starts.push(i + at);
        // Up to the PUBLISH; at 0 its first byte is let through (as after a pause), and on.
        const fed = at > 0 ? at : at === 0 ? 1 : c.length;
        expect(g.feed(c.subarray(0, fed))).toBe('ok');
        i += fed;
      }
      expect(starts).toEqual([head.length, head.length + tricky.length + pingreq.length]);
    }
    // The rest of a PUBLISH begun in an earlier chunk is not a new one; firstPublish changes nothing.
    const g = new FrameGuard(1100);
    expect(g.feed(tricky.subarray(0, 4))).toBe('ok');
    expect(g.firstPublish(Buffer.concat([tricky.subarray(4), pingreq]))).toBe(-1);
    expect(g.firstPublish(Buffer.concat([tricky.subarray(4), tricky]))).toBe(tricky.length - 4);
    expect(g.feed(Buffer.concat([tricky.subarray(4), pingreq]))).toBe('ok');
    expect(g.firstPublish(subscribe)).toBe(-1);
  });
});

describe('publish trimmer (external brokers)', () => {
  /** A PUBLISH: flags (qos, retain), topic, packet id when QoS > 0, MQTT 5 properties when given, payload. */
  const pub = (qos: 0 | 1, topic: string, payload: Buffer, props?: Buffer): { whole: Buffer; trimmed: Buffer } => {
    const vh = Buffer.concat([str(topic), qos ? Buffer.from([0x12, 0x34]) : Buffer.alloc(0), props ?? Buffer.alloc(0)]);
    const first = 0x30 | (qos << 1) | 1;
    return { whole: packet(first, Buffer.concat([vh, payload])), trimmed: packet(first, vh) };
  };
  // MQTT 5 properties: length 7, then payload format indicator (1 byte) and a 5-byte content type.
  const props = Buffer.from([7, 0x01, 0x01, 0x03, 0x00, 0x02, 0x61, 0x62]);
  const suback = Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01]);

  it.each([4, 5] as const)('MQTT %s: a PUBLISH over the limit arrives without its payload, everything else unchanged, however the stream is split', (v) => {
    const p = v === 5 ? props : Buffer.alloc(0);
    const parts = [
      { bytes: suback, out: suback },
      pub(1, 'ward/1/ox/n', Buffer.from('97'), p),
      pub(1, 'ward/1/ox/n', Buffer.alloc(300, 0x7b), p),
      pub(0, 'ward/2/ox/n', Buffer.alloc(20_000, 0x30), p),
      pub(0, 'ward/3/ox/n', Buffer.from('1'), p),
      { bytes: pingreq, out: pingreq },
      pub(1, 'w', Buffer.alloc(257, 0x32), p), // the limit plus one (remaining length)
    ].map((x) => ('whole' in x ? { bytes: x.whole, out: x.whole.length - 2 > 256 ? x.trimmed : x.whole } : x));
    const stream = Buffer.concat(parts.map((x) => x.bytes));
    const want = Buffer.concat(parts.map((x) => x.out));
    const trimmedCount = parts.filter((x) => x.out !== x.bytes).length;
    expect(trimmedCount).toBe(3);
    for (const chunk of [1, 2, 3, 5, 64, 1000, stream.length]) {
      const sizes: number[] = [];
      const t = new PublishTrimmer(256, v === 5, (n) => sizes.push(n));
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += chunk) out.push(t.feed(stream.subarray(i, i + chunk))!);
      expect(Buffer.concat(out).equals(want), `chunks of ${chunk}`).toBe(true);
      expect(sizes).toHaveLength(trimmedCount);
    }
  });

  it('ends the connection for another packet over the limit, a variable header over it, or a malformed length', () => {
    expect(new PublishTrimmer(16, false, () => undefined).feed(packet(0x90, Buffer.alloc(40)))).toBeNull();
    expect(new PublishTrimmer(16, false, () => undefined).feed(pub(0, 'x'.repeat(40), Buffer.alloc(10)).whole)).toBeNull();
    const t = new PublishTrimmer(1 << 28, false, () => undefined);
    expect(t.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBeNull();
    expect(t.feed(pingreq)).toBeNull(); // stays so
  });
});

describe('token bucket', () => {
  it('allows the burst, then the sustained rate', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(100)).toBe(true); // 0.1 s at 10/s = 1 token
    expect(b.take(100)).toBe(false);
    expect(b.take(10_000)).toBe(true); // refilled, capped at the burst
    for (let i = 0; i < 4; i++) expect(b.take(10_000)).toBe(true);
    expect(b.take(10_000)).toBe(false);
  });

  it('token bucket: a clock that went back (a wall-clock step) refills from where it is now, not after catching up', () => {
    const b = new TokenBucket(10, 2, 3_600_000);
    expect(b.take(3_600_000)).toBe(true);
    expect(b.take(3_600_000)).toBe(true);
    expect(b.take(3_600_000)).toBe(false);
    // An hour back: the next tenth of a second still brings a token, as it would on any clock.
    expect(b.take(0)).toBe(false);
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
    expect(b.take(300)).toBe(true);
    expect(b.take(300)).toBe(true);
  });
});
