/**
 * The embedded broker's credentials file (`embedded.auth.usersFile`, YAML `users: [...]`):
 * it holds password hashes, so it must be readable by the service user only (refused
 * otherwise, like the key file), and no error quotes its content.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigurationError } from '../../errors.js';
import { checkPrivateFile } from '../../secret-file.js';
import { type UserConfig, usersFileSchema } from './config.js';

export function readUsersFile(file: string): UserConfig[] {
  checkPrivateFile(file, 'mqtt users file');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigurationError(`cannot read mqtt users file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    // Where, never what: the parser's message goes on to quote the file (password hashes).
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new ConfigurationError(`mqtt users file ${file} is not valid YAML${where}`);
  }
  const r = usersFileSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigurationError(`mqtt users file ${file}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data.users;
}
