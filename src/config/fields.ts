/** Zod field types shared by every configuration section: sizes and durations in human units. */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

export const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (use e.g. 64KiB, 512MiB, 2GB or a number of bytes)` });
    return z.NEVER;
  }
  return n;
});

export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (use e.g. 250ms, 30s, 2h or a number of ms)` });
    return z.NEVER;
  }
  return n;
});
