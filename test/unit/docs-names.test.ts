/**
 * docs/architecture.md and the README's Layout section name files, folders, functions, classes
 * and tests. Each name must exist in the code as it is: a renamed or removed one fails here, so
 * the map of the code cannot drift from the code. Also: every folder and top-level module of
 * src/, every device family folder and every src/forwarder/ module is named in architecture.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
const FILES = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
const SRC = FILES.filter((f) => f.startsWith('src/') && f.endsWith('.ts') && existsSync(join(ROOT, f)));
const SRC_TEXT = new Map(SRC.map((f) => [f, read(f)]));

const ARCH = read('docs/architecture.md');
const readme = read('README.md');
const layoutStart = readme.indexOf('\n## Layout\n');
const LAYOUT = readme.slice(layoutStart, readme.indexOf('\n## ', layoutStart + 1));

const DOCS: [string, string][] = [
  ['docs/architecture.md', ARCH],
  ['README.md, Layout', LAYOUT],
];

const TOP = '(?:src|test|hardware-mocks|examples|packaging|systemd|docs|bench|scripts)';
const PATH = new RegExp(`(?<![\\w./-])${TOP}/[\\w./<>-]*`, 'g');
const BARE_FILE = /(?<![\w./-])[\w-]+\.(?:ts|mjs)(?![\w/])/g;
const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Paragraphs and list items of prose, single lines of code blocks: the context a bare name is read in. */
function chunks(text: string): string[] {
  const out: string[] = [];
  const parts = text.split(/^```.*$/m);
  parts.forEach((part, i) => {
    if (i % 2 === 1) out.push(...part.split('\n'));
    else out.push(...part.split(/\n\s*\n|\n(?=\s*(?:- |\d+\. |\|))/));
  });
  return out.filter((c) => c.trim() !== '');
}

const cleanPath = (p: string): string => p.replace(/[.,:;)]+$/, '');
const isDir = (p: string): boolean => existsSync(join(ROOT, p)) && statSync(join(ROOT, p)).isDirectory();

describe('the names docs/architecture.md and the README layout cite exist', () => {
  it('every path (src/..., test/..., hardware-mocks/..., docs/...) exists', () => {
    const missing: string[] = [];
    let seen = 0;
    for (const [doc, text] of DOCS) {
      for (const m of text.matchAll(PATH)) {
        const p = cleanPath(m[0]);
        if (p.includes('<')) continue; // a placeholder: src/devices/<family>/
        seen++;
        if (!existsSync(join(ROOT, p))) missing.push(`${doc}: ${p}`);
      }
    }
    expect(seen).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  it('every markdown link of architecture.md points at a file that exists', () => {
    const links = [...ARCH.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^\w+:/.test(l));
    expect(links.length).toBeGreaterThan(2);
    expect(links.filter((l) => !existsSync(join(ROOT, 'docs', l)))).toEqual([]);
  });

  it('every bare file name (codec.ts) exists in a folder its paragraph names, else somewhere in src/', () => {
    const missing: string[] = [];
    let seen = 0;
    for (const [doc, text] of DOCS) {
      for (const chunk of chunks(text)) {
        const dirs = [...chunk.matchAll(PATH)].map((m) => cleanPath(m[0])).map((p) => (isDir(p) ? p.replace(/\/$/, '') : dirname(p)));
        for (const m of chunk.matchAll(BARE_FILE)) {
          const name = m[0];
          seen++;
          const under = dirs.length > 0 ? dirs : ['src'];
          const found = FILES.some((f) => basename(f) === name && under.some((d) => f.startsWith(`${d}/`)));
          if (!found) missing.push(`${doc}: ${name} (looked under ${under.join(', ')})`);
        }
      }
    }
    expect(seen).toBeGreaterThan(25);
    expect(missing).toEqual([]);
  });
});

/** Where `name` is declared in src/ as a class, interface, type, enum, function or constant. */
function declaredIn(name: string): string[] {
  const re = new RegExp(`(?:class|interface|type|enum|function\\*?|const|let)\\s+${reEscape(name)}\\b`);
  return SRC.filter((f) => re.test(SRC_TEXT.get(f)!));
}

/** A method, property or getter `member` declared in `text` (an object or class member, not a call). */
function declaresMember(text: string, member: string): boolean {
  const m = reEscape(member);
  return new RegExp(`^\\s*(?:(?:export|public|private|protected|static|readonly|async|get|set|abstract|override)\\s+)*${m}\\s*\\??\\s*(?:\\(|<|:|=)`, 'm').test(
    text,
  );
}

/** The identifiers architecture.md cites in backticks: X.y(), x(), X, CONST, camelCaseName. */
function citedIdentifiers(): string[] {
  const out = new Set<string>();
  for (const [, text] of DOCS) {
    for (const m of text.matchAll(/`([^`\n]+)`/g)) {
      const t = m[1]!.replace(/\(.*\)$/, '()');
      if (/\.(?:ts|mjs|js|md|json|yaml)$/.test(t)) continue; // a file name
      if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)?(?:\(\))?$/.test(t)) out.add(t);
    }
  }
  return [...out];
}

