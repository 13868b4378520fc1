/**
 * Preloaded into a `wardgate` process (NODE_OPTIONS=--import) by test/cli/signal-at-start.test.ts:
 * when the process first writes a log line to standard error that contains WG_PAUSE_TEXT, it
 * stops right there, before the write, in a blocking read of the named pipe WG_PAUSE_FIFO, until
 * the test has done what it wants at that instant (sent a signal) and writes to the pipe. The
 * test knows the process has reached that point when its own open of the pipe for writing returns.
 * Nothing else in the process is changed.
 */
import fs from 'node:fs';

const text = process.env.WG_PAUSE_TEXT;
const fifo = process.env.WG_PAUSE_FIFO;
if (text && fifo) {
  let paused = false;
  const pauseIf = (fd, data) => {
    if (paused || fd !== 2) return;
    const s = typeof data === 'string' ? data : data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString() : '';
    if (!s.includes(text)) return;
    paused = true;
    fs.readFileSync(fifo);
  };
  const write = fs.write;
  fs.write = function (fd, data, ...rest) {
    pauseIf(fd, data);
    return write.call(this, fd, data, ...rest);
  };
  const writeSync = fs.writeSync;
  fs.writeSync = function (fd, data, ...rest) {
    pauseIf(fd, data);
    return writeSync.call(this, fd, data, ...rest);
  };
}
