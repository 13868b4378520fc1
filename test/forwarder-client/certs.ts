/**
 * Test certificates made with the openssl CLI: a CA, server certificates it signs (PEM and a
 * PKCS12 keystore for the Kafka broker), a client certificate, and an unrelated "rogue" CA.
 * Everything lives in the given folder and is valid for two days.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../helpers/kafka.js';

export const STORE_PASSWORD = 'wardgate-test-store';

export interface Ca {
  cert: string;
  key: string;
}

export interface Leaf {
  cert: string;
  key: string;
  /** PKCS12 keystore (key + cert + CA chain), password STORE_PASSWORD. */
  p12: string;
}

const openssl = (args: string[]) => run('openssl', args, { timeoutMs: 30_000 });

export async function makeCa(dir: string, name: string): Promise<Ca> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** A certificate signed by `ca` with the given subjectAltName (e.g. "IP:127.0.0.1,DNS:localhost"). */
export async function makeLeaf(dir: string, name: string, ca: Ca, san: string, usage: 'serverAuth' | 'clientAuth'): Promise<Leaf> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  const p12 = join(dir, `${name}.p12`);
  await writeFile(
    ext,
    [`subjectAltName=${san}`, 'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${usage}`, ''].join('\n'),
  );
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  await openssl(['pkcs12', '-export', '-in', cert, '-inkey', key, '-certfile', ca.cert, '-name', name, '-out', p12, '-passout', `pass:${STORE_PASSWORD}`]);
  return { cert, key, p12 };
}
