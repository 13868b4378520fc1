/**
 * Bounds what the embedded broker keeps for subscribers with a persistent session (clean session
 * off). aedes queues every QoS 1 message for such a subscriber in its persistence, in memory,
 * until the subscriber acknowledges it: a display that subscribed to `ward/#` with a persistent
 * session and went away made the gateway hold everything published since (probed: 12,000
 * messages of 30 KB, 459 MiB resident). Like Mosquitto's `max_queued_messages`, a subscriber gets
 * at most `perClient` messages queued, and all of them together at most `totalBytes`; a message
 * over either bound is not queued for that subscriber (counted). It still reaches subscribers that
 * are there, and a reading in it is still committed: what is bounded is only what waits for them.
 *
 * The persistence's own methods are wrapped on the instance aedes uses (aedes calls them through
 * `broker.persistence`): enqueues are counted per client and in bytes, and a message leaves the
 * count when the persistence gives it back as acknowledged (outgoingClearMessageId).
 */

export interface OfflineQueueLimits {
  /** Messages queued for one subscriber at most. */
  perClient: number;
  /** Payload and topic bytes queued for all subscribers together at most. */
  totalBytes: number;
}

interface QueuedPacket {
  topic: string;
  payload?: Uint8Array | string;
}

interface Persistence {
  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: QueuedPacket): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<QueuedPacket | undefined>;
}

const sizeOf = (p: QueuedPacket): number => p.topic.length + (p.payload?.length ?? 0);

/** Wraps `persistence` in place; `onDrop(n)` is called with the subscriptions a message was not queued for. */
export function boundOfflineQueues(persistence: Persistence, limits: OfflineQueueLimits, onDrop: (n: number) => void): void {
  const perClient = new Map<string, number>();
  let bytes = 0;
  const admit = (subs: readonly { clientId: string }[], n: number): { clientId: string }[] => {
    const kept: { clientId: string }[] = [];
    for (const s of subs) {
      const c = perClient.get(s.clientId) ?? 0;
      if (c >= limits.perClient || bytes + n > limits.totalBytes) continue;
      perClient.set(s.clientId, c + 1);
      bytes += n;
      kept.push(s);
    }
    if (kept.length < subs.length) onDrop(subs.length - kept.length);
    return kept;
  };
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  persistence.outgoingEnqueueCombi = (subs, packet) => {
    const kept = admit(subs, sizeOf(packet));
    return kept.length ? enqueueCombi(kept, packet) : Promise.resolve();
  };
  const enqueue = persistence.outgoingEnqueue.bind(persistence);
  persistence.outgoingEnqueue = (sub, packet) => {
    // Refused, it is not queued; aedes then finds no packet to update, and drops the subscriber's delivery.
    return admit([sub], sizeOf(packet)).length ? enqueue(sub, packet) : Promise.resolve();
  };
  const clear = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    if (removed) {
      const c = perClient.get(client.id) ?? 0;
      if (c <= 1) perClient.delete(client.id);
      else perClient.set(client.id, c - 1);
      bytes = Math.max(0, bytes - sizeOf(removed));
    }
    return removed;
  };
}
