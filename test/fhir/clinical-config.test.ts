/**
 * kafka.fhir / kafka.hl7v2 settings: the example config's commented blocks are valid once
 * uncommented and reach the routing; identifier systems must be URIs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { forwarderSettings } from '../../src/forwarder/clients.js';
import { allTopics } from '../../src/forwarder/routing.js';

/** The commented block starting at `  # <name>:` in wardgate.example.yaml, uncommented, under kafka. */
function exampleBlock(name: string): string {
  const text = readFileSync(join(import.meta.dirname, '../../wardgate.example.yaml'), 'utf8').split('\n');
  const start = text.findIndex((l) => l.startsWith(`  # ${name}:`));
  expect(start).toBeGreaterThan(0);
  const block: string[] = [];
  for (let i = start; i < text.length && text[i]!.startsWith('  #') && (i === start || text[i]!.startsWith('  #  ')); i++) {
    block.push(`  ${text[i]!.slice(4)}`.replace(/\s+#\s.*$/, ''));
  }
  return block.join('\n');
}

describe('clinical format settings', () => {
  it('the example fhir and hl7v2 blocks are valid and reach the routing', () => {
    const c = parseConfigText(`kafka:\n${exampleBlock('fhir')}\n${exampleBlock('hl7v2')}\n`, 'example-clinical');
    expect(c.kafka.hl7v2).toEqual({
      topics: { alarm: 'ward.hl7.alarms', vital: 'ward.hl7.vitals' },
      sendingFacility: 'WARD-3',
      patientIdAuthority: 'HOSP',
      pointOfCare: 'ICU',
    });
    const r = forwarderSettings(c.kafka).routing;
    expect(r.hl7v2Topics).toEqual({ alarm: 'ward.hl7.alarms', vital: 'ward.hl7.vitals' });
    expect(r.hl7v2).toEqual({ sendingFacility: 'WARD-3', patientIdAuthority: 'HOSP', pointOfCare: 'ICU' });
    expect(r.fhir).toEqual({ patientSystem: 'urn:oid:1.2.3.4.5', deviceSystem: 'urn:wardgate:device-id' });
    expect(allTopics(r)).toEqual(expect.arrayContaining(['ward.fhir.alarms', 'ward.hl7.alarms', 'ward.hl7.vitals', 'ward.vitals']));
  });

  it('without the sections nothing changes', () => {
    const r = forwarderSettings(parseConfigText('kafka:\n  key: device\n', 't').kafka).routing;
    expect(r.hl7v2Topics).toBeUndefined();
    expect(r.fhir).toBeUndefined();
  });

  it.each([
    ['kafka:\n  fhir:\n    topics: {}\n    identifierSystems: { patient: "MRN numbers" }\n', 'must be a URI'],
    ['kafka:\n  hl7v2:\n    topics: { vital: v }\n    sendingFacilty: X\n', 'sendingFacilty'],
    ['kafka:\n  hl7v2:\n    sendingFacility: X\n', 'topics'],
  ])('refuses %j', (yaml, msg) => {
    expect(() => parseConfigText(yaml, 't')).toThrow(msg);
  });
});
