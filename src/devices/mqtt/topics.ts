/**
 * MQTT topic names and filters (MQTT 3.1.1 §4.7): validation, matching, and whether one
 * filter covers another (used by subscribe ACLs). Pure functions, no state.
 */

const MAX_TOPIC_BYTES = 65_535;

/** A topic name a client may publish to: non-empty, no wildcards, no NUL. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0 || Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 || c === 0x2b || c === 0) return false; // '#', '+', NUL
  }
  return true;
}

/** A topic filter: '+' alone in its level, '#' alone in the last level. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || Buffer.byteLength(filter) > MAX_TOPIC_BYTES || filter.includes('\0')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false;
    if (l.includes('+') && l !== '+') return false;
  }
  return true;
}

/** Does `topic` (already split into levels) match `filter` (already split)? */
export function levelsMatch(filter: readonly string[], topic: readonly string[]): boolean {
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with '$'.
  const first = filter[0];
  if ((first === '#' || first === '+') && topic[0]?.startsWith('$')) return false;
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]!;
    if (f === '#') return true; // also matches the parent level: 'a/#' matches 'a'
    if (i >= topic.length) return false;
    if (f !== '+' && f !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

export function topicMatches(filter: string, topic: string): boolean {
  return levelsMatch(filter.split('/'), topic.split('/'));
}

/**
 * True when every topic matched by `inner` is also matched by `outer`, so a client allowed
 * `outer` may subscribe to `inner`. Both must be valid filters.
 */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  const oFirst = o[0];
  const nFirst = n[0];
  // An outer filter starting with a wildcard does not reach '$' topics; an inner one starting
  // with a wildcard does not reach them either, so that case is fine.
  if ((oFirst === '#' || oFirst === '+') && nFirst !== '#' && nFirst !== '+' && nFirst?.startsWith('$')) return false;
  for (let i = 0; i < o.length; i++) {
    const ol = o[i]!;
    if (ol === '#') return true;
    if (i >= n.length) return false;
    const nl = n[i]!;
    if (nl === '#') return false; // inner reaches deeper than outer allows
    if (ol === '+') continue;
    if (nl === '+' || nl !== ol) return false;
  }
  return o.length === n.length;
}
