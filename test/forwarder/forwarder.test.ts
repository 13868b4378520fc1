/**
 * The forwarder against a scripted Kafka client and a real encrypted buffer: delivery only
 * after acknowledgement, order across failures, lanes, backoff, configuration errors,
 * bounded leases, linger, rate cap, stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OutMessage } from '../../src/forwarder/client.js';
import { deviceOf, err, type Rig, readings, rig, type SendCall, seqOf, sleep, TOPICS, until } from './helpers.js';

let r: Rig | null = null;
afterEach(async () => {
  await r?.cleanup();
  r = null;
});

/** Per device, the seqs in log order must increase (first occurrences; duplicates allowed only when `allowDups`). */
function expectPerDeviceOrder(msgs: OutMessage[], allowDups = false): void {
  const last = new Map<string, number>();
  const seen = new Set<number>();
  for (const m of msgs) {
    const s = seqOf(m);
    if (seen.has(s)) {
      expect(allowDups, `seq ${s} delivered twice`).toBe(true);
      continue;
    }
    seen.add(s);
    const d = deviceOf(m);
    expect(s, `device ${d}: seq ${s} after ${last.get(d)}`).toBeGreaterThan(last.get(d) ?? 0);
    last.set(d, s);
  }
}

describe('forwarder: delivery', () => {
  it('acks out of the buffer only after Kafka acknowledged, in order, once', async () => {
    r = await rig({}, {});
    r.client.policy = 'hold';
    await r.buffer.append(readings(250));
    await until(() => r!.client.pending().length === 1, 2000, 'first send');
    // Held: nothing has left the buffer, and the batch is in flight.
    expect(r.buffer.stats().totalReadings).toBe(250);
    expect(r.forwarder.status().inFlight).toBe(50);
    expect(r.buffer.stats().inFlight).toBeGreaterThanOrEqual(50);
    await sleep(50);
    // One send at a time on a lane, the next batch only prepared.
    expect(r.client.pending().length).toBe(1);
    r.client.policy = 'ack';
    r.client.pending()[0]!.resolve();
    await until(() => r!.buffer.stats().totalReadings === 0, 3000, 'drain');
    const msgs = r.client.messages(TOPICS.vital);
    expect(msgs.map(seqOf)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(r.forwarder.status().forwarded).toBe(250);
    expect(await r.events.forwarded.get().then((m) => m.values.reduce((a, v) => a + v.value, 0))).toBe(250);
    for (const m of msgs) {
      expect(m.headers['wardgate-gateway-id']).toBe('gw-unit');
      expect(JSON.parse(String(m.value)).seq).toBe(seqOf(m));
    }
  });

  it('a failed batch and the prepared one behind it go out again in the same order (lost acks give duplicates, counted)', async () => {
    r = await rig({ retryInitialMs: 10, retryMaxMs: 40 });
    let failures = 0;
    r.client.policy = (call, i) => {
      // Every third send fails; every other failure after the messages landed (lost acknowledgement).
      if (i % 3 === 1) {
        failures++;
        if (failures % 2 === 0) r!.client.land(call);
        setTimeout(() => call.reject(err(failures % 2 === 0 ? 'timeout' : 'transient')), 5);
      } else setTimeout(() => call.resolve(), 2);
    };
    await r.buffer.append(readings(1000, 'vital', 0, 7));
    await until(() => r!.buffer.stats().totalReadings === 0, 10_000, 'drain');
    const msgs = r.client.messages(TOPICS.vital);
    const seqs = new Set(msgs.map(seqOf));
    expect(seqs.size).toBe(1000);
    expectPerDeviceOrder(msgs, true);
    const dups = msgs.length - seqs.size;
    expect(failures).toBeGreaterThan(3);
    expect(dups).toBeGreaterThan(0);
    // Duplicates only from batches whose fate was unknown.
    expect(dups).toBeLessThanOrEqual(r.forwarder.status().unknownFate!);
    expect(await r.events.count('kafka_send_failed')).toBe(failures);
  });
});

describe('forwarder: units larger than a batch', () => {
  it('a unit split over several batches keeps its order: nothing is prepared behind a possibly partial batch', async () => {
    // Units hold 25 readings; batches at most 10: the buffer leases units in parts.
    r = await rig({ batchMaxReadings: 10 });
    r.client.policy = (call) => setTimeout(() => call.resolve(), 3);
    await r.buffer.append(readings(200, 'vital', 0, 3));
    await until(() => r!.buffer.stats().totalReadings === 0, 5000, 'drain');
    const msgs = r.client.messages(TOPICS.vital);
    expect(msgs.map(seqOf)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(r.client.calls.length).toBe(24);
  });
});

describe('forwarder: lanes and draining order', () => {
  it('an alarm goes out on its own lane while a bulk batch is stuck in flight', async () => {
    r = await rig();
    r.client.policy = 'hold';
    await r.buffer.append(readings(500));
    await until(() => r!.client.pending().length === 1, 2000, 'bulk send');
    await r.buffer.append(readings(1, 'alarm', 999));
    await until(() => r!.alarmClient.messages(TOPICS.alarm).length === 1, 5000, 'alarm acknowledged');
    // Order, not speed: the alarm was acknowledged while the bulk batch was still unanswered.
    expect(r.client.pending().length).toBe(1);
    expect(r.client.messages(TOPICS.vital).length).toBe(0);
    expect(r.buffer.stats().perClass.alarm.readings).toBe(0);
    expect(r.buffer.stats().perClass.vital.readings).toBe(500);
  });

  it('after an outage, alarms drain first, then vitals, then status, oldest first', async () => {
    r = await rig({}, { sharedClient: true, start: false });
    await r.buffer.append(readings(150, 'status', 0));
    await r.buffer.append(readings(150, 'vital', 150));
    await r.buffer.append(readings(30, 'alarm', 300));
    r.forwarder.start();
    await until(() => r!.buffer.stats().totalReadings === 0, 5000, 'drain');
    const order = r.client.calls.map((c) => c.batches[0]!.topic);
    expect(order[0]).toBe(TOPICS.alarm);
    const firstStatus = order.indexOf(TOPICS.status);
    const lastVital = order.lastIndexOf(TOPICS.vital);
    expect(lastVital).toBeGreaterThan(0);
    expect(firstStatus).toBeGreaterThan(lastVital);
    expect(r.client.messages(TOPICS.status).map(seqOf)).toEqual([...r.client.messages(TOPICS.status).map(seqOf)].sort((a, b) => a - b));
  });

  it('keeps at most one send and one prepared batch per lane, whatever Kafka does', async () => {
    r = await rig();
    r.client.policy = 'hold';
    r.alarmClient.policy = 'hold';
    await r.buffer.append(readings(2000));
    await r.buffer.append(readings(500, 'alarm', 5000));
    await sleep(200);
    expect(r.client.pending().length).toBe(1);
    expect(r.alarmClient.pending().length).toBe(1);
    // Two lanes x (one sending + one prepared) x 50 readings.
    expect(r.buffer.stats().inFlight).toBe(200);
    expect(r.forwarder.status().inFlight).toBe(100);
  });
});

describe('forwarder: connectivity', () => {
  it('degraded after one failure, offline after two, backoff grows to the cap, online again after recovery', async () => {
    // Backoff read on the injected clock, not the machine's: the clock stands still until the test
    // moves it to the retry time the forwarder shows, so a loaded machine cannot stretch the gaps.
    const INITIAL = 50;
    const CAP = 200;
    let clock = 1_000_000;
    r = await rig({ retryInitialMs: INITIAL, retryMaxMs: CAP, now: () => clock });
    const attempts: number[] = []; // the injected clock at each send the client saw
    r.client.policy = (call) => {
      attempts.push(clock);
      call.reject(err('transient', 'ECONNREFUSED'));
    };
    await r.buffer.append(readings(10));
    await until(() => r!.forwarder.status().consecutiveFailures >= 1, 10_000, 'first failure');
    const s1 = r.forwarder.status();
    expect(s1.state).toBe('degraded');
    expect(s1.reason).toContain('ECONNREFUSED');
    const FAILURES = 8;
    for (let k = 1; k < FAILURES; k++) {
      const due = r.forwarder.status().retryAt;
      expect(due, `retry time after failure ${k}`).not.toBeNull();
      // One ms short of the retry time nothing is sent, however long real time runs meanwhile.
      clock = due! - 1;
      await sleep(30);
      expect(attempts.length, `attempts before retry ${k} is due`).toBe(k);
      clock = due!;
      await until(() => r!.forwarder.status().consecutiveFailures >= k + 1, 10_000, `failure ${k + 1}`);
      expect(attempts.length).toBe(k + 1);
      if (k === 1) expect(r.forwarder.status().state).toBe('offline');
    }
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // Never a tight loop (at least half the initial delay), never past the cap, and it grows: from the
    // fourth failure on the full delay is the cap, so with jitter (half to all of it) at least half the cap.
    expect(Math.min(...gaps), `gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual(INITIAL / 2);
    expect(Math.max(...gaps), `gaps ${gaps.join(', ')}`).toBeLessThanOrEqual(CAP);
    for (const g of gaps.slice(3)) expect(g, `gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual(CAP / 2);
    expect(r.buffer.stats().totalReadings).toBe(10);
    expect(r.forwarder.status().offlineSince).not.toBeNull();
    expect(await r.events.count('kafka_send_failed', { kind: 'transient' })).toBe(attempts.length);
    r.client.policy = 'ack';
    clock = r.forwarder.status().retryAt ?? clock;
    await until(() => r!.buffer.stats().totalReadings === 0, 10_000, 'recovery');
    expect(r.client.messages(TOPICS.vital).map(seqOf)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    const s = r.forwarder.status();
    expect(s.state).toBe('online');
    expect(s.offlineSince).toBeNull();
    expect(s.consecutiveFailures).toBe(0);
  });

  it('idle, it asks the broker for metadata now and then, and notices when Kafka goes away and comes back', async () => {
    r = await rig({ idleProbeMs: 300 });
    await until(() => r!.forwarder.status().state === 'online', 2000, 'connected');
    const ensures = r.client.ensures;
    await until(() => r!.client.ensures > ensures, 3000, 'an idle probe');
    expect(r.forwarder.status().reason).toContain('idle');
    // Nothing was forwarded: a probe is contact, not a forward.
    expect(r.forwarder.status().lastSuccessAt).toBeNull();
    r.client.ensureError = err('transient', 'ECONNREFUSED 127.0.0.1:9092');
    await until(() => r!.forwarder.status().consecutiveFailures >= 1, 3000, 'a failed probe');
    expect(['degraded', 'offline']).toContain(r.forwarder.status().state);
    expect(r.forwarder.status().reason).toContain('ECONNREFUSED');
    r.client.ensureError = null;
    await until(() => r!.forwarder.status().state === 'online', 3000, 'back online');
    expect(r.client.calls.length).toBe(0);
  });

  it('idleProbeMs 0: no metadata requests while idle', async () => {
    r = await rig({ idleProbeMs: 0 });
    await until(() => r!.forwarder.status().state === 'online', 2000, 'connected');
    const ensures = r.client.ensures;
    await sleep(1500);
    expect(r.client.ensures).toBe(ensures);
  });

  it('while failing, probes with one batch at a time', async () => {
    r = await rig({ retryInitialMs: 30, retryMaxMs: 30 }, { start: false });
    let concurrent = 0;
    let maxConcurrent = 0;
    let bulkWhileFailing = 0;
    let alarmWhileFailing = 0;
    const policy = (lane: 'bulk' | 'alarm') => (call: SendCall) => {
      const failing = r!.forwarder.status().consecutiveFailures > 0;
      if (failing) {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        if (lane === 'bulk') bulkWhileFailing++;
        else alarmWhileFailing++;
      }
      setTimeout(() => {
        if (failing) concurrent--;
        call.reject(err('timeout'));
      }, 20);
    };
    r.client.policy = policy('bulk');
    r.alarmClient.policy = policy('alarm');
    await r.buffer.append(readings(1000));
    await r.buffer.append(readings(300, 'alarm', 2000));
    r.forwarder.start();
    // Waits for five probes while failing (an event count, not a time: a loaded machine takes longer).
    await until(() => alarmWhileFailing > 4, 10_000, 'five alarm probes while failing');
    // Both lanes tried at first; then one probe at a time, alarms first.
    expect(maxConcurrent).toBe(1);
    expect(bulkWhileFailing).toBe(0);
    // The bulk lane's one attempt is its first, made alongside the first alarm batch.
    expect(r.client.calls.length).toBe(1);
  });

  it('an authentication refusal is a configuration error: offline, no tight loop, readings keep buffering, then recovers', async () => {
    // Retries read on the injected clock: it stands still until the test moves it to the retry time.
    const CAP = 400;
    let clock = 1_000_000;
    r = await rig({ retryInitialMs: 10, retryMaxMs: CAP, now: () => clock });
    r.client.ensureError = err('config', 'SASL authentication failed: wrong password');
    await r.buffer.append(readings(20));
    await until(() => r!.forwarder.status().configError !== null, 10_000, 'config error');
    const s = r.forwarder.status();
    expect(s.state).toBe('offline');
    expect(s.reason).toMatch(/^config_error: SASL authentication failed/);
    await r.buffer.append(readings(20, 'vital', 20));
    // No tight loop: each retry waits the cap (no jitter for config errors); before it, nothing is tried.
    for (let k = 1; k <= 3; k++) {
      const ensures = r.client.ensures;
      const due = r.forwarder.status().retryAt;
      expect(due, `retry time ${k}`).not.toBeNull();
      expect(due! - clock).toBe(CAP);
      clock = due! - 1;
      await sleep(50);
      expect(r.client.ensures, `before retry ${k} is due`).toBe(ensures);
      clock = due!;
      await until(() => r!.client.ensures > ensures && r!.forwarder.status().retryAt !== null, 10_000, `retry ${k} refused`);
      expect(r.client.ensures).toBe(ensures + 1);
    }
    expect(r.buffer.stats().totalReadings).toBe(40);
    expect(await r.events.count('kafka_config_error')).toBe(r.client.ensures);
    const g = await r.events.gauges.kafkaConfigError.get();
    expect(g.values[0]?.value).toBe(1);
    r.client.ensureError = null;
    clock = r.forwarder.status().retryAt!;
    await until(() => r!.buffer.stats().totalReadings === 0, 10_000, 'recovery after the fix');
    expect(r.client.messages(TOPICS.vital).map(seqOf)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(r.forwarder.status().configError).toBeNull();
    expect((await r.events.gauges.kafkaConfigError.get()).values[0]?.value).toBe(0);
  });

  it('a refusal on send (e.g. topic authorization) also waits the cap and re-checks the topics', async () => {
    const CAP = 300;
    let clock = 1_000_000;
    r = await rig({ retryInitialMs: 10, retryMaxMs: CAP, now: () => clock });
    r.client.policy = (call) => call.reject(err('config', 'TOPIC_AUTHORIZATION_FAILED'));
    await r.buffer.append(readings(5));
    await until(() => r!.client.calls.length >= 1 && r!.forwarder.status().retryAt !== null, 10_000, 'the first refused send');
    for (let k = 1; k <= 3; k++) {
      const calls = r.client.calls.length;
      const due = r.forwarder.status().retryAt;
      expect(due, `retry time ${k}`).not.toBeNull();
      expect(due! - clock).toBe(CAP);
      clock = due! - 1;
      await sleep(50);
      expect(r.client.calls.length, `before retry ${k} is due`).toBe(calls);
      clock = due!;
      await until(() => r!.client.calls.length > calls && r!.forwarder.status().retryAt !== null, 10_000, `retry ${k} refused`);
      expect(r.client.calls.length).toBe(calls + 1);
    }
    // The topics were checked again before every send.
    expect(r.client.ensures).toBe(r.client.calls.length);
    expect(r.forwarder.status().unknownFate).toBe(0);
    expect(r.buffer.stats().totalReadings).toBe(5);
  });

  it('state draining while a backlog larger than a batch is worked off, online after', async () => {
    r = await rig({}, { start: false });
    r.client.policy = (call) => setTimeout(() => call.resolve(), 10);
    await r.buffer.append(readings(2000));
    const states = new Set<string>();
    r.forwarder.start();
    while (r.buffer.stats().totalReadings > 0) {
      states.add(r.forwarder.status().state);
      await sleep(5);
    }
    await until(() => r!.forwarder.status().state === 'online', 2000, 'online');
    expect(states.has('draining')).toBe(true);
    expect(r.forwarder.status().drainRate).toBeGreaterThanOrEqual(0);
  });
});

describe('forwarder: batching and rate cap', () => {
  it('linger: less than a batch waits the linger time of the injected clock, a full batch goes without waiting', async () => {
    let clock = 1_000_000;
    r = await rig({ lingerMs: 300, batchMaxReadings: 50, now: () => clock });
    await r.buffer.append(readings(10));
    // Real time passes, the injected clock does not: the short batch waits.
    await sleep(400);
    expect(r.client.calls.length).toBe(0);
    clock += 299;
    await sleep(400);
    expect(r.client.calls.length).toBe(0);
    clock += 1;
    await until(() => r!.client.calls.length === 1, 5000, 'lingered send');
    expect(r.client.calls[0]!.batches[0]!.messages.length).toBe(10);
    // A full batch goes with the clock still frozen: it does not wait for the linger time.
    await r.buffer.append(readings(50, 'vital', 10));
    await until(() => r!.client.calls.length === 2, 5000, 'full batch');
    expect(r.client.calls[1]!.batches[0]!.messages.length).toBe(50);
  });

  it('batch bytes bound the batch (message bytes, approximately)', async () => {
    r = await rig({ batchMaxReadings: 10_000, batchMaxBytes: 40_000 });
    await r.buffer.append(readings(1000));
    await until(() => r!.buffer.stats().totalReadings === 0, 5000, 'drain');
    const sizes = r.client.calls.map((c) => c.batches[0]!.messages.reduce((a, m) => a + String(m.value).length + String(m.key).length, 0));
    // About 400 bytes per message: some ten batches, each under the bound (the first one is small
    // on purpose: it teaches the forwarder how stored bytes expand into message bytes).
    expect(r.client.calls.length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...sizes)).toBeLessThan(40_000 * 1.25);
    expect(Math.max(...sizes.slice(1))).toBeGreaterThan(40_000 * 0.4);
  });

  it('a readings/s cap holds the bulk lane to the budget of the injected clock, but never the alarms', async () => {
    const CAP = 400;
    const BATCH = 100;
    const ALARMS = 5;
    let clock = 1_000_000;
    const start = clock;
    r = await rig({ rateCap: { readingsPerSecond: CAP }, batchMaxReadings: BATCH, now: () => clock }, { start: false });
    await r.buffer.append(readings(1200));
    const vital = () => r!.client.messages(TOPICS.vital).length;
    // What the cap allows after `ms` of the injected clock: one second of budget, plus the
    // batch that takes the bucket below zero; the least it must have sent also leaves out the
    // alarms (they spend budget too) and the batch still waiting for the bucket.
    const most = (ms: number) => CAP + (CAP * ms) / 1000 + BATCH;
    const least = (ms: number) => Math.min(1200, CAP + (CAP * ms) / 1000 - BATCH - ALARMS);
    r.forwarder.start();
    await until(() => vital() >= least(0), 5000, 'first second of budget');
    await sleep(300); // real time passes, the injected clock does not
    const burst = vital();
    expect(burst).toBeLessThanOrEqual(most(0));
    expect(r.forwarder.status().rateCap?.limiting).toBe(true);
    // Alarms go out with the clock frozen and the bulk lane held back.
    await r.buffer.append(readings(ALARMS, 'alarm', 5000));
    await until(() => r!.alarmClient.messages(TOPICS.alarm).length === ALARMS, 5000, 'alarms');
    expect(vital()).toBe(burst);
    // Each step of the injected clock releases what the budget allows, never more.
    while (r.buffer.stats().totalReadings > 0) {
      expect(clock - start, 'drained within the time the cap needs').toBeLessThanOrEqual(3000);
      clock += 250;
      await until(() => vital() >= least(clock - start), 5000, `budget at ${clock - start} ms`);
      await sleep(20);
      expect(vital(), `sent by ${clock - start} ms of the injected clock`).toBeLessThanOrEqual(most(clock - start));
    }
    expect(vital()).toBe(1200);
    expect(r.forwarder.status().rateCap?.readingsPerSecond).toBe(CAP);
  });
});

describe('forwarder: stop', () => {
  it('stop waits for the send in flight, releases the prepared batch, closes the clients', async () => {
    r = await rig();
    r.client.policy = 'hold';
    await r.buffer.append(readings(500));
    await until(() => r!.client.pending().length === 1, 2000, 'send');
    await sleep(50);
    expect(r.buffer.stats().inFlight).toBe(100);
    const stopping = r.forwarder.stop();
    await sleep(50);
    r.client.pending()[0]!.resolve();
    await stopping;
    expect(r.client.closed).toBe(true);
    expect(r.alarmClient.closed).toBe(true);
    expect(r.buffer.stats().inFlight).toBe(0);
    expect(r.buffer.stats().totalReadings).toBe(450);
  });
});
