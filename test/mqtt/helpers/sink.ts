/**
 * A test-only ReadingSink: records what was submitted and can be told to refuse (as a full
 * disk would) or to take time. The component under test is the MQTT adapter, not the buffer.
 */

import { BufferRefused } from '../../../src/buffer/types.js';
import type { ReadingSink } from '../../../src/devices/types.js';
import type { ReadingInput } from '../../../src/reading.js';

export class RecordingSink implements ReadingSink {
  readonly committed: ReadingInput[] = [];
  submissions = 0;
  refused = 0;
  refuse = false;
  delayMs = 0;
  /** Called as each submission starts, with the readings committed so far (e.g. to stop the adapter while one is under way). */
  onSubmit: ((committed: number) => void) | undefined;

  async submit(inputs: readonly ReadingInput[]): Promise<void> {
    this.submissions++;
    this.onSubmit?.(this.committed.length);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.refuse) {
      this.refused += inputs.length;
      throw new BufferRefused('disk_full', 'simulated: disk full');
    }
    this.committed.push(...inputs);
  }
}
