/**
 * Rewrites Kafka Metadata responses (api key 3, version 12, the version @platformatic/kafka
 * sends) for tests: the partitions of chosen topics get a leader id that the response's broker
 * list does not name, as a client sees in stale metadata while a leader moves or its broker is
 * gone. Pure function over one response frame (without its 4-byte size); the length is unchanged.
 */

class Cursor {
  constructor(
    readonly b: Buffer,
    public i: number,
  ) {}
  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const byte = this.b[this.i++];
      if (byte === undefined) throw new Error('metadata response truncated');
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
  }
  skip(n: number): void {
    this.i += n;
    if (this.i > this.b.length) throw new Error('metadata response truncated');
  }
  /** A COMPACT_(NULLABLE_)STRING; null when absent. */
  string(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    const s = this.b.toString('utf8', this.i, this.i + n - 1);
    this.skip(n - 1);
    return s;
  }
  /** A COMPACT_ARRAY's length (0 when null). */
  arrayLength(): number {
    const n = this.uvarint();
    return n === 0 ? 0 : n - 1;
  }
  taggedFields(): void {
    const n = this.uvarint();
    for (let k = 0; k < n; k++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

/**
 * Sets the leader of every partition of the topics `topics` accepts to `leaderId`, in place.
 * `frame` is a Metadata v12 response after its size: correlation id, header tagged fields, body.
 * Returns how many partitions it changed.
 */
export function setMetadataLeaders(frame: Buffer, topics: (name: string) => boolean, leaderId: number): number {
  const c = new Cursor(frame, 4);
  c.taggedFields(); // response header v1
  c.skip(4); // throttle_time_ms
  const brokers = c.arrayLength();
  for (let k = 0; k < brokers; k++) {
    c.skip(4); // node_id
    c.string(); // host
    c.skip(4); // port
    c.string(); // rack
    c.taggedFields();
  }
  c.string(); // cluster_id
  c.skip(4); // controller_id
  let changed = 0;
  const topicCount = c.arrayLength();
  for (let t = 0; t < topicCount; t++) {
    c.skip(2); // error_code
    const name = c.string();
    c.skip(16 + 1); // topic_id, is_internal
    const mine = name !== null && topics(name);
    const partitions = c.arrayLength();
    for (let p = 0; p < partitions; p++) {
      c.skip(2 + 4); // error_code, partition_index
      if (mine) {
        frame.writeInt32BE(leaderId, c.i);
        changed++;
      }
      c.skip(4 + 4); // leader_id, leader_epoch
      for (let a = 0; a < 3; a++) c.skip(4 * c.arrayLength()); // replica_nodes, isr_nodes, offline_replicas
      c.taggedFields();
    }
    c.skip(4); // topic_authorized_operations
    c.taggedFields();
  }
  c.taggedFields();
  if (c.i !== frame.length) throw new Error(`metadata response: ${frame.length - c.i} bytes left after parsing`);
  return changed;
}
