/**
 * Field paths into parsed JSON: `a.b[0].c`, `readings.2.v`, `["odd key"].x`.
 * Compiled once; lookups only follow own properties (never the prototype chain).
 */

export type PathStep = string | number;

export class PathError extends Error {
  override readonly name = 'PathError';
}

/** Compiles a path; throws PathError naming the problem. */
export function compilePath(path: string): PathStep[] {
  const steps: PathStep[] = [];
  let i = 0;
  const n = path.length;
  const bad = (why: string): never => {
    throw new PathError(`path ${JSON.stringify(path)}: ${why}`);
  };
  if (n === 0) bad('is empty');
  while (i < n) {
    if (path[i] === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) bad('unclosed [');
      const inner = path.slice(i + 1, end);
      if (/^\d+$/.test(inner)) steps.push(Number(inner));
      else if (/^"([^"\\]*)"$/.test(inner)) steps.push(inner.slice(1, -1));
      else bad(`[${inner}] must be an index or a "quoted key"`);
      i = end + 1;
      if (i < n && path[i] === '.') {
        i++;
        if (i >= n) bad('ends with .');
      }
      continue;
    }
    let j = i;
    while (j < n && path[j] !== '.' && path[j] !== '[') j++;
    const key = path.slice(i, j);
    if (key.length === 0) bad('has an empty step');
    steps.push(/^\d+$/.test(key) ? Number(key) : key);
    i = j;
    if (i < n && path[i] === '.') {
      i++;
      if (i >= n) bad('ends with .');
    }
  }
  return steps;
}

/** The value at `steps` in `root`, or undefined. */
export function getPath(root: unknown, steps: readonly PathStep[]): unknown {
  let cur: unknown = root;
  for (const s of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (typeof s !== 'number' || s >= cur.length) return undefined;
      cur = cur[s];
    } else {
      const k = String(s);
      if (!Object.hasOwn(cur, k)) return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
  }
  return cur;
}
