/**
 * Topic patterns with named captures, and the small templates that use them.
 *
 *   pattern  ward/{bed}/{device}/spo2     {name} matches one level (like '+') and captures it
 *            ward/{bed}/+/#               '+' and '#' match without capturing
 *            hub/{bed}/{path#}            {name#} matches the remaining levels (like '#') and
 *                                         captures them joined with '/'; last level only
 *   template pump-{device}                {name} is replaced by the captured value
 *
 * Pure; compiled once at start, then matched per message.
 */

export type Captures = Readonly<Record<string, string>>;

type Level = { kind: 'literal'; text: string } | { kind: 'one'; name?: string } | { kind: 'rest'; name?: string };

export interface TopicPattern {
  readonly source: string;
  /** Capture names, in order. */
  readonly names: readonly string[];
  /** The MQTT filter this pattern matches (captures replaced by '+' / '#'). */
  readonly filter: string;
  /** Captures when `levels` (a topic split on '/') matches, else null. */
  match(levels: readonly string[]): Captures | null;
}

export class PatternError extends Error {
  override readonly name = 'PatternError';
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

export function compilePattern(source: string): TopicPattern {
  if (source.length === 0) throw new PatternError('topic pattern is empty');
  const parts = source.split('/');
  const levels: Level[] = [];
  const names: string[] = [];
  for (const [i, p] of parts.entries()) {
    const last = i === parts.length - 1;
    if (p === '+') {
      levels.push({ kind: 'one' });
      continue;
    }
    if (p === '#') {
      if (!last) throw new PatternError(`'#' must be the last level in ${JSON.stringify(source)}`);
      levels.push({ kind: 'rest' });
      continue;
    }
    const m = /^\{([^{}]*?)(#?)\}$/.exec(p);
    if (m) {
      const name = m[1]!;
      if (!NAME.test(name))
        throw new PatternError(`capture name ${JSON.stringify(name)} in ${JSON.stringify(source)} must be a letter or _ followed by letters, digits or _`);
      if (names.includes(name)) throw new PatternError(`capture {${name}} appears twice in ${JSON.stringify(source)}`);
      if (m[2] === '#' && !last) throw new PatternError(`{${name}#} must be the last level in ${JSON.stringify(source)}`);
      names.push(name);
      levels.push(m[2] === '#' ? { kind: 'rest', name } : { kind: 'one', name });
      continue;
    }
    if (/[+#{}\0]/.test(p)) throw new PatternError(`level ${JSON.stringify(p)} of ${JSON.stringify(source)} mixes text with a wildcard or brace`);
    levels.push({ kind: 'literal', text: p });
  }
  const filter = levels.map((l) => (l.kind === 'literal' ? l.text : l.kind === 'one' ? '+' : '#')).join('/');
  const startsWithWildcard = levels[0]?.kind !== 'literal';

  return {
    source,
    names,
    filter,
    match(topic) {
      if (startsWithWildcard && topic[0]?.startsWith('$')) return null;
      let caps: Record<string, string> | null = null;
      for (let i = 0; i < levels.length; i++) {
        const l = levels[i]!;
        if (l.kind === 'rest') {
          // like '#': matches the parent level too, capturing ''
          if (l.name) {
            caps ??= {};
            caps[l.name] = topic.slice(i).join('/');
          }
          return caps ?? {};
        }
        const t = topic[i];
        if (t === undefined) return null;
        if (l.kind === 'literal') {
          if (l.text !== t) return null;
        } else if (l.name) {
          caps ??= {};
          caps[l.name] = t;
        }
      }
      return levels.length === topic.length ? (caps ?? {}) : null;
    },
  };
}

export interface Template {
  readonly source: string;
  readonly names: readonly string[];
  /** The rendered text, or undefined when a capture it uses is missing or empty. */
  render(caps: Captures): string | undefined;
}

export function compileTemplate(source: string): Template {
  const parts: (string | { name: string })[] = [];
  const names: string[] = [];
  const re = /\{([^{}]*)\}/g;
  let at = 0;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const name = m[1]!;
    if (!NAME.test(name)) throw new PatternError(`placeholder {${name}} in ${JSON.stringify(source)} is not a capture name`);
    if (m.index > at) parts.push(source.slice(at, m.index));
    parts.push({ name });
    names.push(name);
    at = m.index + m[0].length;
  }
  if (at < source.length) parts.push(source.slice(at));
  if (parts.some((p) => typeof p === 'string' && /[{}]/.test(p))) throw new PatternError(`unbalanced brace in ${JSON.stringify(source)}`);
  if (names.length === 0) return { source, names, render: () => source };
  if (parts.length === 1) {
    // the whole template is one capture: {device}
    const only = names[0]!;
    return { source, names, render: (caps) => caps[only] || undefined };
  }
  return {
    source,
    names,
    render(caps) {
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        const v = caps[p.name];
        if (v === undefined || v === '') return undefined;
        out += v;
      }
      return out;
    },
  };
}