describe('the functions, classes and constants architecture.md cites exist', () => {
  const ids = citedIdentifiers();

  it('Class.member: the class or interface is declared in src/ and declares the member', () => {
    const dotted = ids.filter((t) => /^[A-Z]\w*\.\w+/.test(t));
    expect(dotted.length).toBeGreaterThan(4);
    const missing = dotted.filter((t) => {
      const [owner, member] = t.replace('()', '').split('.') as [string, string];
      return !declaredIn(owner).some((f) => declaresMember(SRC_TEXT.get(f)!, member));
    });
    expect(missing).toEqual([]);
  });

  it('receiver.member(): some class, interface or config object in src/ declares the member', () => {
    const dotted = ids.filter((t) => /^[a-z]\w*\.\w+/.test(t));
    expect(dotted.length).toBeGreaterThan(2);
    const missing = dotted.filter((t) => {
      const member = t.replace('()', '').split('.')[1]!;
      return !SRC.some((f) => declaresMember(SRC_TEXT.get(f)!, member));
    });
    expect(missing).toEqual([]);
  });

  it('function(), PascalCase and UPPER_CASE names are declared in src/ (or used there from a pinned package)', () => {
    const single = ids.filter((t) => !t.includes('.') && (t.endsWith('()') || /^[A-Z]/.test(t)));
    expect(single.length).toBeGreaterThan(8);
    const missing = single.filter((t) => {
      const name = t.replace('()', '');
      if (declaredIn(name).length > 0) return false;
      if (t.endsWith('()') && SRC.some((f) => declaresMember(SRC_TEXT.get(f)!, name))) return false;
      // A package's own: imported by name, or a member of something imported (Partitioners.DefaultPartitioner).
      const imported = new RegExp(`import\\s[^;]*\\b${reEscape(name)}\\b[^;]*from\\s+'(?!\\.)|\\.${reEscape(name)}\\b`);
      return !SRC.some((f) => imported.test(SRC_TEXT.get(f)!));
    });
    expect(missing).toEqual([]);
  });

  it('camelCase names (settings, library members) occur in src/', () => {
    const camel = ids.filter((t) => /^_?[a-z]+[A-Z]\w*$/.test(t));
    expect(camel.length).toBeGreaterThan(4);
    expect(camel.filter((t) => !SRC.some((f) => new RegExp(`\\b${reEscape(t)}\\b`).test(SRC_TEXT.get(f)!)))).toEqual([]);
  });
});

/**
 * True when `fragment` (some of the doc's words) is part of `title`, a test title whose %s, %d or
 * $name placeholders each stand for one or more non-blank characters ("compression zstd" is part
 * of 'compression %s: stored with that codec').
 */
function titleCites(title: string, fragment: string): boolean {
  if (title.includes(fragment)) return true;
  const parts = title.split(/%[sdifjo]|\$[\w.]+/);
  if (parts.length === 1) return false;
  // From part pi, character ci on: literal characters must match, a hole eats one or more non-blank characters.
  const match = (fi: number, pi: number, ci: number): boolean => {
    if (fi === fragment.length) return true;
    const part = parts[pi]!;
    if (ci < part.length) return fragment[fi] === part[ci] && match(fi + 1, pi, ci + 1);
    if (pi + 1 >= parts.length) return false;
    for (let k = fi + 1; k <= fragment.length && !/\s/.test(fragment[k - 1]!); k++) if (match(k, pi + 1, 0)) return true;
    return false;
  };
  for (let pi = 0; pi < parts.length; pi++) for (let ci = 0; ci <= parts[pi]!.length; ci++) if (match(0, pi, ci)) return true;
  return false;
}

describe('the tests architecture.md names (private APIs wardgate relies on) exist', () => {
  it('each `test/....test.ts` "title" pair names a test title in that file', () => {
    const cited = [...ARCH.matchAll(/`(test\/[\w/.-]+\.test\.ts)` "([^"]+)"/g)].map((m) => [m[1]!, m[2]!] as const);
    expect(cited.length).toBeGreaterThan(3);
    const missing = cited.filter(([file, words]) => {
      // The file's string literals: its test titles among them.
      const titles = [...read(file).matchAll(/(['"`])((?:\\.|(?!\1)[^\n])*)\1/g)].map((m) => m[2]!);
      return !words.split(/\s*\.\.\.\s*/).every((f) => titles.some((t) => titleCites(t, f)));
    });
    expect(missing).toEqual([]);
  });
});

describe('architecture.md names every part of src/', () => {
  const named = (name: string): boolean => new RegExp(`(?<![\\w-])${reEscape(name)}(?![\\w-])`).test(ARCH);

  it('every folder and top-level module of src/, every device family and every src/forwarder/ module', () => {
    const entries = [
      ...readdirSync(join(ROOT, 'src')).map((e) => (e.endsWith('.ts') ? e : `src/${e}`)),
      ...readdirSync(join(ROOT, 'src/devices'))
        .filter((e) => isDir(`src/devices/${e}`))
        .map((e) => `src/devices/${e}`),
      ...readdirSync(join(ROOT, 'src/forwarder')).filter((e) => e.endsWith('.ts')),
    ];
    expect(entries.length).toBeGreaterThan(30);
    expect(entries.filter((e) => !named(e))).toEqual([]);
  });
});
