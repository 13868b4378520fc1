/**
 * The bytes an external broker sends, before mqtt.js parses them: no PUBLISH bigger than the
 * limit reaches the parser. mqtt.js has no size limit of its own: it collects a packet whole
 * (up to 256 MiB), then copies its payload, so one big message on a subscribed topic took the
 * shipped gateway past its unit's MemoryMax (609 MiB resident for 255 MB), and the broker
 * delivered it again after each restart: a crash loop.
 *
 * An oversized PUBLISH keeps its fixed-header flags, topic, packet id and (MQTT 5) properties;
 * its payload is skipped by counting, never held. mqtt.js sees a PUBLISH with an empty
 * payload, which is rejected like any message that does not decode and acknowledged, so the
 * broker does not deliver it again; each is counted (external.ts). Any other packet over the
 * limit, or a malformed remaining length, ends the connection. (The MQTT 5 maximum packet size
 * is not sent: a broker keeping to it would discard such messages without the gateway ever
 * counting them.)
 */

/** MQTT control packet type of PUBLISH (the high nibble of the first byte). */
const PUBLISH = 3;

type State = 'header' | 'pass' | 'variable' | 'skip';

export class PublishTrimmer {
  private state: State = 'header';
  /** Bytes of a fixed header that began in an earlier chunk. */
  private carry: Buffer | null = null;
  /** Bytes left of the current packet (pass, skip) or of the oversized PUBLISH (variable). */
  private remaining = 0;
  private first = 0;
  /** The oversized PUBLISH's variable header, collected. */
  private vh: number[] = [];
  private need = 0;
  private stage: 'topicLength' | 'topic' | 'propsLength' | 'props' = 'topicLength';
  private propsLength = 0;
  private propsMultiplier = 1;
  private failed = false;

  /**
   * @param max largest remaining length (variable header + payload) passed on whole
   * @param v5 the connection speaks MQTT 5 (a PUBLISH has properties after its packet id)
   * @param onTrimmed called with the remaining length of each PUBLISH whose payload was dropped
   */
  constructor(
    private readonly max: number,
    private readonly v5: boolean,
    private readonly onTrimmed: (bytes: number) => void,
  ) {}

  /** The bytes to hand on for `input`, or null when the stream must be closed (a packet other than PUBLISH over the limit, or malformed). */
  feed(input: Buffer): Buffer | null {
    if (this.failed) return null;
    const chunk = this.carry ? Buffer.concat([this.carry, input]) : input;
    this.carry = null;
    const out: Buffer[] = [];
    const n = chunk.length;
    /** Start of the bytes of this chunk passed on unchanged and not yet added to `out`. */
    let from = 0;
    let i = 0;
    while (i < n) {
      if (this.state === 'pass') {
        const k = Math.min(this.remaining, n - i);
        i += k;
        this.remaining -= k;
        if (this.remaining === 0) this.state = 'header';
        continue;
      }
      if (this.state === 'skip') {
        const k = Math.min(this.remaining, n - i);
        i += k;
        this.remaining -= k;
        from = i;
        if (this.remaining === 0) this.state = 'header';
        continue;
      }
      if (this.state === 'variable') {
        i = this.collect(chunk, i, out);
        from = i;
        if (this.failed) return null;
        continue;
      }
      // A fixed header: type byte and remaining length (1-4 bytes).
      const start = i;
      let length = 0;
      let multiplier = 1;
      let j = i + 1;
      let complete = false;
      while (j < n && j - start <= 4) {
        const b = chunk[j++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (j - start > 4) return this.fail();
        // Cut off by the chunk's end: kept for the next one, not passed on yet.
        out.push(chunk.subarray(from, start));
        this.carry = Buffer.from(chunk.subarray(start));
        return Buffer.concat(out);
      }
      if (length <= this.max) {
        i = j;
        this.remaining = length;
        this.state = length > 0 ? 'pass' : 'header';
        continue;
      }
      if (chunk[start]! >> 4 !== PUBLISH) return this.fail();
      out.push(chunk.subarray(from, start));
      this.first = chunk[start]!;
      this.remaining = length;
      this.vh = [];
      this.stage = 'topicLength';
      this.need = 2;
      this.state = 'variable';
      this.onTrimmed(length);
      i = j;
      from = i;
    }
    if (this.state !== 'skip' && this.state !== 'variable') out.push(chunk.subarray(from, n));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Collects the oversized PUBLISH's variable header from chunk[i..]; once whole, adds the rewritten packet to `out`. Returns the next index. */
  private collect(chunk: Buffer, i: number, out: Buffer[]): number {
    const n = chunk.length;
    while (i < n && this.state === 'variable') {
      if (this.remaining === 0 || this.vh.length >= this.max) {
        this.fail();
        return n;
      }
      const b = chunk[i++]!;
      this.vh.push(b);
      this.remaining--;
      if (this.stage === 'propsLength') {
        this.propsLength += (b & 0x7f) * this.propsMultiplier;
        this.propsMultiplier *= 128;
        if (b & 0x80) continue;
        this.stage = 'props';
        this.need = this.propsLength;
      } else if (--this.need > 0) continue;
      if (this.stage === 'topicLength') {
        this.stage = 'topic';
        // Topic, then the packet id when QoS > 0.
        this.need = ((this.vh[0]! << 8) | this.vh[1]!) + ((this.first >> 1) & 3 ? 2 : 0);
        if (this.need > 0) continue;
      }
      if (this.stage === 'topic' && this.v5) {
        this.stage = 'propsLength';
        this.propsLength = 0;
        this.propsMultiplier = 1;
        continue;
      }
      if (this.stage === 'props' && this.need > 0) continue;
      // The variable header is whole: the PUBLISH without its payload, then skip the payload.
      out.push(Buffer.from([this.first, ...remainingLength(this.vh.length), ...this.vh]));
      this.state = this.remaining > 0 ? 'skip' : 'header';
    }
    return i;
  }

  private fail(): null {
    this.failed = true;
    return null;
  }
}

/** MQTT remaining-length varint. */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return out;
}
