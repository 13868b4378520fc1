/**
 * forgetStrangers against tables shaped as noble 2.8's (the shapes the flood test through the
 * shipped command relies on): over MAX_STRANGERS, every address `keep` does not name goes from
 * each table, except a peripheral that is connecting or connected; at or under it, nothing goes.
 */
import { describe, expect, it } from 'vitest';
import type { NobleLike } from '../../src/devices/ble/noble.js';
import { forgetStrangers, MAX_STRANGERS } from '../../src/devices/ble/noble-memory.js';

const addr = (i: number): string => `4a:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
const uuid = (a: string): string => a.replace(/:/g, '');

function tables(strangers: number) {
  const mine = 'C0:FF:EE:01:00:01'; // on the allow-list (noble may report it in either case)
  const linked = addr(100_000 % 65_536); // a stranger that is connected (never forgotten)
  const all = [mine, linked, ...Array.from({ length: strangers }, (_, i) => addr(i))];
  const n = {
    _peripherals: new Map(all.map((a) => [uuid(a).toLowerCase(), { address: a.toLowerCase(), state: a === linked ? 'connected' : 'disconnected' }])),
    _discoveredPeripherals: new Set(all.map((a) => uuid(a).toLowerCase())),
    _services: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), {}])),
    _characteristics: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), {}])),
    _descriptors: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), {}])),
    _bindings: {
      _gap: { _discoveries: Object.fromEntries(all.map((a) => [a.toLowerCase(), { count: 1 }])) },
      _addresses: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), a.toLowerCase()])),
      _addresseTypes: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), 'random'])),
      _connectable: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), true])),
      scannable: Object.fromEntries(all.map((a) => [uuid(a).toLowerCase(), false])),
      _handles: { [uuid(linked).toLowerCase()]: 64 },
    },
  };
  return { n, mine: mine.toLowerCase(), linked };
}

describe('forgetStrangers', () => {
  it('over the bound: keeps the allow-listed address and the connected one, forgets every other in each table', () => {
    const { n, mine, linked } = tables(MAX_STRANGERS + 500);
    const gone = forgetStrangers(n as unknown as NobleLike, (a) => a === mine);
    const keptIds = [uuid(mine), uuid(linked)].sort();
    expect([...n._peripherals.keys()].sort()).toEqual(keptIds);
    expect([...n._discoveredPeripherals].sort()).toEqual(keptIds);
    for (const t of [n._services, n._characteristics, n._descriptors]) expect(Object.keys(t).sort()).toEqual(keptIds);
    // The GAP layer forgets the connected stranger's discovery too (it is only a cache of advertisements).
    expect(Object.keys(n._bindings._gap._discoveries)).toEqual([mine]);
    for (const t of [n._bindings._addresses, n._bindings._addresseTypes, n._bindings._connectable, n._bindings.scannable])
      expect(Object.keys(t).sort()).toEqual(keptIds);
    expect(gone).toBe(3 * (MAX_STRANGERS + 500) + 1);
  });

  it('at the bound: forgets nothing', () => {
    const { n, mine } = tables(MAX_STRANGERS - 2);
    expect(forgetStrangers(n as unknown as NobleLike, (a) => a === mine)).toBe(0);
    expect(n._peripherals.size).toBe(MAX_STRANGERS);
  });
});
