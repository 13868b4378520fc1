/**
 * JSON lines on stdout (or any stream): {"type":"reading",...} per new reading,
 * {"type":"sample",...} per new waveform sample of a waveform batch, and
 * {"type":"gaps",...} whenever a gateway's gap view changed (and a final one per gateway at the end). This is the data output, with
 * patient data in it, so it is never mixed with the consumer's log (stderr, counts only).
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { GatewayGaps } from '../tracker.js';
import type { SampleRow, Sink, SinkRow } from './sink.js';

export class JsonLinesSink implements Sink {
  readonly name = 'stdout';
  constructor(
    private readonly out: Writable = process.stdout,
    private readonly opts: { readings: boolean } = { readings: true },
  ) {}

  private async put(text: string): Promise<void> {
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async write(rows: readonly SinkRow[]): Promise<void> {
    if (!this.opts.readings || rows.length === 0) return;
    let text = '';
    for (const r of rows) text += `${JSON.stringify({ type: 'reading', topic: r.topic, partition: r.partition, offset: r.offset, reading: r.reading })}\n`;
    await this.put(text);
  }

  async writeSamples(rows: readonly SampleRow[]): Promise<void> {
    if (!this.opts.readings || rows.length === 0) return;
    let text = '';
    for (const r of rows) text += `${JSON.stringify({ type: 'sample', topic: r.topic, partition: r.partition, offset: r.offset, sample: r.sample })}\n`;
    await this.put(text);
  }

  async gaps(view: GatewayGaps, final: boolean): Promise<void> {
    await this.put(`${JSON.stringify({ type: 'gaps', final, ...view })}\n`);
  }

  async close(): Promise<void> {}
}
