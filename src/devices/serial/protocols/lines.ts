/**
 * Byte stream -> text lines, for the ASCII protocols: split on LF, strip CR, bounded. A line
 * longer than `maxLine` is dropped whole (up to its LF) and reported once as 'line_too_long';
 * memory stays at most `maxLine` bytes however long the stream runs without a delimiter.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private overflow = false;

  constructor(private readonly maxLine = 512) {}

  /** Feeds bytes; returns complete lines (without CR LF) and the number of lines dropped as too long. */
  push(chunk: Buffer): { lines: string[]; tooLong: number } {
    const lines: string[] = [];
    let tooLong = 0;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.overflow) {
        const piece = chunk.subarray(start, end);
        if (this.length + piece.length > this.maxLine) {
          this.overflow = true;
          this.parts = [];
          this.length = 0;
        } else if (piece.length > 0) {
          this.parts.push(piece);
          this.length += piece.length;
        }
      }
      if (nl === -1) break;
      if (this.overflow) tooLong++;
      else {
        let line = this.parts.length === 1 ? this.parts[0]!.toString('latin1') : Buffer.concat(this.parts).toString('latin1');
        if (line.endsWith('\r')) line = line.slice(0, -1);
        lines.push(line);
      }
      this.parts = [];
      this.length = 0;
      this.overflow = false;
      start = nl + 1;
    }
    // Keep no view into the caller's chunk beyond this call.
    if (this.parts.length > 0) {
      const copy = Buffer.from(Buffer.concat(this.parts));
      this.parts = [copy];
    }
    return { lines, tooLong };
  }

  reset(): void {
    this.parts = [];
    this.length = 0;
    this.overflow = false;
  }
}
