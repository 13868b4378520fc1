/**
 * HL7 v2 escaping of text inside a field (HL7 v2.6 chapter 2.7), for the default delimiters
 * `|^~\&`: every character that is a delimiter or the escape character itself becomes its
 * escape sequence, and the segment terminator (CR) and other control characters a hex escape,
 * so no value can end a field, component, repetition, subcomponent or segment early.
 *
 *   |  -> \F\     ^  -> \S\     &  -> \T\     ~  -> \R\     \  -> \E\
 *   CR -> \X0D\   LF -> \X0A\   other C0 controls and DEL -> \Xhh\
 */
const ESC: Record<string, string> = { '|': '\\F\\', '^': '\\S\\', '&': '\\T\\', '~': '\\R\\', '\\': '\\E\\' };
const NEEDS = /[|^&~\\\u0000-\u001f\u007f]/;

export function hl7Escape(text: string): string {
  if (!NEEDS.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const e = ESC[ch];
    if (e !== undefined) out += e;
    else if (ch < ' ' || ch === '\u007f') out += `\\X${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}\\`;
    else out += ch;
  }
  return out;
}
