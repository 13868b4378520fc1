/**
 * A local TCP proxy between the gateway and a plaintext Kafka cluster, for scripted outages
 * (`wardgate simulate --outage 20s@30s`). The gateway bootstraps through the proxy; every
 * Metadata response (all versions, flexible or not) is rewritten so that each broker it names is
 * reached through a proxy listener of its own (127.0.0.1, a free port), so no connection goes
 * around the proxy after the bootstrap. `cut()` is the outage: every open connection is reset
 * and new ones are reset at once (as a broker that is down); `restore()` lets connections
 * through again. Other responses pass unchanged. Not for TLS listeners (the metadata cannot be
 * rewritten inside TLS): the caller refuses those.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface KafkaOutageProxy {
  /** Bootstrap servers for the gateway: one proxy listener per configured broker. */
  readonly bootstrap: string[];
  readonly cutNow: boolean;
  /** Connections accepted and refused since start. */
  readonly accepted: number;
  readonly refused: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

const METADATA = 3;

/** A reader of Kafka's primitive types. */
class Reader {
  constructor(
    readonly b: Buffer,
    public o = 0,
  ) {}
  i16(): number {
    const v = this.b.readInt16BE(this.o);
    this.o += 2;
    return v;
  }
  i32(): number {
    const v = this.b.readInt32BE(this.o);
    this.o += 4;
    return v;
  }
  uvarint(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      const byte = this.b[this.o++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
      shift += 7;
    }
  }
  skip(n: number): void {
    this.o += n;
  }
  /** STRING (int16 length) or COMPACT_STRING (uvarint length + 1); null for a null string. */
  str(compact: boolean): string | null {
    const n = compact ? this.uvarint() - 1 : this.i16();
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.o, this.o + n);
    this.o += n;
    return s;
  }
  taggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

function uvarint(v: number): Buffer {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

function str(s: string, compact: boolean): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (compact) return Buffer.concat([uvarint(b.length + 1), b]);
  const h = Buffer.alloc(2);
  h.writeInt16BE(b.length);
  return Buffer.concat([h, b]);
}

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

/** The brokers (host, port) a Metadata response names, in order. */
export function metadataBrokers(frame: Buffer, version: number): { host: string; port: number }[] {
  return parseMetadata(frame, version).brokers.map((b) => ({ host: b.host, port: b.port }));
}

function parseMetadata(frame: Buffer, version: number) {
  const flexible = version >= 9;
  const r = new Reader(frame, 8); // size, correlation id
  if (flexible) r.taggedFields(); // response header v1
  if (version >= 3) r.skip(4); // throttle time
  const brokersAt = r.o;
  const count = flexible ? r.uvarint() - 1 : r.i32();
  const brokers: { nodeId: number; host: string; port: number; rest: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = r.i32();
    const host = r.str(flexible) ?? '';
    const port = r.i32();
    const restAt = r.o;
    if (version >= 1) r.str(flexible); // rack
    if (flexible) r.taggedFields();
    brokers.push({ nodeId, host, port, rest: frame.subarray(restAt, r.o) });
  }
  return { flexible, brokersAt, brokersEnd: r.o, brokers };
}

/** The Metadata response frame with each broker's address replaced by `map(host, port)`. */
export function rewriteMetadata(frame: Buffer, version: number, map: (host: string, port: number) => { host: string; port: number }): Buffer {
  const m = parseMetadata(frame, version);
  const parts: Buffer[] = [frame.subarray(4, m.brokersAt), m.flexible ? uvarint(m.brokers.length + 1) : i32(m.brokers.length)];
  for (const b of m.brokers) {
    const to = map(b.host, b.port);
    parts.push(i32(b.nodeId), str(to.host, m.flexible), i32(to.port), b.rest);
  }
  parts.push(frame.subarray(m.brokersEnd));
  const body = Buffer.concat(parts);
  return Buffer.concat([i32(body.length), body]);
}

/** Splits a byte stream into Kafka frames (int32 size prefix). */
class Framer {
  private pending: Buffer = Buffer.alloc(0);
  push(d: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    const out: Buffer[] = [];
    while (this.pending.length >= 4) {
      const n = this.pending.readInt32BE(0) + 4;
      if (this.pending.length < n) break;
      out.push(this.pending.subarray(0, n));
      this.pending = this.pending.subarray(n);
    }
    return out;
  }
}

function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

export async function startKafkaOutageProxy(brokers: readonly string[]): Promise<KafkaOutageProxy> {
  const listeners = new Map<string, { server: Server; port: number }>();
  const sockets = new Set<Socket>();
  let cutNow = false;
  let accepted = 0;
  let refused = 0;

  const listen = async (target: { host: string; port: number }): Promise<number> => {
    const key = `${target.host}:${target.port}`;
    const have = listeners.get(key);
    if (have) return have.port;
    const server = createServer((client) => pipe(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    listeners.set(key, { server, port });
    return port;
  };

  const pipe = (client: Socket, target: { host: string; port: number }): void => {
    if (cutNow) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const up = connect(target);
    sockets.add(client).add(up);
    const versions = new Map<number, number>();
    const requests = new Framer();
    const responses = new Framer();
    // Responses are written in order; a Metadata response waits for its new listeners.
    let chain: Promise<void> = Promise.resolve();
    const end = (): void => {
      sockets.delete(client);
      sockets.delete(up);
      client.destroy();
      up.destroy();
    };
    client.on('data', (d: Buffer) => {
      for (const f of requests.push(d)) {
        if (f.length >= 12 && f.readInt16BE(4) === METADATA) versions.set(f.readInt32BE(8), f.readInt16BE(6));
        up.write(f);
      }
    });
    up.on('data', (d: Buffer) => {
      for (const f of responses.push(d)) {
        const version = f.length >= 8 ? versions.get(f.readInt32BE(4)) : undefined;
        if (version === undefined) {
          chain = chain.then(() => void (client.destroyed || client.write(f)));
          continue;
        }
        versions.delete(f.readInt32BE(4));
        chain = chain.then(async () => {
          const ports = new Map<string, number>();
          for (const b of metadataBrokers(f, version)) ports.set(`${b.host}:${b.port}`, await listen(b));
          if (!client.destroyed) client.write(rewriteMetadata(f, version, (host, port) => ({ host: '127.0.0.1', port: ports.get(`${host}:${port}`)! })));
        });
        chain = chain.catch(end);
      }
    });
    client.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  };

  for (const b of brokers) await listen(parseHostPort(b));
  const proxy: KafkaOutageProxy = {
    bootstrap: brokers.map((b) => {
      const t = parseHostPort(b);
      return `127.0.0.1:${listeners.get(`${t.host}:${t.port}`)!.port}`;
    }),
    get cutNow() {
      return cutNow;
    },
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    cut() {
      cutNow = true;
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    restore() {
      cutNow = false;
    },
    async close() {
      proxy.cut();
      await Promise.all([...listeners.values()].map((l) => new Promise((r) => l.server.close(r))));
      listeners.clear();
    },
  };
  return proxy;
}
