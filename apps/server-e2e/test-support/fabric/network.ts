/**
 * A Hyperledger Fabric network laid out on disk for the tests, from the real data of
 * ../shared/fixtures/fabric: peers whose ledgers are the ledgerutil sample ledgers, orderers with
 * the same block store and etcdraft WAL and snapshot folders, a CA home, the sample MSP as the
 * organisation's and each resource's own MSP, the etcdraft genesis block; configuration files
 * (core.yaml, orderer.yaml, fabric-ca-server-config.yaml, a connection profile) naming host names
 * and ports as a real network's do. Each peer, orderer and CA is served by fabric-standin.js.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort } from '@chainvault/testing';

export const FABRIC_FIXTURES = resolve(__dirname, '../../../../../shared/fixtures/fabric');
export const STANDIN = join(__dirname, 'fabric-standin.js');
export const fixtureLedger = (name: string) => join(FABRIC_FIXTURES, 'ledgerutil', name, 'ledgersData');
export const FIXTURE_MSP = join(FABRIC_FIXTURES, 'msp', 'sampleconfig-msp');
export const GENESIS_BLOCK = join(FABRIC_FIXTURES, 'config-blocks', 'etcdraftgenesis.block');

export interface ResourceLayout {
  name: string;
  role: 'peer' | 'orderer' | 'ca' | 'msp' | 'genesis';
  host: string;
  /** The ports the configuration names: [listen, operations]. */
  ports: number[];
  path: string;
  configFiles: string[];
  mspDir?: string;
  organizationMsp?: string;
  walDir?: string;
  snapDir?: string;
  pidFile?: string;
  /** The node config chainvault gets (without its machine). */
  config: Record<string, unknown>;
}

/** Copies a fixture tree and makes it writable (the fixtures are read-only). */
export async function copyWritable(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
  await new Promise<void>((ok, fail) => execFile('chmod', ['-R', 'u+w', to], (e) => (e ? fail(e) : ok())));
}

const commands = (role: string, config: string, pidFile: string, operations: number) => ({
  startCommand: [process.execPath, STANDIN, 'start', '--role', role, '--config', config, '--pid-file', pidFile],
  stopCommand: [process.execPath, STANDIN, 'stop', '--pid-file', pidFile],
  checkCommand: [process.execPath, STANDIN, 'check', '--url', `http://127.0.0.1:${operations}/healthz`],
  checkTimeoutSeconds: 30,
  commandTimeoutSeconds: 60,
});

export interface PeerOptions {
  org: string;
  ledger?: string;
  couch?: { url: string; username: string; password: string; host: string; port: number };
  gossipBootstrap?: string;
}

/** A peer: fileSystemPath with a fixture ledger, its own MSP, core.yaml, and a connection profile. */
export async function layPeer(root: string, name: string, options: PeerOptions): Promise<ResourceLayout> {
  const [listen, operations] = [await freePort(), await freePort()];
  const host = `${name}.${options.org}.example.com`;
  const home = join(root, name);
  const path = join(home, 'production');
  await mkdir(path, { recursive: true });
  await copyWritable(options.ledger ?? fixtureLedger('sample_prod'), join(path, 'ledgersData'));
  const mspDir = join(home, 'msp');
  await copyWritable(FIXTURE_MSP, mspDir);
  const core = join(home, 'config', 'core.yaml');
  const couch = options.couch;
  await mkdir(join(home, 'config'), { recursive: true });
  await writeFile(
    core,
    [
      '# core.yaml (the parts a peer of this network sets)',
      'peer:',
      `  id: ${host}`,
      `  networkId: dev`,
      `  listenAddress: 0.0.0.0:${listen}`,
      `  address: ${host}:${listen}`,
      `  chaincodeListenAddress: 0.0.0.0:${listen + 1}`,
      '  gossip:',
      `    bootstrap: ${options.gossipBootstrap ?? `${host}:${listen}`}`,
      `    externalEndpoint: ${host}:${listen}`,
      `  fileSystemPath: ${path}`,
      `  mspConfigPath: ${mspDir}`,
      `  localMspId: ${options.org === 'org1' ? 'Org1MSP' : 'SampleOrg'}`,
      '  tls:',
      '    enabled: false',
      'ledger:',
      '  state:',
      `    stateDatabase: ${couch ? 'CouchDB' : 'goleveldb'}`,
      '    couchDBConfig:',
      `      couchDBAddress: ${couch ? `couchdb.${options.org}.example.com:${couch.port}` : '127.0.0.1:5984'}`,
      `      username: ${couch?.username ?? ''}`,
      '      maxRetries: 3',
      'operations:',
      `  listenAddress: 127.0.0.1:${operations}`,
      'metrics:',
      '  provider: prometheus',
      '',
    ].join('\n'),
  );
  const pidFile = join(home, 'peer.pid');
  return {
    name,
    role: 'peer',
    host,
    ports: [listen, operations],
    path,
    configFiles: [core],
    mspDir,
    pidFile,
    config: {
      path,
      configFiles: [core],
      mspDir,
      ...(couch ? { stateDatabase: { kind: 'couchdb', url: couch.url, username: couch.username, password: couch.password } } : {}),
      ...commands('peer', core, pidFile, operations),
    },
  };
}

