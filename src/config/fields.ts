/** Zod field types shared by every configuration section: sizes and durations in human units. */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/** A number, or a string in human units that `parse` turns into one; otherwise an error naming what it expects. */
function unitField(parse: (v: number | string) => number | undefined, what: string, examples: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parse(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a ${what}: ${JSON.stringify(v)} (use e.g. ${examples})` });
      return z.NEVER;
    }
    return n;
  });
}

export const size = unitField(parseSize, 'size', '64KiB, 512MiB, 2GB or a number of bytes');
export const duration = unitField(parseDuration, 'duration', '250ms, 30s, 2h or a number of ms');
