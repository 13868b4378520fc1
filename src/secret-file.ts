/**
 * Files holding secrets (the data key file, its secret file, the Kafka SASL password file,
 * the MQTT users file): only the service user may read them. A file that group or others
 * can access, or that another user owns, is refused, like ssh refuses a private key.
 * Errors name the file and its mode, never its content.
 */
import { type Stats, statSync } from 'node:fs';
import { ConfigurationError } from './errors.js';

export function checkPrivateFile(path: string, what: string, fail: (message: string) => Error = (m) => new ConfigurationError(m)): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw fail(code === 'ENOENT' ? `${what} ${path} does not exist` : `cannot read ${what} ${path} (${code})`);
  }
  if (!stats.isFile()) throw fail(`${what} ${path} is not a regular file`);
  const mode = stats.mode & 0o777;
  if (mode & 0o077) {
    throw fail(`${what} ${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); refusing to use it. Fix with: chmod 600 ${path}`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && uid !== 0 && stats.uid !== uid) {
    throw fail(`${what} ${path} is owned by uid ${stats.uid}, not by the service user (uid ${uid}); refusing to use it`);
  }
}
