/**
 * What `config check` can say about listening addresses beyond the schema: each host must
 * resolve, and to an address of this machine (or a wildcard), or the gateway could not bind it.
 * A port already in use is not checked: it is a runtime condition (the start exits 1).
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import type { Config } from './schema.js';

/** The listeners a configuration asks for: setting path and host. */
export function listeners(c: Config): { path: string; host: string; port: number }[] {
  const out: { path: string; host: string; port: number }[] = [];
  if (c.metrics.port !== undefined) out.push({ path: 'metrics.host', host: c.metrics.host, port: c.metrics.port });
  const e = c.devices.mqtt?.enabled === false ? undefined : c.devices.mqtt?.embedded;
  for (const kind of ['tcp', 'tls', 'ws'] as const) {
    const l = e?.[kind];
    if (l) out.push({ path: `devices.mqtt.embedded.${kind}.host`, host: l.host, port: l.port });
  }
  return out;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/** Problems with the listening hosts, as `path: why` lines (empty when all can be bound as far as can be told). */
export async function checkListenAddresses(c: Config): Promise<string[]> {
  const local = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) local.add(a.address.replace(/%.*$/, ''));
  const problems: string[] = [];
  for (const l of listeners(c)) {
    let addrs: string[];
    try {
      addrs = (await lookup(l.host, { all: true })).map((a) => a.address);
    } catch (e) {
      problems.push(`${l.path}: ${JSON.stringify(l.host)} does not resolve (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    const foreign = addrs.filter((a) => !WILDCARDS.has(a) && !local.has(a));
    if (addrs.length > 0 && foreign.length === addrs.length) {
      problems.push(
        `${l.path}: ${JSON.stringify(l.host)} (${foreign.join(', ')}) is not an address of this machine; use one of ${[...local].join(', ')} or 0.0.0.0`,
      );
    }
  }
  return problems;
}
