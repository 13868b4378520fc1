/**
 * A loopback TCP proxy for black-hole tests: clients connect to the proxy, which connects to
 * the target and copies bytes both ways. `pause()` makes it a black hole: connections stay
 * open (no FIN, no RST) but no byte gets through in either direction, and new connections
 * are accepted but never reach the target. `resume()` lets traffic flow again: bytes held
 * during the pause are delivered on connections that are still open (as TCP would after a
 * network partition heals); held bytes of connections whose client went away are discarded.
 * `close()` tears everything down.
 *
 * Point a Kafka broker's advertised listener at the proxy's port (KAFKA_ADVERTISED_PORT in
 * scripts/kafka-local.sh), so that clients reach the broker only through the proxy also after
 * the metadata exchange.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** Bytes waiting to go client -> upstream and upstream -> client while paused. */
  toUpstream: Buffer[];
  /** Per chunk of toUpstream: whether it arrived while paused. */
  toUpstreamHeld: boolean[];
  toClient: Buffer[];
  closed: boolean;
  /** Kafka request framing of the client -> upstream stream (4-byte size, api key, api version, correlation id). */
  hdr: Buffer;
  skip: number;
  /** Correlation ids of the Produce requests sent upstream whose response has not come back yet. */
  produceCorr: Set<number>;
  /** Kafka response framing of the upstream -> client stream (4-byte size, correlation id). */
  rhdr: Buffer;
  rskip: number;
  /** Replies held by delayReplies(), in order, each with the time it may go. */
  late: { at: number; d: Buffer }[];
  lateTimer: NodeJS.Timeout | null;
  /** With `reframe`: the start of an incomplete response frame, and each request's api key and version by correlation id. */
  rbuf: Buffer;
  reqs: Map<number, { apiKey: number; apiVersion: number }>;
}

export interface TcpProxy {
  readonly port: number;
  readonly paused: boolean;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Connections open right now. */
  readonly open: number;
  /** Bytes dropped or held (not forwarded) while paused. */
  readonly heldBytes: number;
  /**
   * Kafka Produce requests (api key 0) that began in bytes held during a pause and were delivered
   * to the broker at a resume (a connection closed meanwhile delivers nothing): batches that
   * reach the log although their sender gave them up.
   */
  readonly heldProduceDelivered: number;
  pause(): void;
  resume(): void;
  /**
   * Hands every byte from the target to the client this many ms late, in order (0: at once).
   * produceOnly: only the responses to Produce requests are late (and what follows them on the
   * same connection, to keep the order); handshakes and metadata go at once.
   */
  delayReplies(ms: number, opts?: { produceOnly?: boolean }): void;
  /**
   * Calls `fn` each time the broker's response to a Produce request reaches the proxy: the broker
   * has written (and, with acks=all, acknowledged) that batch. With delayReplies() the client has
   * not seen the response yet, so a kill at this moment lands with the batch in Kafka and
   * unacknowledged to its sender. null removes the hook.
   */
  onProduceResponse(fn: (() => void) | null): void;
  /** Responses to Produce requests that came back from the broker since start. */
  readonly produceResponses: number;
  /** Requests of this Kafka api key (0 Produce, 3 Metadata, ...) that went to the broker since start. */
  requests(apiKey: number): number;
  /**
   * Needs `reframe: true` at start. Hands each whole response frame from the broker (after its
   * 4-byte size: correlation id, header, body) to `fn` with the api key and version of its
   * request, before it goes on to the client; `fn` may change its bytes in place. null removes it.
   */
  rewriteResponses(fn: ((apiKey: number, apiVersion: number, frame: Buffer) => void) | null): void;
  close(): Promise<void>;
}

