/**
 * Bounds the QoS 2 messages the embedded broker holds between a client's PUBLISH and its PUBREL.
 * aedes keeps each one in its persistence, in memory, until the PUBREL comes (at most 1,000 per
 * connection, its `maxInflightInbound`), and keeps them past the connection for a persistent
 * session: clients that never sent PUBREL grew the shipped gateway to 823 MiB resident with 12
 * anonymous connections of 60 KB messages (probed; systemd's MemoryMax is 512 MiB). A client
 * whose message would take the held bytes of all clients over `totalBytes` is refused: the
 * persistence does not store it, and aedes closes the connection without a PUBREC (the client
 * sends it again when it reconnects). A client that sends PUBREL after each PUBREC, as they do,
 * holds one or a few at a time.
 *
 * Each held message counts its topic and payload and OVERHEAD bytes for the objects aedes keeps
 * with it, so that many small ones are bounded too.
 */

const OVERHEAD = 512;

interface HeldPacket {
  topic: string;
  payload?: Uint8Array | string;
  messageId?: number;
}

interface Persistence {
  incomingStorePacket(client: { id: string }, packet: HeldPacket): Promise<void>;
  incomingDelPacket(client: { id: string }, packet: { messageId?: number }): Promise<void>;
  cleanIncoming(client: { id: string }): Promise<void>;
}

/** Raised to aedes for a message refused (it closes the connection). */
export class InflightFull extends Error {
  constructor() {
    super('QoS 2 messages awaiting PUBREL over limits.inflightBytes');
  }
}

/** Wraps `persistence` in place; `onRefuse()` is called for each message refused. */
export function boundInflightQos2(persistence: Persistence, totalBytes: number, onRefuse: () => void): void {
  /** Bytes held, by client id and message id. */
  const held = new Map<string, Map<number, number>>();
  let bytes = 0;
  const store = persistence.incomingStorePacket.bind(persistence);
  persistence.incomingStorePacket = (client, packet) => {
    const id = packet.messageId ?? 0;
    const size = OVERHEAD + packet.topic.length + (packet.payload?.length ?? 0);
    let mine = held.get(client.id);
    const before = mine?.get(id) ?? 0; // a DUP of a message held replaces it
    if (bytes - before + size > totalBytes) {
      onRefuse();
      return Promise.reject(new InflightFull());
    }
    bytes += size - before;
    if (!mine) {
      mine = new Map();
      held.set(client.id, mine);
    }
    mine.set(id, size);
    return store(client, packet);
  };
  const del = persistence.incomingDelPacket.bind(persistence);
  persistence.incomingDelPacket = async (client, packet) => {
    await del(client, packet);
    const mine = held.get(client.id);
    const size = mine?.get(packet.messageId ?? 0);
    if (mine === undefined || size === undefined) return;
    bytes -= size;
    mine.delete(packet.messageId ?? 0);
    if (mine.size === 0) held.delete(client.id);
  };
  const clean = persistence.cleanIncoming.bind(persistence);
  persistence.cleanIncoming = async (client) => {
    for (const size of held.get(client.id)?.values() ?? []) bytes -= size;
    held.delete(client.id);
    await clean(client);
  };
}
