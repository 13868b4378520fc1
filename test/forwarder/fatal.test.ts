/**
 * The forwarder's `fatal` error path: a send refused with an error that breaks the producer's
 * session (fenced producer, out-of-order sequence) is not retried on the same session: the
 * forwarder checks the topics and connects its producers again before the next send, keeps the
 * batch's readings in the buffer (nothing deleted unacknowledged), and every reading the test
 * appended reaches Kafka exactly once (the refused batch never landed).
 * The client is the scripted FakeClient (the component under test is the forwarder); the
 * expected seqs are the ones the test appended.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { err, type Rig, readings, rig, seqOf, TOPICS, until } from './helpers.js';

let r: Rig | null = null;
afterEach(async () => {
  await r?.cleanup();
  r = null;
});

describe('forwarder: fatal send errors', () => {
  it('a fatal error reconnects the producers before the next send; the batch stays buffered and every reading arrives once', async () => {
    r = await rig({}, { start: false });
    const N = 150;
    await r.buffer.append(readings(N, 'vital'));
    const appended = Array.from({ length: N }, (_, i) => i + 1);
    let fatals = 0;
    let connectsAtSecondSend = -1;
    r.client.policy = (call, i) => {
      if (i === 0) {
        fatals++;
        call.reject(err('fatal', 'The producer has been fenced by a newer instance'));
        return;
      }
      if (i === 1) connectsAtSecondSend = r!.client.connects;
      call.resolve();
    };
    r.forwarder.start();
    await until(() => r!.client.calls.length >= 1 && r!.client.connects >= 1, 5000, 'the first send');
    const connectsAtFatal = r.client.connects;
    const ensuresAtFatal = r.client.ensures;
    await until(() => r!.client.messages(TOPICS.vital).length >= N, 10_000, 'every reading in Kafka');
    expect(fatals).toBe(1);
    // A new session: the producers were connected (and the topics checked) again after the fatal error.
    expect(r.client.connects).toBe(connectsAtFatal + 1);
    expect(r.client.ensures).toBe(ensuresAtFatal + 1);
    // The second send happened only after that reconnect.
    expect(connectsAtSecondSend).toBe(connectsAtFatal + 1);
    const seqs = r.client.messages(TOPICS.vital).map(seqOf);
    expect([...seqs].sort((a, b) => a - b)).toEqual(appended);
    expect(new Set(seqs).size).toBe(seqs.length);
    await until(() => r!.buffer.stats().totalReadings === 0, 5000, 'the buffer to empty after the acks');
    expect(await r.events.count('kafka_send_failed', { kind: 'fatal' })).toBe(fatals);
  });
});
