/** The allow-list: address, name pattern and advertised services, each alone and together; config refusals. */
import { describe, expect, it } from 'vitest';
import { AllowList } from '../../src/devices/ble/allow-list.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';

const list = (devices: unknown[]): AllowList => new AllowList(bleConfigSchema.parse({ devices }).devices);

describe('allow-list', () => {
  const a = list([
    { address: 'C0:FF:EE:00:00:01', bed: 'BED-01', patientId: 'P1' },
    { name: 'WG-OXI-[0-9]+', bed: 'BED-02' },
    { services: ['180D'], name: 'Polar H10 .*', bed: 'BED-03' },
    { services: ['0000180f-0000-1000-8000-00805f9b34fb', '1809'], bed: 'BED-04' },
  ]);
  it.each([
    [{ address: 'c0:ff:ee:00:00:01', serviceUuids: [] }, 'BED-01'],
    [{ address: 'C0:FF:EE:00:00:01', name: 'anything', serviceUuids: ['180d'] }, 'BED-01'],
    [{ address: '11:22:33:44:55:66', name: 'WG-OXI-12', serviceUuids: [] }, 'BED-02'],
    [{ address: '11:22:33:44:55:66', name: 'WG-OXI-12x', serviceUuids: [] }, undefined], // the pattern matches in full
    [{ address: '11:22:33:44:55:66', name: 'Polar H10 ABC', serviceUuids: ['180d'] }, 'BED-03'],
    [{ address: '11:22:33:44:55:66', name: 'Polar H10 ABC', serviceUuids: [] }, undefined], // every criterion must hold
    [{ address: '11:22:33:44:55:66', serviceUuids: ['180d'] }, undefined],
    [{ address: '11:22:33:44:55:66', serviceUuids: ['1809', '180f'] }, 'BED-04'],
    [{ address: '11:22:33:44:55:66', serviceUuids: ['1809'] }, undefined],
    [{ address: 'c0:ff:ee:00:00:02', name: "Someone's phone", serviceUuids: ['fe9f'] }, undefined],
  ])('%j -> %s', (adv, bed) => {
    expect(a.match(adv)?.bed).toBe(bed);
  });
  it('carries the patient id of the entry', () =>
    expect(a.match({ address: 'c0:ff:ee:00:00:01', serviceUuids: [] })).toEqual({ bed: 'BED-01', patientId: 'P1' }));
  it('refuses entries that match everything, bad addresses, bad patterns', () => {
    expect(() => list([{ bed: 'BED-01' }])).toThrow();
    expect(() => list([{ address: 'C0:FF:EE', bed: 'BED-01' }])).toThrow();
    expect(() => list([{ name: '([', bed: 'BED-01' }])).toThrow();
    expect(() => list([{ services: ['xyz'], bed: 'BED-01' }])).toThrow();
  });
  it('glucose meters: storedRecords since-first-contact by default, all when given, nothing else', () => {
    expect(bleConfigSchema.parse({ devices: [{ address: 'C0:FF:EE:00:00:09', bed: 'BED-09' }] }).devices[0]!.storedRecords).toBe('since-first-contact');
    const all = list([{ address: 'C0:FF:EE:00:00:09', bed: 'BED-09', storedRecords: 'all' }]);
    expect(all.match({ address: 'c0:ff:ee:00:00:09', serviceUuids: [] })).toEqual({ bed: 'BED-09', storedRecords: 'all' });
    expect(() => list([{ address: 'C0:FF:EE:00:00:09', bed: 'BED-09', storedRecords: 'everything' }])).toThrow();
  });
  it('defaults: 7 connections', () => expect(bleConfigSchema.parse({}).maxConnections).toBe(7));
});
