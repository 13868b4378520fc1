/** Error classification of both clients, on the libraries' own error classes. */

import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, TimeoutError, UserError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { KafkaClientError } from '../../src/forwarder/client.js';
import { classifyKafkaError, refusedForNow } from '../../src/forwarder/kafkajs-client.js';
import { classifyPlatformaticError, refusedForNowPlatformatic } from '../../src/forwarder/platformatic-client.js';

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('classifyPlatformaticError', () => {
  it('SASL and authorization refusals are config errors, also inside aggregated errors', () => {
    expect(classifyPlatformaticError(new AuthenticationError('Cannot find a suitable SASL mechanism.'))).toBe('config');
    expect(classifyPlatformaticError(new ProtocolError('SASL_AUTHENTICATION_FAILED', 'Authentication failed'))).toBe('config');
    expect(
      classifyPlatformaticError(new MultipleErrors('produce failed 3 times.', [new NetworkError('x'), new ProtocolError('TOPIC_AUTHORIZATION_FAILED')])),
    ).toBe('config');
  });

  it('TLS verification failures are config errors', () => {
    for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT']) {
      expect(classifyPlatformaticError(new NetworkError('Connection failed', { cause: errno(code, 'tls says no') })), code).toBe('config');
    }
    expect(classifyPlatformaticError(new UserError('TLS handshake failed. Please verify the broker supports TLS.'))).toBe('config');
  });

  it('producer session errors are fatal, timeouts are timeouts, the rest transient', () => {
    expect(classifyPlatformaticError(new ProtocolError('OUT_OF_ORDER_SEQUENCE_NUMBER'))).toBe('fatal');
    expect(classifyPlatformaticError(new MultipleErrors('m', [new ProtocolError('INVALID_PRODUCER_EPOCH')]))).toBe('fatal');
    expect(classifyPlatformaticError(new TimeoutError('Request timed out'))).toBe('timeout');
    expect(classifyPlatformaticError(new NetworkError('Connection failed', { cause: errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1') }))).toBe(
      'transient',
    );
    expect(classifyPlatformaticError('a string')).toBe('transient');
  });

  it('a cluster that answers but cannot take writes is refused (not offline), also inside aggregated errors', () => {
    // A leader move is answered by a broker: refused, like too few in-sync replicas (issue 17).
    expect(classifyPlatformaticError(new ProtocolError('NOT_LEADER_OR_FOLLOWER'))).toBe('refused');
    expect(classifyPlatformaticError(new MultipleErrors('produce failed 3 times.', [new ProtocolError('NOT_ENOUGH_REPLICAS')]))).toBe('refused');
    expect(classifyPlatformaticError(new ProtocolError('NOT_ENOUGH_REPLICAS_AFTER_APPEND'))).toBe('refused');
    expect(
      classifyPlatformaticError(new MultipleErrors('m', [new ProtocolError('NOT_ENOUGH_REPLICAS'), new ProtocolError('OUT_OF_ORDER_SEQUENCE_NUMBER')])),
    ).toBe('fatal');
  });
});

describe('classifyKafkaError (kafkajs)', () => {
  it('SASL refusals and TLS verification failures are config errors, connection refusals transient', () => {
    expect(classifyKafkaError(Object.assign(new Error('SASL SCRAM SHA512 authentication failed'), { name: 'KafkaJSSASLAuthenticationError' }))).toBe('config');
    expect(classifyKafkaError(Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', code: 'ERR_TLS_CERT_ALTNAME_INVALID' }))).toBe(
      'config',
    );
    expect(
      classifyKafkaError(Object.assign(new Error('retries exceeded'), { originalError: Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }) })),
    ).toBe('config');
    expect(
      classifyKafkaError(
        Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' }),
      ),
    ).toBe('transient');
  });

  it('too few in-sync replicas, after kafkajs gave up retrying, is refused', () => {
    const protocol = (type: string) => Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type });
    const exhausted = (cause: Error) => Object.assign(new Error(cause.message), { name: 'KafkaJSNumberOfRetriesExceeded', cause, originalError: cause });
    expect(classifyKafkaError(exhausted(protocol('NOT_ENOUGH_REPLICAS')))).toBe('refused');
    expect(classifyKafkaError(exhausted(protocol('NOT_LEADER_FOR_PARTITION')))).toBe('refused');
    expect(classifyKafkaError(exhausted(protocol('UNKNOWN_PRODUCER_ID')))).toBe('fatal');
  });
});

describe('refused for now: the same messages again from the same producer (kafkajs-client.ts, platformatic-client.ts)', () => {
  it('kafkajs: cluster refusals, a partition the broker does not host yet, a topic without metadata; not timeouts, lost connections or broken sessions', () => {
    const protocol = (type: string) => Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type });
    const wrapped = (e: Error) => Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', originalError: e });
    expect(refusedForNow(wrapped(protocol('NOT_LEADER_OR_FOLLOWER')))).toBe(true);
    expect(refusedForNow(protocol('NOT_ENOUGH_REPLICAS'))).toBe(true);
    expect(refusedForNow(wrapped(protocol('UNKNOWN_TOPIC_OR_PARTITION')))).toBe(true);
    expect(refusedForNow(Object.assign(new Error('Producing to topic without metadata'), { name: 'KafkaJSMetadataNotLoaded' }))).toBe(true);
    expect(refusedForNow(Object.assign(new Error('Request Produce timed out'), { name: 'KafkaJSRequestTimeoutError' }))).toBe(false);
    expect(refusedForNow(Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' }))).toBe(false);
    expect(refusedForNow(wrapped(protocol('OUT_OF_ORDER_SEQUENCE_NUMBER')))).toBe(false);
    expect(refusedForNow(protocol('TOPIC_AUTHORIZATION_FAILED'))).toBe(false);
    // The wrapper's own timeout: kafkajs may still be sending.
    expect(refusedForNow(new KafkaClientError('timeout', 'send did not settle within 10 ms'))).toBe(false);
  });

  it('platformatic: the same, with the library\'s "Unknown topic" from a metadata answer', () => {
    expect(refusedForNowPlatformatic(new MultipleErrors('produce failed 3 times.', [new ProtocolError('NOT_LEADER_OR_FOLLOWER')]))).toBe(true);
    expect(refusedForNowPlatformatic(new ProtocolError('UNKNOWN_TOPIC_OR_PARTITION'))).toBe(true);
    expect(refusedForNowPlatformatic(new MultipleErrors('Producing messages failed.', [new UserError('Unknown topic t.vitals.fhir.')]))).toBe(true);
    expect(refusedForNowPlatformatic(new TimeoutError('Request timed out'))).toBe(false);
    expect(refusedForNowPlatformatic(new NetworkError('Connection failed', { cause: errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1') }))).toBe(false);
    expect(refusedForNowPlatformatic(new ProtocolError('INVALID_PRODUCER_EPOCH'))).toBe(false);
    expect(refusedForNowPlatformatic(new ProtocolError('TOPIC_AUTHORIZATION_FAILED'))).toBe(false);
    expect(refusedForNowPlatformatic(new KafkaClientError('timeout', 'send did not settle within 10 ms'))).toBe(false);
  });
});
