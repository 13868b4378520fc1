/**
 * DEVICE_KINDS, QUALITY_FLAGS and the priority classes are positions on disk: their index
 * is in the sealed units' associated data and meta keys. They may only grow at the end.
 * The lists below are the shipped order; a moved, renamed or removed entry fails here.
 */
import { describe, expect, it } from 'vitest';
import { DEVICE_KINDS, PRIORITY_CLASSES, QUALITY_FLAGS } from '../../src/reading.js';

const SHIPPED = {
  DEVICE_KINDS: ['simulator', 'serial', 'ble', 'mqtt', 'gateway'],
  QUALITY_FLAGS: [
    'out_of_range',
    'simulated',
    'device_clock_unknown',
    'device_clock_skew',
    'unit_converted',
    'questionable',
    'value_nan',
    'value_nres',
    'value_positive_infinity',
    'value_negative_infinity',
    'value_reserved',
  ],
  PRIORITIES: ['alarm', 'vital', 'status', 'waveform'],
} as const;

describe('on-disk positions are append-only', () => {
  it.each([
    ['DEVICE_KINDS', DEVICE_KINDS, SHIPPED.DEVICE_KINDS],
    ['QUALITY_FLAGS', QUALITY_FLAGS, SHIPPED.QUALITY_FLAGS],
    ['PRIORITIES', PRIORITY_CLASSES, SHIPPED.PRIORITIES],
  ] as const)('%s keeps every shipped entry at its index', (_name, current, shipped) => {
    expect(current.length).toBeGreaterThanOrEqual(shipped.length);
    expect(current.slice(0, shipped.length)).toEqual(shipped);
    expect(new Set(current).size).toBe(current.length);
  });
});
