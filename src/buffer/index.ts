/**
 * The buffer's public surface: open it (openBuffer: creating it when needed in `opts.dir`, with
 * the key file `opts.keyFile`), its types, the files it keeps in its folder, and the key-less
 * status reader. The design (durability, sealing, draining, caps) is in docs/buffer.md.
 */
export { getOrCreateGatewayId } from './gateway-id.js';
export { LOCK_FILE } from './lock.js';
export { DB_FILE } from './schema.js';
export { SEQ_FILE } from './seq.js';
export { BALLAST_FILE, releaseBallastIfShort } from './shedding.js';

export { type OpenBufferOptions, openSqliteBuffer as openBuffer, SqliteBuffer } from './sqlite.js';
export { type BufferStatusReport, type ReadBufferStatsOptions, readBufferStats } from './status.js';
export { UNIT_ROW_OVERHEAD } from './store.js';
export * from './types.js';
