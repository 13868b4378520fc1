/**
 * Bounds the subscriptions the embedded broker holds. aedes keeps every topic filter a client
 * subscribes to in memory (in its topic tree, on the client, and, for a persistent session, in
 * its persistence until the session is cleaned), with no bound of its own: one anonymous client
 * subscribing to 1,000 new filters a packet ran the shipped gateway out of its 64 MiB heap in 3 s
 * (about 50,000 filters), and 2,000 client ids with a persistent session and 20 filters each did
 * the same in 6 s (probed, issue 10's limits). Like EMQX's `max_subscriptions`, a filter is refused
 * (SUBACK 0x80, the client stays connected) when it is longer than `maxFilterLength`, when its
 * client already holds `perClient` filters, or when the broker holds `total` (the filters of
 * connected clean sessions plus those stored for persistent sessions, there or away).
 *
 * aedes stores a persistent session's filters by handing its persistence the whole SUBSCRIBE
 * packet, refused filters included; the wrapped `addSubscriptions` stores only granted ones.
 */

/** What aedes' client carries that this needs. */
export interface SubscribingClient {
  id: string;
  clean: boolean;
}

export interface SubscriptionLimitsConfig {
  perClient: number;
  total: number;
  maxFilterLength: number;
}

export type SubscriptionRefusal = 'subscription_limit' | 'subscription_total' | 'filter_too_long';

interface Persistence {
  addSubscriptions(client: { id: string }, subs: { topic: string }[]): Promise<void>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
}

export class SubscriptionLimits {
  /** Filters granted on each connection (restored ones included). */
  private readonly live = new WeakMap<SubscribingClient, Set<string>>();
  /** Filters of connected clean sessions, all together. */
  private liveClean = 0;
  /** Filters stored for persistent sessions, by client id (a mirror of the persistence). */
  private readonly stored = new Map<string, Set<string>>();
  private storedCount = 0;
  /** Subscription objects that were granted (aedes hands its persistence the refused ones too). */
  private readonly granted = new WeakSet<object>();

  constructor(private readonly limits: SubscriptionLimitsConfig) {}

  /** Filters the broker holds now. */
  held(): number {
    return this.liveClean + this.storedCount;
  }

  /** Called for each filter the ACL allowed: undefined when it may be held, else why not. */
  admit(client: SubscribingClient, sub: { topic: string }): SubscriptionRefusal | undefined {
    let mine = this.live.get(client);
    if (mine?.has(sub.topic)) {
      this.granted.add(sub);
      return undefined;
    }
    if (sub.topic.length > this.limits.maxFilterLength) return 'filter_too_long';
    if ((mine?.size ?? 0) >= this.limits.perClient) return 'subscription_limit';
    const isNew = client.clean || !this.stored.get(client.id)?.has(sub.topic);
    if (isNew && this.held() >= this.limits.total) return 'subscription_total';
    if (!mine) {
      mine = new Set();
      this.live.set(client, mine);
    }
    mine.add(sub.topic);
    if (client.clean) this.liveClean++;
    this.granted.add(sub);
    return undefined;
  }

  /** The client unsubscribed from these filters (or aedes did as it closed a clean session). */
  unsubscribed(client: SubscribingClient, topics: readonly string[]): void {
    const mine = this.live.get(client);
    if (!mine) return;
    for (const t of topics) if (mine.delete(t) && client.clean) this.liveClean--;
  }

  /** The client's connection ended: its clean session's filters are gone. */
  disconnected(client: SubscribingClient): void {
    const mine = this.live.get(client);
    if (!mine) return;
    if (client.clean) this.liveClean -= mine.size;
    this.live.delete(client);
  }

  /** Wraps aedes' persistence in place: it stores granted filters only, and they are counted. */
  wrap(persistence: Persistence): void {
    const add = persistence.addSubscriptions.bind(persistence);
    persistence.addSubscriptions = (client, subs) => {
      const kept = subs.filter((s) => this.granted.has(s));
      if (!kept.length) return Promise.resolve();
      let set = this.stored.get(client.id);
      if (!set) {
        set = new Set();
        this.stored.set(client.id, set);
      }
      for (const s of kept) {
        if (set.has(s.topic)) continue;
        set.add(s.topic);
        this.storedCount++;
      }
      return add(client, kept);
    };
    const remove = persistence.removeSubscriptions.bind(persistence);
    persistence.removeSubscriptions = (client, topics) => {
      const set = this.stored.get(client.id);
      if (set) for (const t of topics) if (set.delete(t)) this.storedCount--;
      if (set?.size === 0) this.stored.delete(client.id);
      return remove(client, topics);
    };
    const clean = persistence.cleanSubscriptions.bind(persistence);
    persistence.cleanSubscriptions = (client) => {
      const set = this.stored.get(client.id);
      if (set) {
        this.storedCount -= set.size;
        this.stored.delete(client.id);
      }
      return clean(client);
    };
  }
}
