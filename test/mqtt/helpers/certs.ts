/** A throwaway test PKI made with the openssl CLI: a CA, a server certificate, client certificates. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Files of a client certificate signed by the CA, by CN. */
  client(cn: string): { cert: string; key: string };
  /** A client certificate with the same CN, signed by another CA. */
  rogueClient(cn: string): { cert: string; key: string };
  /** The other CA's certificate (one that signed none of the servers). */
  rogueCaCert: string;
  /** Another server certificate signed by the CA, valid for `san` only (e.g. 'DNS:broker.example'). */
  server(cn: string, san: string): { cert: string; key: string };
  read(file: string): Buffer;
  remove(): void;
}

const openssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
};

function ca(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

function signed(dir: string, caName: string, name: string, cn: string, ext?: string): { cert: string; key: string } {
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  const args = [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${caName}.crt`,
    '-CAkey',
    `${caName}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
  ];
  if (ext) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  openssl(dir, args);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-pki-'));
  ca(dir, 'test-ca');
  ca(dir, 'rogue-ca');
  const server = signed(dir, 'test-ca', 'server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  let n = 0;
  return {
    dir,
    caCert: join(dir, 'test-ca.crt'),
    serverCert: server.cert,
    serverKey: server.key,
    client: (cn) => signed(dir, 'test-ca', `client${n++}`, cn, 'extendedKeyUsage=clientAuth\n'),
    rogueClient: (cn) => signed(dir, 'rogue-ca', `rogue${n++}`, cn, 'extendedKeyUsage=clientAuth\n'),
    rogueCaCert: join(dir, 'rogue-ca.crt'),
    server: (cn, san) => signed(dir, 'test-ca', `server${n++}`, cn, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`),
    read: (file) => readFileSync(file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
