/**
 * Watches the bytes a client sends and stops an oversized MQTT packet at its fixed header,
 * before the broker's parser buffers its body. Only reads the header (type byte and
 * remaining-length varint, MQTT 3.1.1 §2.2) and skips bodies by counting.
 *
 * It also finds where the next PUBLISH starts in a chunk (`firstPublish`), so the embedded
 * broker can stop a connection's bytes there while the commit queue is over its bound and
 * still read everything before it (CONNECT, SUBSCRIBE, PINGREQ, acknowledgements).
 */

/** MQTT control packet type of PUBLISH (the high nibble of the first byte). */
const PUBLISH = 3;

export type GuardVerdict = 'ok' | 'too_large' | 'malformed';

export class FrameGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  private verdict: GuardVerdict = 'ok';

  /** @param maxRemainingLength largest remaining length (variable header + payload) accepted */
  constructor(private readonly maxRemainingLength: number) {}

  /** Feeds the next chunk; once not 'ok', stays so. */
  feed(chunk: Uint8Array): GuardVerdict {
    if (this.verdict !== 'ok') return this.verdict;
    this.scan(chunk, false);
    return this.verdict;
  }

  /**
   * Offset in `chunk` (the bytes that follow those fed so far) at which a new PUBLISH packet
   * starts, or -1 when none does (the rest of a PUBLISH begun in an earlier chunk is not a new
   * one). Changes nothing: the bytes are fed afterwards with `feed`.
   */
  firstPublish(chunk: Uint8Array): number {
    if (this.verdict !== 'ok') return -1;
    const probe = Object.assign(Object.create(FrameGuard.prototype) as FrameGuard, this);
    return probe.scan(chunk, true);
  }

  /** Advances over `chunk`; with `stopAtPublish`, returns the offset of the first PUBLISH type byte (else -1). */
  private scan(chunk: Uint8Array, stopAtPublish: boolean): number {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === 'body') {
        const skip = Math.min(this.remaining, n - i);
        this.remaining -= skip;
        i += skip;
        if (this.remaining === 0) this.state = 'type';
        continue;
      }
      if (this.state === 'type') {
        if (stopAtPublish && chunk[i]! >> 4 === PUBLISH) return i;
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      const b = chunk[i++]!;
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (b & 0x80) {
        if (this.lengthBytes >= 4) {
          this.verdict = 'malformed';
          return -1;
        }
        continue;
      }
      if (this.length > this.maxRemainingLength) {
        this.verdict = 'too_large';
        return -1;
      }
      this.remaining = this.length;
      this.state = this.length === 0 ? 'type' : 'body';
    }
    return -1;
  }
}
