import { describe, expect, it } from 'vitest';
import { compilePattern, compileTemplate, PatternError } from '../../src/devices/mqtt/pattern.js';
import { filterCovers, isValidTopicFilter, isValidTopicName, topicMatches } from '../../src/devices/mqtt/topics.js';

describe('topic names and filters', () => {
  it.each([
    ['ward/12/ox/spo2', true],
    ['a', true],
    ['a//b', true],
    ['', false],
    ['ward/+/x', false],
    ['ward/#', false],
    ['a\0b', false],
  ])('name %j valid: %s', (t, ok) => expect(isValidTopicName(t)).toBe(ok));

  it.each([
    ['ward/+/ox/#', true],
    ['#', true],
    ['+', true],
    ['+/+', true],
    ['ward/#/x', false],
    ['ward/a#', false],
    ['ward/a+/b', false],
    ['', false],
  ])('filter %j valid: %s', (f, ok) => expect(isValidTopicFilter(f)).toBe(ok));

  it.each([
    ['ward/+/ox/spo2', 'ward/12/ox/spo2', true],
    ['ward/#', 'ward', true],
    ['ward/#', 'ward/1/2/3', true],
    ['ward/+', 'ward/1/2', false],
    ['ward/+', 'ward', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/b', 'a/b/', false],
    ['a/+/', 'a/b/', true],
  ])('%j matches %j: %s', (f, t, ok) => expect(topicMatches(f, t)).toBe(ok));

  it.each([
    ['ward/12/#', 'ward/12/ox/spo2', true],
    ['ward/12/#', 'ward/12/#', true],
    ['ward/12/#', 'ward/12', true],
    ['ward/+/alarms', 'ward/12/alarms', true],
    ['ward/+/alarms', 'ward/+/alarms', true],
    ['ward/12/#', 'ward/+/ox', false],
    ['ward/+/alarms', 'ward/#', false],
    ['ward/12/alarms', 'ward/12/alarms/x', false],
    ['ward/+', 'ward/+/x', false],
    ['#', '$SYS/broker', false],
    ['#', '+/x', true],
    ['wardgate/alarms/+', 'wardgate/alarms/#', false],
  ])('%j covers %j: %s', (outer, inner, ok) => expect(filterCovers(outer, inner)).toBe(ok));
});

describe('topic patterns with captures', () => {
  it.each([
    ['ward/{bed}/{device}/spo2', 'ward/12/ox-1/spo2', { bed: '12', device: 'ox-1' }],
    ['ward/{bed}/+/{metric}', 'ward/3/x/heart_rate', { bed: '3', metric: 'heart_rate' }],
    ['hub/{bed}/{path#}', 'hub/4/a/b/c', { bed: '4', path: 'a/b/c' }],
    ['hub/{bed}/{path#}', 'hub/4', { bed: '4', path: '' }],
    ['hub/{bed}/#', 'hub/4/x', { bed: '4' }],
    ['plain/topic', 'plain/topic', {}],
  ])('%j on %j captures %j', (p, t, caps) => expect(compilePattern(p).match(t.split('/'))).toEqual(caps));

  it.each([
    ['ward/{bed}/{device}/spo2', 'ward/12/ox-1/hr'],
    ['ward/{bed}/{device}/spo2', 'ward/12/spo2'],
    ['ward/{bed}', 'ward/12/extra'],
    ['{site}/{bed}', '$SYS/x'],
  ])('%j does not match %j', (p, t) => expect(compilePattern(p).match(t.split('/'))).toBeNull());

  it('exposes the equivalent MQTT filter', () => {
    expect(compilePattern('ward/{bed}/+/{rest#}').filter).toBe('ward/+/+/#');
  });

  it.each([
    ['ward/{bed}/{bed}', /appears twice/],
    ['ward/{path#}/x', /must be the last level/],
    ['ward/#/x', /must be the last level/],
    ['ward/a{bed}', /mixes text/],
    ['ward/{1bed}', /capture name/],
    ['', /empty/],
  ])('refuses %j', (p, msg) => expect(() => compilePattern(p)).toThrow(msg));

  it('renders templates, refusing empty or missing captures', () => {
    const t = compileTemplate('pump-{device}@{bed}');
    expect(t.render({ device: 'p7', bed: '12' })).toBe('pump-p7@12');
    expect(t.render({ device: '', bed: '12' })).toBeUndefined();
    expect(t.render({ bed: '12' })).toBeUndefined();
    expect(compileTemplate('fixed').render({})).toBe('fixed');
    expect(() => compileTemplate('a{b')).toThrow(PatternError);
  });
});
