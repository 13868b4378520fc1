/**
 * Standard output and error that go away: the reading end of a pipe closed (`wardgate simulate |
 * head`), or the stream to journald broken. A write to them then fails with EPIPE, which Node
 * raises as an 'error' event on process.stdout / process.stderr, and an unhandled one ends the
 * process. The gateway goes on without them: what it would have printed there is lost, its
 * readings are not (test/cli/closed-stdout.test.ts).
 */
export function surviveClosedStdio(): void {
  for (const s of [process.stdout, process.stderr]) {
    if (s.listenerCount('error') === 0) s.on('error', () => undefined);
  }
}
