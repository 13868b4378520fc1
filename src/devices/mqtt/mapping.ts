/**
 * Topic rules: the first rule whose pattern matches a message's topic (and whose source
 * fits) decides device id, bed, metric and decoder. Captures from the topic fill the
 * templates. Compiled once at start.
 */
import type { PriorityClass, QualityFlag, ReadingInput } from '../../reading.js';
import type { RuleConfig } from './config.js';
import { type Decoded, type DecodeFailure, type Decoder, makeDecoder } from './decoders/index.js';
import { type Captures, compilePattern, compileTemplate, type Template, type TopicPattern } from './pattern.js';

export type MessageSource = 'embedded' | 'external';

export interface CompiledRule {
  readonly name: string;
  readonly source: RuleConfig['source'];
  readonly pattern: TopicPattern;
  readonly deviceId: Template;
  readonly bed: Template;
  readonly metric?: Template;
  readonly unit?: string;
  readonly priorityClass?: PriorityClass;
  readonly decode: Decoder;
}

export function compileRules(rules: readonly RuleConfig[]): CompiledRule[] {
  return rules.map((r, i) => {
    const out: CompiledRule = {
      name: r.name ?? `rule${i}`,
      source: r.source,
      pattern: compilePattern(r.topic),
      deviceId: compileTemplate(r.deviceId),
      bed: compileTemplate(r.bed),
      decode: makeDecoder(r.decoder),
      ...(r.metric !== undefined ? { metric: compileTemplate(r.metric) } : {}),
      ...(r.unit !== undefined ? { unit: r.unit } : {}),
      ...(r.class !== undefined ? { priorityClass: r.class } : {}),
    };
    return out;
  });
}

export interface RuleMatch {
  rule: CompiledRule;
  captures: Captures;
}

/** The first rule for `source` matching the topic (given as levels), or undefined. */
export function findRule(rules: readonly CompiledRule[], source: MessageSource, levels: readonly string[]): RuleMatch | undefined {
  for (const rule of rules) {
    if (rule.source !== 'any' && rule.source !== source) continue;
    const captures = rule.pattern.match(levels);
    if (captures) return { rule, captures };
  }
  return undefined;
}

export type MapFailure = DecodeFailure | 'bad_topic' | 'no_metric';

/**
 * Turns what a decoder found into ReadingInputs, filling in from the rule and the captures.
 * Fails when a template cannot be filled or a value has no metric.
 */
export function toInputs(m: RuleMatch, decoded: readonly Decoded[]): ReadingInput[] | MapFailure {
  const { rule, captures } = m;
  const deviceId = rule.deviceId.render(captures);
  const bed = rule.bed.render(captures);
  if (deviceId === undefined || bed === undefined) return 'bad_topic';
  let ruleMetric: string | undefined;
  if (rule.metric) {
    ruleMetric = rule.metric.render(captures);
    if (ruleMetric === undefined) return 'bad_topic';
  }
  const out: ReadingInput[] = [];
  for (const item of decoded) {
    const metric = item.metric ?? ruleMetric;
    if (metric === undefined) return 'no_metric';
    const input: ReadingInput = { deviceId, deviceKind: 'mqtt', bed, metric, value: item.value };
    const unit = item.unit ?? rule.unit;
    if (unit !== undefined) input.unit = unit;
    if (item.time !== undefined) input.deviceTime = item.time;
    if (rule.priorityClass !== undefined) input.priorityClass = rule.priorityClass;
    if (item.converted) input.quality = [CONVERTED];
    out.push(input);
  }
  return out;
}

const CONVERTED: QualityFlag = 'unit_converted';