export async function startTcpProxy(opts: {
  targetHost?: string;
  targetPort: number;
  listenPort?: number;
  /** Pass responses on in whole frames, so rewriteResponses() can see them (bytes are held until a frame is complete). */
  reframe?: boolean;
}): Promise<TcpProxy> {
  const host = opts.targetHost ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let paused = false;
  let accepted = 0;
  let held = 0;
  let heldProduceDelivered = 0;
  const byApiKey = new Map<number, number>();
  /** Follows the Kafka request framing of what goes upstream; counts Produce requests begun in held bytes. */
  const track = (p: Pair, d: Buffer, wasHeld: boolean): void => {
    let i = 0;
    while (i < d.length) {
      if (p.skip > 0) {
        const n = Math.min(p.skip, d.length - i);
        p.skip -= n;
        i += n;
        continue;
      }
      // Every request header has at least api key, api version and correlation id (8 bytes after the size).
      const take = Math.min(12 - p.hdr.length, d.length - i);
      p.hdr = Buffer.concat([p.hdr, d.subarray(i, i + take)]);
      i += take;
      if (p.hdr.length < 12) break;
      const apiKey = p.hdr.readInt16BE(4);
      byApiKey.set(apiKey, (byApiKey.get(apiKey) ?? 0) + 1);
      if (opts.reframe) p.reqs.set(p.hdr.readInt32BE(8), { apiKey, apiVersion: p.hdr.readInt16BE(6) });
      if (apiKey === 0) {
        if (wasHeld) heldProduceDelivered++;
        p.produceCorr.add(p.hdr.readInt32BE(8));
      }
      p.skip = p.hdr.readInt32BE(0) - 8;
      p.hdr = Buffer.alloc(0);
    }
  };
  let produceResponses = 0;
  let onProduceResponse: (() => void) | null = null;
  let rewrite: ((apiKey: number, apiVersion: number, frame: Buffer) => void) | null = null;
  /** With `reframe`: the whole response frames `d` completes (rewritten), or null while a frame is incomplete. */
  const reframe = (p: Pair, d: Buffer): Buffer | null => {
    p.rbuf = p.rbuf.length ? Buffer.concat([p.rbuf, d]) : Buffer.from(d);
    let end = 0;
    while (p.rbuf.length - end >= 4) {
      const size = p.rbuf.readInt32BE(end);
      if (p.rbuf.length - end - 4 < size) break;
      const frame = p.rbuf.subarray(end + 4, end + 4 + size);
      const corr = frame.readInt32BE(0);
      const req = p.reqs.get(corr);
      p.reqs.delete(corr);
      if (req && rewrite) rewrite(req.apiKey, req.apiVersion, frame);
      end += 4 + size;
    }
    if (end === 0) return null;
    const whole = p.rbuf.subarray(0, end);
    p.rbuf = p.rbuf.subarray(end);
    return whole;
  };
  /** Follows the Kafka response framing of what comes from upstream; reports responses to Produce requests. */
  const trackReplies = (p: Pair, d: Buffer): boolean => {
    let produce = false;
    let i = 0;
    while (i < d.length) {
      if (p.rskip > 0) {
        const n = Math.min(p.rskip, d.length - i);
        p.rskip -= n;
        i += n;
        continue;
      }
      const take = Math.min(8 - p.rhdr.length, d.length - i);
      p.rhdr = Buffer.concat([p.rhdr, d.subarray(i, i + take)]);
      i += take;
      if (p.rhdr.length < 8) break;
      const corr = p.rhdr.readInt32BE(4);
      p.rskip = p.rhdr.readInt32BE(0) - 4;
      p.rhdr = Buffer.alloc(0);
      if (p.produceCorr.delete(corr)) {
        produce = true;
        produceResponses++;
        onProduceResponse?.();
      }
    }
    return produce;
  };
  const toUpstream = (p: Pair, up: Socket, d: Buffer, wasHeld: boolean): void => {
    track(p, d, wasHeld);
    up.write(d);
  };
  let replyDelayMs = 0;
  let produceOnly = false;
  const releaseLate = (p: Pair): void => {
    p.lateTimer = null;
    const now = Date.now();
    while (p.late.length > 0 && p.late[0]!.at <= now) {
      const { d } = p.late.shift()!;
      if (!p.client.destroyed) p.client.write(d);
    }
    if (p.late.length > 0) p.lateTimer = setTimeout(() => releaseLate(p), p.late[0]!.at - now);
  };
  const toClient = (p: Pair, d: Buffer, produce: boolean): void => {
    const lateBehind = p.late.length > 0;
    if (!lateBehind && (replyDelayMs <= 0 || (produceOnly && !produce))) {
      p.client.write(d);
      return;
    }
    // Behind held bytes a chunk waits its turn (the byte order holds); a Produce response (or any
    // reply, without produceOnly) waits the delay.
    const last = p.late.length > 0 ? p.late[p.late.length - 1]!.at : 0;
    const at = Math.max(last, produce || !produceOnly ? Date.now() + replyDelayMs : 0);
    p.late.push({ at, d });
    if (!p.lateTimer) p.lateTimer = setTimeout(() => releaseLate(p), Math.max(0, p.late[0]!.at - Date.now()));
  };

  const connectUpstream = (p: Pair): void => {
    if (p.closed || p.upstream) return;
    const up = connect({ host, port: opts.targetPort });
    p.upstream = up;
    up.setNoDelay(true);
    up.on('data', (chunk: Buffer) => {
      const d = opts.reframe ? reframe(p, chunk) : chunk;
      if (!d) return;
      const produce = trackReplies(p, d);
      if (paused) {
        p.toClient.push(d);
        held += d.length;
      } else if (!p.client.destroyed) toClient(p, d, produce);
    });
    up.on('error', () => destroy(p));
    up.on('close', () => destroy(p));
    up.on('connect', () => flush(p));
  };

  const flush = (p: Pair): void => {
    if (paused || p.closed) return;
    const up = p.upstream;
    if (!up || up.connecting) return;
    const heldFlags = p.toUpstreamHeld.splice(0);
    for (const [k, b] of p.toUpstream.splice(0).entries()) toUpstream(p, up, b, heldFlags[k] ?? false);
    for (const b of p.toClient.splice(0)) p.client.write(b);
  };

  const destroy = (p: Pair): void => {
    if (p.closed) return;
    p.closed = true;
    pairs.delete(p);
    p.toUpstream.length = 0;
    p.toUpstreamHeld.length = 0;
    p.toClient.length = 0;
    p.late.length = 0;
    if (p.lateTimer) clearTimeout(p.lateTimer);
    p.client.destroy();
    p.upstream?.destroy();
  };

  const server: Server = createServer((client) => {
    accepted++;
    client.setNoDelay(true);
    const p: Pair = {
      client,
      upstream: null,
      toUpstream: [],
      toUpstreamHeld: [],
      toClient: [],
      closed: false,
      hdr: Buffer.alloc(0),
      skip: 0,
      produceCorr: new Set(),
      rhdr: Buffer.alloc(0),
      rskip: 0,
      late: [],
      lateTimer: null,
      rbuf: Buffer.alloc(0),
      reqs: new Map(),
    };
    pairs.add(p);
    client.on('data', (d: Buffer) => {
      if (paused || !p.upstream || p.upstream.connecting) {
        p.toUpstream.push(d);
        p.toUpstreamHeld.push(paused);
        if (paused) held += d.length;
      } else toUpstream(p, p.upstream, d, false);
    });
    client.on('error', () => destroy(p));
    client.on('close', () => destroy(p));
    // While paused, a new connection is accepted (the kernel would complete the handshake
    // anyway) but goes nowhere until resume.
    if (!paused) connectUpstream(p);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    port,
    get paused() {
      return paused;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    get heldBytes() {
      return held;
    },
    get heldProduceDelivered() {
      return heldProduceDelivered;
    },
    pause() {
      paused = true;
    },
    delayReplies(ms: number, o?: { produceOnly?: boolean }) {
      replyDelayMs = ms;
      produceOnly = o?.produceOnly === true;
    },
    onProduceResponse(fn) {
      onProduceResponse = fn;
    },
    get produceResponses() {
      return produceResponses;
    },
    requests(apiKey: number) {
      return byApiKey.get(apiKey) ?? 0;
    },
    rewriteResponses(fn) {
      if (!opts.reframe) throw new Error('rewriteResponses needs startTcpProxy({ reframe: true })');
      rewrite = fn;
    },
    resume() {
      paused = false;
      for (const p of [...pairs]) {
        if (!p.upstream) connectUpstream(p);
        else flush(p);
      }
    },
    async close() {
      for (const p of [...pairs]) destroy(p);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