/** An etcdraft orderer: the block store (the same channel as the peers), WAL and snapshots outside it, orderer.yaml. */
export async function layOrderer(root: string, name: string, genesis: string, others: string[] = []): Promise<ResourceLayout> {
  const [listen, operations] = [await freePort(), await freePort()];
  const host = `${name}.example.com`;
  const home = join(root, name);
  const path = join(home, 'production', 'orderer');
  await mkdir(join(path, 'chains'), { recursive: true });
  await copyWritable(join(fixtureLedger('sample_prod'), 'chains', 'chains', 'mychannel'), join(path, 'chains', 'mychannel'));
  const walDir = join(home, 'etcdraft', 'wal');
  const snapDir = join(home, 'etcdraft', 'snapshot');
  await mkdir(join(walDir, 'mychannel'), { recursive: true });
  await mkdir(join(snapDir, 'mychannel'), { recursive: true });
  await writeFile(join(walDir, 'mychannel', '0000000000000000-0000000000000000.wal'), Buffer.alloc(4096, name.length));
  await writeFile(join(snapDir, 'mychannel', '0000000000000002-0000000000000007.snap'), `snapshot of ${name}\n`);
  const mspDir = join(home, 'msp');
  await copyWritable(FIXTURE_MSP, mspDir);
  const config = join(home, 'config', 'orderer.yaml');
  await mkdir(join(home, 'config'), { recursive: true });
  await writeFile(
    config,
    [
      '# orderer.yaml',
      'General:',
      '  ListenAddress: 127.0.0.1',
      `  ListenPort: ${listen}`,
      '  BootstrapMethod: file',
      `  BootstrapFile: ${genesis}`,
      `  LocalMSPDir: ${mspDir}`,
      '  LocalMSPID: OrdererMSP',
      '  Cluster:',
      `    ListenAddress: 127.0.0.1`,
      `    ListenPort: ${listen}`,
      'FileLedger:',
      `  Location: ${path}`,
      'Consensus:',
      `  WALDir: ${walDir}`,
      `  SnapDir: ${snapDir}`,
      'Operations:',
      `  ListenAddress: 127.0.0.1:${operations}`,
      '# the other consenters, as the channel configuration names them',
      ...others.map((o) => `#   - ${o}`),
      `# this one: ${host}:${listen}`,
      '',
    ].join('\n'),
  );
  const pidFile = join(home, 'orderer.pid');
  return {
    name,
    role: 'orderer',
    host,
    ports: [listen, operations],
    path,
    configFiles: [config],
    mspDir,
    walDir,
    snapDir,
    pidFile,
    config: { path, configFiles: [config], mspDir, walDir, snapDir, ...commands('orderer', config, pidFile, operations) },
  };
}

/** A CA's home: its config, its certificate (the sample MSP's CA), its key, its SQLite database. */
export async function layCa(root: string, name: string): Promise<ResourceLayout> {
  const [listen, operations] = [await freePort(), await freePort()];
  const host = `${name}.org1.example.com`;
  const path = join(root, name, 'fabric-ca-server');
  await mkdir(join(path, 'msp', 'keystore'), { recursive: true });
  await writeFile(join(path, 'ca-cert.pem'), await readFile(join(FIXTURE_MSP, 'cacerts', 'cacert.pem')));
  await writeFile(join(path, 'msp', 'keystore', 'ca-key_sk'), `-----BEGIN PRIVATE KEY-----\n${Buffer.from(name.repeat(20)).toString('base64')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  await writeFile(join(path, 'fabric-ca-server.db'), Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080, 7)]));
  const config = join(path, 'fabric-ca-server-config.yaml');
  await writeFile(
    config,
    [
      '# fabric-ca-server-config.yaml',
      `port: ${listen}`,
      'tls:',
      '  enabled: false',
      'ca:',
      `  name: ${name}`,
      '  certfile: ca-cert.pem',
      'db:',
      '  type: sqlite3',
      '  datasource: fabric-ca-server.db',
      'csr:',
      `  cn: ${name}`,
      '  hosts:',
      `    - ${host}`,
      '    - localhost',
      'operations:',
      `  listenAddress: 127.0.0.1:${operations}`,
      '',
    ].join('\n'),
  );
  const pidFile = join(root, name, 'ca.pid');
  return { name, role: 'ca', host, ports: [listen, operations], path, configFiles: [config], pidFile, config: { path, configFiles: [config], ...commands('ca', config, pidFile, operations) } };
}

/** The organisation's MSP folder (a copy of the sample MSP). */
export async function layMsp(root: string, name: string): Promise<ResourceLayout> {
  const path = join(root, name);
  await copyWritable(FIXTURE_MSP, path);
  return { name, role: 'msp', host: '', ports: [], path, configFiles: [], config: { path } };
}

export async function layGenesis(root: string, name: string): Promise<ResourceLayout> {
  const path = join(root, name, 'genesis.block');
  await mkdir(join(root, name), { recursive: true });
  await writeFile(path, await readFile(GENESIS_BLOCK));
  return { name, role: 'genesis', host: '', ports: [], path, configFiles: [], config: { path } };
}

/** A connection profile naming every peer and orderer, kept with a peer's configuration. */
export async function writeConnectionProfile(file: string, resources: ResourceLayout[]): Promise<void> {
  const lines = ['name: test-network', 'version: 1.0.0', 'peers:'];
  for (const r of resources.filter((x) => x.role === 'peer')) lines.push(`  ${r.host}:`, `    url: grpc://${r.host}:${r.ports[0]}`);
  lines.push('orderers:');
  for (const r of resources.filter((x) => x.role === 'orderer')) lines.push(`  ${r.host}:`, `    url: grpc://${r.host}:${r.ports[0]}`);
  lines.push('certificateAuthorities:');
  for (const r of resources.filter((x) => x.role === 'ca')) lines.push(`  ${r.host}:`, `    url: http://${r.host}:${r.ports[0]}`);
  await writeFile(file, `${lines.join('\n')}\n`);
}
