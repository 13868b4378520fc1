/** Loopback ports for the tests' and benchmarks' listeners. */
import { createServer } from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago (for proxies and extra listeners). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}
