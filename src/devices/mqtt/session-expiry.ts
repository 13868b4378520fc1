/**
 * Ends the persistent sessions (clean session off) that stayed away longer than `afterMs`, like
 * Mosquitto's `persistent_client_expiration`. aedes keeps such a session, in memory, until the
 * same client id comes back with a clean session or the gateway restarts: its topic filters
 * (which take places of `limits.subscriptions`, subscription-limits.ts), the QoS 1 messages
 * queued for it (places of `limits.queuedBytes`, offline-queue.ts) and its QoS 2 messages awaiting
 * PUBREL (`limits.inflightBytes`, inflight-qos2.ts). A display or sensor that makes up a new client
 * id at every start, with a persistent session, left one more such session at each restart until
 * those bounds were full: a display that subscribed then was refused, for good.
 *
 * An expired session is cleaned the way aedes cleans one for a client that connects with a clean
 * session, through the same (wrapped) persistence methods, so each bound gives back its places.
 * A client that comes back after that gets CONNACK "session present" 0 and subscribes again.
 */
import { steadyNow } from '../../steady-clock.js';

interface Persistence {
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  cleanIncoming(client: { id: string }): Promise<void>;
  outgoingStream(client: { id: string }): AsyncIterable<unknown>;
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>;
}

/** Sessions away longer than afterMs are looked for every quarter of it, at most every minute. */
export const sweepInterval = (afterMs: number): number => Math.min(60_000, Math.max(100, Math.floor(afterMs / 4)));

export class SessionExpiry {
  /** Persistent sessions whose client is away, by client id: since when (steadyNow). */
  private readonly away = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly persistence: Persistence,
    private readonly limits: { afterMs: number; maxAway: number },
    /** Whether a client with this id is connected now. */
    private readonly connected: (id: string) => boolean,
    /** A session was ended: the queued messages it held, dropped. */
    private readonly onExpired: (dropped: number) => void,
    /** Ending one failed (aedes' persistence refused): it stays as it was. */
    private readonly onError: (e: unknown) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch(this.onError), sweepInterval(this.limits.afterMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A client connected: its session (if any) is in use again. */
  arrived(id: string): void {
    this.away.delete(id);
  }

  /**
   * A client's connection ended; a persistent session stays, from now on away. Past `maxAway`
   * sessions away (a client making up ids faster than they expire), the one away longest is
   * ended at once.
   */
  left(client: { id: string; clean: boolean }): void {
    if (client.clean || this.connected(client.id)) return;
    this.away.delete(client.id); // to the end of the order: the map is ordered by leaving
    this.away.set(client.id, steadyNow());
    if (this.away.size > this.limits.maxAway) {
      const [oldest] = this.away.keys();
      this.away.delete(oldest!);
      this.expire(oldest!).catch(this.onError);
    }
  }

  /** Ends every session away longer than afterMs. */
  async sweep(now = steadyNow()): Promise<void> {
    for (const [id, since] of this.away) {
      if (now - since < this.limits.afterMs) break; // ordered by leaving: the rest left later
      this.away.delete(id);
      await this.expire(id);
    }
  }

  private async expire(id: string): Promise<void> {
    if (this.connected(id)) return;
    const dropped = await this.end({ id });
    this.onExpired(dropped);
  }

  private async end(client: { id: string }): Promise<number> {
    await this.persistence.cleanSubscriptions(client);
    await this.persistence.cleanIncoming(client);
    // Queued messages have no packet id yet (aedes gives one as it delivers): each clear takes the
    // first of the queue that matches, so clearing each streamed packet empties the queue.
    let dropped = 0;
    for await (const packet of this.persistence.outgoingStream(client)) {
      if (this.connected(client.id)) break; // it came back meanwhile: aedes delivers the rest
      if (await this.persistence.outgoingClearMessageId(client, packet)) dropped++;
    }
    return dropped;
  }
}
