// Fails, listing file:line, when a tracked source file (.ts, .mjs, .js) has a line over 160
// characters: the formatter wraps code at 160 columns but cannot wrap a long string or comment.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 160;
const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.mjs', '*.js'], { encoding: 'utf8' }).split('\0').filter(Boolean);
const long = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // deleted in the working tree, not yet committed
  }
  text.split('\n').forEach((line, i) => {
    if (line.length > MAX) long.push(`${file}:${i + 1}: ${line.length} characters`);
  });
}
if (long.length > 0) {
  console.error(`${long.length} source line(s) over ${MAX} characters:\n${long.join('\n')}`);
  process.exit(1);
}
console.log(`check-lines: ${files.length} source files, no line over ${MAX} characters`);
