/**
 * The buffer's public surface: open it, its types, the files it keeps in its folder, and the
 * key-less status reader. The design (durability, sealing, draining, caps) is in docs/buffer.md.
 */
import { type OpenBufferOptions, openSqliteBuffer, type SqliteBuffer } from './sqlite.js';

export { getOrCreateGatewayId } from './gateway-id.js';
export { LOCK_FILE } from './lock.js';
export { DB_FILE } from './schema.js';
export { SEQ_FILE } from './seq.js';

export { type OpenBufferOptions, SqliteBuffer } from './sqlite.js';
export { type BufferStatusReport, type ReadBufferStatsOptions, readBufferStats } from './status.js';
export { UNIT_ROW_OVERHEAD } from './store.js';
export * from './types.js';

/** Opens (creating when needed) the buffer in `opts.dir` with the key file `opts.keyFile`. */
export async function openBuffer(opts: OpenBufferOptions): Promise<SqliteBuffer> {
  return openSqliteBuffer(opts);
}
