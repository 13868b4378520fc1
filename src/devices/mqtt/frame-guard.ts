/**
 * Watches the bytes a client sends and stops an oversized MQTT packet at its fixed header,
 * before the broker's parser buffers its body. Only reads the header (type byte and
 * remaining-length varint, MQTT 3.1.1 §2.2) and skips bodies by counting.
 */

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
          return this.verdict;
        }
        continue;
      }
      if (this.length > this.maxRemainingLength) {
        this.verdict = 'too_large';
        return this.verdict;
      }
      this.remaining = this.length;
      this.state = this.length === 0 ? 'type' : 'body';
    }
    return 'ok';
  }
}
