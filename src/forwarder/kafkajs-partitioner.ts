/**
 * kafkajs's DefaultPartitioner (the Java client's: murmur2 of the key, modulo the partition
 * count), with each key's partition remembered. kafkajs hashes every keyed message again: it
 * copies the key into a new Buffer, runs murmur2 over it and filters the partition list, about a
 * twentieth of the forwarder's main thread in a drain. A ward has tens of devices (the keys), so
 * the answer is nearly always known. The partition for a key is the one kafkajs's own
 * partitioner gives (it computes every first answer), so consumers keyed on device or patient see
 * the same partitioning as from any other producer of the topic.
 */
import { type ICustomPartitioner, Partitioners } from 'kafkajs';

/** Keys remembered per partition count; past that the memory starts again (a misconfigured key, say). */
export const MAX_REMEMBERED_KEYS = 10_000;

export const rememberingPartitioner: ICustomPartitioner = () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  /** Per partition count (a topic may grow), key -> partition. */
  const byCount = new Map<number, Map<string, number>>();
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    // Unkeyed (round-robin), bytes keys and explicit partitions: kafkajs decides, as ever.
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) return kafkajs(args);
    const count = partitionMetadata.length;
    let known = byCount.get(count);
    if (!known) {
      known = new Map();
      byCount.set(count, known);
    }
    let partition = known.get(key);
    if (partition === undefined) {
      partition = kafkajs(args);
      if (known.size >= MAX_REMEMBERED_KEYS) known.clear();
      known.set(key, partition);
    }
    return partition;
  };
};
