/**
 * Scripted Kafka outages for `wardgate simulate --outage 20s@30s[,10s@90s]`: each is a duration
 * and a start time after the gateway started. The cut itself is a local proxy between the gateway
 * and the brokers (hardware-mocks/kafka-outage-proxy.ts), loaded only when asked for.
 */
import { parseDuration } from '../config/units.js';

export interface OutageSpec {
  atMs: number;
  forMs: number;
}

/** Parses `20s@30s,10s@90s`; throws with the part that is wrong. */
export function parseOutages(spec: string, option = '--outage'): OutageSpec[] {
  return spec.split(',').map((part) => {
    const m = /^\s*([^@\s]+)@([^@\s]+)\s*$/.exec(part);
    const forMs = m ? parseDuration(m[1]!) : undefined;
    const atMs = m ? parseDuration(m[2]!) : undefined;
    if (forMs === undefined || atMs === undefined || forMs <= 0)
      throw new Error(`${option}: expected <duration>@<start>, e.g. 20s@30s (20 s long, 30 s after the start), got ${JSON.stringify(part)}`);
    return { atMs, forMs };
  });
}

/** Runs the outages on `cut`/`restore` from now; returns a function that cancels what has not happened (and restores). */
export function scheduleOutages(outages: readonly OutageSpec[], gate: { cut(): void; restore(): void }, say: (line: string) => void): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const o of outages) {
    timers.push(
      setTimeout(() => {
        gate.cut();
        say(`outage: Kafka cut for ${o.forMs / 1000} s (scripted)`);
      }, o.atMs),
      setTimeout(() => {
        gate.restore();
        say('outage: Kafka reachable again (scripted)');
      }, o.atMs + o.forMs),
    );
  }
  return () => {
    for (const t of timers) clearTimeout(t);
    gate.restore();
  };
}

/** Runs `begin` at each window's start and `end` at its end, saying so; returns a function that cancels what has not happened (ending what has begun). */
export function scheduleWindows(
  windows: readonly OutageSpec[],
  begin: () => unknown,
  end: () => unknown,
  say: (line: string) => void,
  what: { begin: (forS: number) => string; end: string },
): () => void {
  const timers: NodeJS.Timeout[] = [];
  let open = 0;
  const run = (f: () => unknown, line: string): void => {
    say(line);
    void Promise.resolve()
      .then(f)
      .catch((e: unknown) => say(`fault: ${e instanceof Error ? e.message : String(e)}`));
  };
  for (const w of windows) {
    timers.push(
      setTimeout(() => {
        open++;
        run(begin, what.begin(w.forMs / 1000));
      }, w.atMs),
      setTimeout(() => {
        open--;
        run(end, what.end);
      }, w.atMs + w.forMs),
    );
  }
  return () => {
    for (const t of timers) clearTimeout(t);
    if (open > 0)
      void Promise.resolve()
        .then(end)
        .catch(() => undefined);
  };
}
