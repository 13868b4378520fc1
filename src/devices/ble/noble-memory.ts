/**
 * Bounds what noble keeps of the devices it hears. noble (@stoprocent/noble 2.8, HCI bindings)
 * keeps every advertiser it ever heard, in five places, for the life of the process: the
 * bindings' address tables, the GAP layer's discoveries, and a Peripheral object with its
 * service, characteristic and descriptor tables. A ward is full of phones and beacons whose
 * private addresses change every few minutes: advertisements of about 25,000 distinct addresses
 * ran the shipped gateway out of its 64 MiB heap (probed with the simulated controller; 100
 * phones rotating every 15 minutes make 9,600 a day).
 *
 * Every SWEEP_EVERY advertising reports, each table that holds more than MAX_STRANGERS entries
 * forgets the addresses `keep` does not name (the wearables on the allow-list), and never a
 * peripheral that is connecting or connected. A stranger heard again is simply new again.
 *
 * These are noble's private fields (as the transport hooks in noble.ts are); the tests that
 * flood strangers through the shipped command fail if an upgrade renames them.
 */
import type { EventEmitter } from 'node:events';
import type { NobleLike } from './noble.js';

export const MAX_STRANGERS = 1000;
const SWEEP_EVERY = 256;

type Table = Record<string, unknown>;

interface NobleInternals {
  _peripherals?: Map<string, { address?: string; state?: string }>;
  _discoveredPeripherals?: Set<string>;
  _services?: Table;
  _characteristics?: Table;
  _descriptors?: Table;
  _bindings?: {
    _hci?: EventEmitter;
    _gap?: { _discoveries?: Table };
    _addresses?: Record<string, string>;
    _addresseTypes?: Table;
    _connectable?: Table;
    scannable?: Table;
    _handles?: Table;
  };
}

const over = (t: Table | undefined): t is Table => t !== undefined && Object.keys(t).length > MAX_STRANGERS;

/** Forgets strangers in noble's tables now (when a table is over MAX_STRANGERS); returns how many entries went. */
export function forgetStrangers(n: NobleLike, keep: (address: string) => boolean): number {
  const i = n as unknown as NobleInternals;
  const b = i._bindings;
  let gone = 0;
  const discoveries = b?._gap?._discoveries;
  if (over(discoveries))
    for (const address of Object.keys(discoveries))
      if (!keep(address.toLowerCase())) {
        delete discoveries[address];
        gone++;
      }
  const peripherals = i._peripherals;
  if (peripherals && peripherals.size > MAX_STRANGERS)
    for (const [uuid, p] of peripherals) {
      if (keep((p.address ?? '').toLowerCase()) || (p.state !== undefined && p.state !== 'disconnected')) continue;
      peripherals.delete(uuid);
      i._discoveredPeripherals?.delete(uuid);
      for (const t of [i._services, i._characteristics, i._descriptors]) if (t) delete t[uuid];
      gone++;
    }
  const addresses = b?._addresses;
  if (b && over(addresses))
    for (const [uuid, address] of Object.entries(addresses)) {
      if (keep(String(address).toLowerCase()) || (b._handles && uuid in b._handles)) continue;
      for (const t of [addresses, b._addresseTypes, b._connectable, b.scannable]) if (t) delete t[uuid];
      gone++;
    }
  return gone;
}

/** Sweeps noble's tables every SWEEP_EVERY advertising reports from now on (see forgetStrangers). */
export function boundStrangers(n: NobleLike, keep: (address: string) => boolean): void {
  let reports = 0;
  const counted = (): void => {
    if (++reports % SWEEP_EVERY === 0) forgetStrangers(n, keep);
  };
  // The bindings make their HCI layer as the controller comes up: listen from the first state change on.
  const attach = (): void => {
    const hci = (n as unknown as NobleInternals)._bindings?._hci;
    if (!hci || typeof hci.on !== 'function') return;
    n.off('stateChange', attach);
    hci.on('leAdvertisingReport', counted);
    hci.on('leExtendedAdvertisingReport', counted);
  };
  n.on('stateChange', attach);
}
