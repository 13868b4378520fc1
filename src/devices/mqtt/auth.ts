/**
 * Who may connect to the embedded broker and what they may do there.
 *  - Passwords are stored as salted scrypt hashes: scrypt$N$r$p$salt$hash (base64).
 *  - A verified TLS client certificate logs in as the user named by its subject CN.
 *  - Each user has publish and subscribe topic filters; {username} and {clientId} in them
 *    are replaced at login (a client id containing / + # is refused where it would widen them).
 */
import { randomBytes, type ScryptOptions, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import type { UserConfig } from './config.js';
import { filterCovers, isValidTopicFilter, levelsMatch } from './topics.js';

const DEFAULT_N = 16384;
const DEFAULT_R = 8;
const DEFAULT_P = 1;
const KEY_LEN = 32;

function scrypt(password: Buffer | string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (e, k) => (e ? reject(e) : resolve(k))));
}

const maxmem = (N: number, r: number, p: number): number => 128 * N * r * p + 64 * 1024 * 1024;

export interface HashOptions {
  N?: number;
  r?: number;
  p?: number;
}

/** A salted scrypt hash of `password` for the `passwordHash` field. */
export async function hashPassword(password: string, opts: HashOptions = {}): Promise<string> {
  const N = opts.N ?? DEFAULT_N;
  const r = opts.r ?? DEFAULT_R;
  const p = opts.p ?? DEFAULT_P;
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, { N, r, p, maxmem: maxmem(N, r, p) });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

export function parseHash(encoded: string): ParsedHash | null {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!m) return null;
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // N a power of two; bounds keep a bad hash from exhausting memory (128*N*r bytes) or time.
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16 || 128 * N * r > 256 * 1024 * 1024) return null;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return null;
  return { N, r, p, salt, key };
}

/** Constant-time check of `password` against an encoded hash. False for malformed hashes. */
export async function verifyPassword(password: Buffer | string, encoded: string): Promise<boolean> {
  const h = parseHash(encoded);
  if (!h) return false;
  const key = await scrypt(password, h.salt, h.key.length, { N: h.N, r: h.r, p: h.p, maxmem: maxmem(h.N, h.r, h.p) });
  return timingSafeEqual(key, h.key);
}

/** The publish and subscribe rights of one logged-in client. */
class Acl {
  private readonly pub: string[][];
  constructor(
    publish: readonly string[],
    private readonly subscribeFilters: readonly string[],
  ) {
    this.pub = publish.map((f) => f.split('/'));
  }

  canPublish(topicLevels: readonly string[]): boolean {
    for (const f of this.pub) if (levelsMatch(f, topicLevels)) return true;
    return false;
  }

  canSubscribe(filter: string): boolean {
    return this.subscribeFilters.some((f) => filterCovers(f, filter));
  }
}

export interface Identity {
  /** The user name (or 'anonymous'); never a patient identifier. */
  readonly user: string;
  readonly via: 'password' | 'certificate' | 'anonymous';
  readonly acl: Acl;
}

export interface Credentials {
  clientId: string;
  username?: string;
  password?: Buffer;
  /** Subject CN of a client certificate the TLS layer verified. */
  certificateCN?: string;
}

export type AuthFailure = 'bad_credentials' | 'bad_client_id' | 'not_authorized';

interface AclTemplate {
  publish: readonly string[];
  subscribe: readonly string[];
}

/** Fills {username} and {clientId}; null when a value would change the filter's shape. */
function fillAcl(t: AclTemplate, username: string, clientId: string): Acl | null {
  const safe = (v: string): boolean => v.length > 0 && !/[/+#\0]/.test(v);
  const fill = (f: string): string | null => {
    let ok = true;
    const out = f.replace(/\{(username|clientId)\}/g, (_, k: string) => {
      const v = k === 'username' ? username : clientId;
      if (!safe(v)) ok = false;
      return v;
    });
    return ok && isValidTopicFilter(out) ? out : null;
  };
  const pub = t.publish.map(fill);
  const sub = t.subscribe.map(fill);
  if (pub.includes(null) || sub.includes(null)) return null;
  return new Acl(pub as string[], sub as string[]);
}

// A real hash of a random password: unknown users cost the same time as known ones.
const DUMMY_HASH = `scrypt$${DEFAULT_N}$${DEFAULT_R}$${DEFAULT_P}$${randomBytes(16).toString('base64')}$${randomBytes(KEY_LEN).toString('base64')}`;

export class Authenticator {
  private readonly users = new Map<string, UserConfig>();

  constructor(
    users: readonly UserConfig[],
    private readonly anonymous?: AclTemplate,
  ) {
    // Later entries (e.g. from the users file) replace earlier ones of the same name.
    for (const u of users) this.users.set(u.username, u);
  }

  get userCount(): number {
    return this.users.size;
  }

  /**
   * Whether a session logged in as `identity` under `previous` is still granted the same by this
   * authenticator (after a reload): the same user entry (password hash and ACL) or, for an
   * anonymous session, the same anonymous ACL. A session that is not is disconnected.
   */
  stillGrants(previous: Authenticator, identity: Identity): boolean {
    const same = (a: unknown, b: unknown): boolean => a !== undefined && JSON.stringify(a) === JSON.stringify(b);
    if (identity.via === 'anonymous') return same(this.anonymous, previous.anonymous);
    return same(this.users.get(identity.user), previous.users.get(identity.user));
  }

  /** The password hash of a configured user (undefined for an unknown user or a certificate-only one). */
  passwordHashOf(username: string): string | undefined {
    return this.users.get(username)?.passwordHash;
  }

  /** True when `authenticate` would run a password check (scrypt) for these credentials. */
  needsPasswordCheck(c: Credentials): boolean {
    if (c.certificateCN !== undefined && (c.username === undefined || c.username === c.certificateCN)) return false;
    return c.username !== undefined;
  }

  /**
   * Who these credentials log in as, or why not. `verify` runs the password check; the
   * embedded broker passes its password thread (password-thread.ts) so that no check runs on
   * libuv's thread pool.
   */
  async authenticate(c: Credentials, verify: (password: Buffer, encoded: string) => Promise<boolean> = verifyPassword): Promise<Identity | AuthFailure> {
    if (c.certificateCN !== undefined && (c.username === undefined || c.username === c.certificateCN)) {
      const u = this.users.get(c.certificateCN);
      if (!u) return 'not_authorized';
      const acl = fillAcl(u, u.username, c.clientId);
      return acl ? { user: u.username, via: 'certificate', acl } : 'bad_client_id';
    }
    if (c.username === undefined) {
      if (!this.anonymous) return 'not_authorized';
      const acl = fillAcl(this.anonymous, 'anonymous', c.clientId);
      return acl ? { user: 'anonymous', via: 'anonymous', acl } : 'bad_client_id';
    }
    const u = this.users.get(c.username);
    const hash = u?.passwordHash;
    const ok = await verify(c.password ?? Buffer.alloc(0), hash ?? DUMMY_HASH);
    if (!u || !hash || !ok) return 'bad_credentials';
    const acl = fillAcl(u, u.username, c.clientId);
    return acl ? { user: u.username, via: 'password', acl } : 'bad_client_id';
  }
}
