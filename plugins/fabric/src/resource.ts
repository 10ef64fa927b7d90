/**
 * One Fabric resource on its machine: what it is made of (its own folder, the secondary
 * resources it owns, its parents, its configuration files, its state database), the commands
 * that stop, start and check it, and its backup. A backup copies everything into the node's
 * workspace (rsync moves only what changed since the last run), proves the copy from the data
 * itself (ledger, MSP, config block), and only then stores it.
 */
import { PluginError, type ArtifactSink, type JsonObject, type Machine, type MachineProvider, type NodeHandle, type PluginLogger, type Workspaces } from '@chainvault/plugin-sdk';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeConfigBlock } from './config-block';
import { DEFAULT_RESOURCE_OPTIONS, isRole, resourcePath, timeoutOf, type FabricNodeConfig, type FabricRole, type ResourceOptions } from './config';
import { CouchDb, type CouchDatabaseRecord } from './couchdb';
import { inspectMsp, MspError } from './msp';
import { hostsToMap } from './template';
import { verifyBlockStore, type ChannelReport } from './verify-ledger';

export type FabricNode = NodeHandle<FabricNodeConfig>;

/** A piece of a resource: a folder or a file on its machine, stored under `stored`. */
export interface PartRecord extends JsonObject {
  /** The node config field it comes from (`path`, `mspDir`, `configFiles[0]`, ...). */
  key: string;
  what: string;
  kind: 'tree' | 'file';
  path: string;
  stored: string;
}

export interface ChannelRecord extends JsonObject {
  channel: string;
  blocks: number;
  transactions: number;
  lastBlock: number | null;
  ok: boolean;
  firstProblem: string | null;
}

export interface ResourceRecord extends JsonObject {
  nodeId: string;
  name: string;
  role: FabricRole;
  /** Where the resource's entries start in the backup (`` for a resource backup, `resources/<name>/` in a network one). */
  prefix: string;
  parts: PartRecord[];
  /** Host names each configuration file names, which a template must map. */
  hosts: { stored: string; hosts: string[] }[];
  stateDatabase: 'leveldb' | 'couchdb' | 'none' | null;
  couchdb: CouchDatabaseRecord[] | null;
  ledger: ChannelRecord[] | null;
  genesis: { channel: string; consensus: string; number: number } | null;
  certificates: { checked: number; expiring: { file: string; subject: string; notAfter: string; daysLeft: number }[] };
  stoppedForCopy: boolean;
  copiedAt: string;
}

/** Where a resource's ledger lies inside its folder. */
export function blockStoreOf(role: string, root: string): string | null {
  if (role === 'peer') return join(root, 'ledgersData', 'chains', 'chains');
  if (role === 'orderer') return join(root, 'chains');
  return null;
}

const STATE_LEVELDB = 'ledgersData/stateLeveldb';
/** The roles that run as a server (and can be stopped for a copy). */
const SERVERS: string[] = ['peer', 'orderer', 'ca'];

/** The folders and files of a resource, with where each is stored. */
export function partsOf(node: FabricNode, prefix: string): PartRecord[] {
  const role = node.role as FabricRole;
  const config = node.config;
  const main = resourcePath(role, config);
  const parts: PartRecord[] = [{ key: 'path', what: role === 'genesis' ? 'config block' : `${role} folder`, kind: role === 'genesis' ? 'file' : 'tree', path: main, stored: `${prefix}${role === 'genesis' ? `block/${basename(main)}` : 'resource'}` }];
  const inside = (path: string) => role !== 'genesis' && (path === main || path.startsWith(`${main}/`));
  const extra: [keyof FabricNodeConfig, string, 'tree' | 'file', string][] = [
    ['mspDir', 'own MSP', 'tree', 'owned/msp'],
    ['tlsDir', 'TLS material', 'tree', 'owned/tls'],
    ['walDir', 'etcdraft WAL', 'tree', 'owned/etcdraft-wal'],
    ['snapDir', 'etcdraft snapshots', 'tree', 'owned/etcdraft-snapshot'],
    ['caDatabase', 'CA database', 'file', 'owned/ca-database'],
    ['organizationMsp', 'organisation MSP (parent)', 'tree', 'parents/organization-msp'],
  ];
  for (const [key, what, kind, stored] of extra) {
    const path = config[key] as string | undefined;
    if (path && (key === 'organizationMsp' || !inside(path))) parts.push({ key, what, kind, path: path.replace(/\/+$/, ''), stored: `${prefix}${stored}${kind === 'file' ? `/${basename(path)}` : ''}` });
  }
  (config.configFiles ?? []).forEach((path, i) => parts.push({ key: `configFiles[${i}]`, what: `config file ${basename(path)}`, kind: 'file', path, stored: `${prefix}config/${i}-${basename(path)}` }));
  return parts;
}

/** Stopping, starting and checking a resource with its commands. */
export class ResourceControl {
  constructor(
    readonly node: FabricNode,
    readonly machine: Machine,
    private readonly log: PluginLogger,
  ) {}

  static async of(machines: MachineProvider, node: FabricNode, log: PluginLogger): Promise<ResourceControl> {
    return new ResourceControl(node, await machines.get(node.config.machine), log);
  }

  get label(): string {
    return `${this.node.role} ${this.node.name}`;
  }

  async stop(): Promise<void> {
    const command = this.node.config.stopCommand;
    if (!command) throw new PluginError('INVALID_CONFIG', `${this.label} has no stopCommand`);
    await this.machine.run(command, { timeoutMs: timeoutOf(this.node.config) });
    this.log.info(`stopped ${this.label} on ${this.machine.name}`);
  }

  async start(): Promise<void> {
    const command = this.node.config.startCommand;
    if (!command) throw new PluginError('INVALID_CONFIG', `${this.label} has no startCommand`);
    await this.machine.run(command, { timeoutMs: timeoutOf(this.node.config) });
    this.log.info(`started ${this.label} on ${this.machine.name}`);
  }

  /** Whether the check command passes now (true when there is none). */
  async passes(): Promise<boolean> {
    const command = this.node.config.checkCommand;
    if (!command) return true;
    try {
      await this.machine.run(command, { timeoutMs: 30_000, logged: false });
      return true;
    } catch (error) {
      if ((error as PluginError).code === 'ABORTED') throw error;
      return false;
    }
  }

  /** Waits until the check command passes, up to the node's checkTimeoutSeconds. */
  async awaitHealthy(signal: AbortSignal): Promise<void> {
    const command = this.node.config.checkCommand;
    if (!command) {
      this.log.warn(`${this.label} has no checkCommand: it was started, but nothing proves it is well`);
      return;
    }
    const seconds = this.node.config.checkTimeoutSeconds ?? 120;
    const deadline = Date.now() + seconds * 1000;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      if (await this.passes()) {
        this.log.info(`${this.label} passes its check`);
        return;
      }
      if (Date.now() > deadline) {
        const last = await this.machine.run(command, { timeoutMs: 30_000, okExitCodes: Array.from({ length: 256 }, (_, i) => i), logged: false }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
        throw new PluginError('TIMEOUT', `${this.label} did not pass its check within ${seconds} s (last: exit ${last.exitCode}${last.stderr ? `, ${last.stderr.trim().slice(0, 200)}` : ''})`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (signal.aborted) throw signal.reason;
    }
  }
}

export function couchDbOf(node: FabricNode, machine: Machine): CouchDb | null {
  const state = node.config.stateDatabase;
  return state?.kind === 'couchdb' ? new CouchDb(machine, state, `${node.role} ${node.name}`) : null;
}

export interface ResourceBackupContext {
  machines: MachineProvider;
  workspaces: Workspaces;
  artifacts: ArtifactSink;
  log: PluginLogger;
  signal: AbortSignal;
  /** Saves the ids of the nodes stopped now, for the cleanup. */
  markStopped(nodeId: string, stopped: boolean): Promise<void>;
}

/** Everything that can be found wrong before anything is stopped or copied. */
async function precheck(node: FabricNode, machine: Machine, options: ResourceOptions): Promise<CouchDatabaseRecord[] | null> {
  const label = `${node.role} ${node.name}`;
  const config = node.config;
  if (!isRole(node.role)) throw new PluginError('INVALID_CONFIG', `${node.name} has role "${node.role}"; a Fabric resource is one of peer, orderer, ca, msp, genesis`);
  const main = resourcePath(node.role, config);
  const found = await machine.stat(main);
  if (!found) throw new PluginError('INVALID_CONFIG', `${label}: ${main} does not exist on ${machine.name}`);
  if (node.role === 'genesis' ? found.type !== 'file' : found.type !== 'directory') throw new PluginError('INVALID_CONFIG', `${label}: ${main} is not a ${node.role === 'genesis' ? 'file' : 'folder'}`);
  const store = blockStoreOf(node.role, main);
  if (store && (await machine.stat(store))?.type !== 'directory') {
    throw new PluginError('INVALID_CONFIG', `${label}: ${main} holds no ledger (${store} does not exist): is path the ${node.role === 'peer' ? "peer's fileSystemPath" : "orderer's FileLedger.Location"}?`);
  }
  if (node.role === 'ca' && !(await machine.stat(join(main, 'ca-cert.pem'))) && !(await machine.stat(join(main, 'fabric-ca-server-config.yaml')))) {
    throw new PluginError('INVALID_CONFIG', `${label}: ${main} is not a CA home (it has neither ca-cert.pem nor fabric-ca-server-config.yaml)`);
  }
  for (const dir of [node.role === 'msp' ? main : undefined, config.mspDir].filter((d): d is string => Boolean(d))) {
    const signcerts = await machine.list(join(dir, 'signcerts')).catch(() => null);
    if (!signcerts || !signcerts.some((e) => e.type === 'file')) throw new PluginError('INVALID_CONFIG', `${label}: the MSP folder ${dir} has no signing certificate (signcerts is ${signcerts ? 'empty' : 'missing'})`);
  }
  for (const part of partsOf(node, '')) {
    if (part.key !== 'path' && !(await machine.stat(part.path))) throw new PluginError('INVALID_CONFIG', `${label}: its ${part.what} ${part.path} does not exist on ${machine.name}`);
  }
  if (options.consistency === 'stop' && SERVERS.includes(node.role) && (!config.stopCommand || !config.startCommand)) {
    throw new PluginError('INVALID_OPTIONS', `consistency "stop" stops ${label} for the copy: give it a stopCommand and a startCommand`);
  }
  const couch = couchDbOf(node, machine);
  if (couch && options.includeStateDatabase) return (await couch.databases()).map((name) => ({ name, docs: 0, stored: '' }));
  return null;
}

function certificateFacts(reports: { certificates: unknown[]; expiring: { file: string; subject: string; notAfter: string; daysLeft: number }[] }[]) {
  return {
    checked: reports.reduce((n, r) => n + r.certificates.length, 0),
    expiring: reports.flatMap((r) => r.expiring.map((e) => ({ file: e.file, subject: e.subject.replace(/\n/g, ', '), notAfter: e.notAfter, daysLeft: e.daysLeft }))),
  };
}

/** What a ledger check found, in the record's shape. */
export function channelRecords(channels: ChannelReport[]): ChannelRecord[] {
  return channels.map((c) => ({ channel: c.channel, blocks: c.blocks, transactions: c.transactions, lastBlock: c.lastBlock ?? null, ok: c.ok, firstProblem: c.firstProblem ?? null }));
}

/** Backs up one resource into the backup, under `prefix`. */
export async function backupResource(ctx: ResourceBackupContext, node: FabricNode, options: ResourceOptions = DEFAULT_RESOURCE_OPTIONS, prefix = ''): Promise<ResourceRecord> {
  const control = await ResourceControl.of(ctx.machines, node, ctx.log);
  const { machine } = control;
  const label = control.label;
  const databases = await precheck(node, machine, options);
  const role = node.role as FabricRole;
  const parts = partsOf(node, prefix);
  const main = parts[0];
  const staging = join(await ctx.workspaces.node(node.id), 'staging');
  const stagingOf = (part: PartRecord) => join(staging, part.stored.slice(prefix.length));
  const couch = couchDbOf(node, machine);
  const stateInside = role === 'peer' && node.config.stateDatabase?.kind !== 'couchdb';
  const stateDatabase: ResourceRecord['stateDatabase'] = role !== 'peer' ? null : !options.includeStateDatabase ? 'none' : couch ? 'couchdb' : 'leveldb';
  const stopForCopy = options.consistency === 'stop' && SERVERS.includes(role);
  const couchRecords: CouchDatabaseRecord[] = [];
  let stopped = false;
  let failure: unknown;
  try {
    if (stopForCopy) {
      await ctx.markStopped(node.id, true);
      stopped = true;
      await control.stop();
    }
    // 1. The state database before the ledger (state-first), so it is never ahead of it: the ledger
    // copied next holds every block the state has seen, and a restored peer replays the rest.
    if (couch && databases) {
      for (const { name } of databases) {
        const counted = { docs: 0 };
        const stored = `${prefix}couchdb/${encodeURIComponent(name)}.ndjson`;
        await ctx.artifacts.writeFile(stored, couch.dump(name, counted));
        couchRecords.push({ name, docs: counted.docs, stored });
      }
      ctx.log.info(`${label}: read ${couchRecords.length} CouchDB database(s), ${couchRecords.reduce((n, r) => n + r.docs, 0)} documents, before its ledger`);
    }
    const mainStaging = stagingOf(main);
    if (stateInside) {
      const stateStaging = join(mainStaging, STATE_LEVELDB);
      if (options.includeStateDatabase && (await machine.stat(join(main.path, STATE_LEVELDB)))) {
        await mkdir(dirname(stateStaging), { recursive: true });
        await machine.rsyncFrom(join(main.path, STATE_LEVELDB), stateStaging, { retries: 3 });
        ctx.log.info(`${label}: copied its state database (LevelDB) before its ledger`);
      } else {
        await rm(stateStaging, { recursive: true, force: true });
      }
    }
    // 2. The resource's own folder (its ledger), what it owns, its parents and its configuration files.
    for (const part of parts) {
      const local = stagingOf(part);
      if (part.kind === 'tree') {
        await mkdir(dirname(local), { recursive: true });
        await machine.rsyncFrom(part.path, local, { retries: 3, ...(part === main && stateInside ? { exclude: [`/${STATE_LEVELDB}`] } : {}) });
      } else {
        const content = await machine.readFile(part.path);
        await mkdir(dirname(local), { recursive: true });
        await writeFile(local, content);
      }
    }
  } catch (error) {
    failure = error;
  } finally {
    if (stopped && !ctx.signal.aborted) {
      try {
        await control.start();
        await control.awaitHealthy(ctx.signal);
        await ctx.markStopped(node.id, false);
      } catch (error) {
        failure ??= error;
      }
    }
  }
  if (failure) throw failure;

  // 3. Proof from the data itself, before anything is stored.
  let ledger: ChannelRecord[] | null = null;
  const store = blockStoreOf(role, stagingOf(main));
  if (store) {
    const report = await verifyBlockStore(store, `${label}: the copy of ${main.path} holds no ledger`);
    ledger = channelRecords(report.channels);
    for (const channel of report.channels) {
      ctx.log.info(`${label}: channel ${channel.channel}: ${channel.blocks} blocks (${channel.firstBlock ?? '-'}..${channel.lastBlock ?? '-'}), ${channel.transactions} transactions${channel.ok ? ', hash chain sound' : `, DAMAGED: ${channel.firstProblem}`}`);
    }
    const bad = report.channels.filter((c) => !c.ok);
    if (bad.length && !options.keepDamagedLedger) {
      throw new PluginError('INCONSISTENT', `${label}: the ledger at ${main.path} is damaged, so nothing was stored: ${bad.map((c) => c.firstProblem).join('; ')} (set keepDamagedLedger to store it anyway)`);
    }
    if (bad.length) ctx.log.warn(`${label}: storing a damaged ledger (keepDamagedLedger): its verify will fail`);
  }
  let genesis: ResourceRecord['genesis'] = null;
  if (role === 'genesis') {
    try {
      const block = decodeConfigBlock(await readFile(stagingOf(main)));
      genesis = { channel: block.config.channel, consensus: block.config.consensusType ?? 'unknown', number: block.number };
      ctx.log.info(`${label}: config block ${block.number} of channel ${block.config.channel} (${genesis.consensus})`);
    } catch (error) {
      throw new PluginError('INVALID_CONFIG', `${label}: ${main.path} is not a channel genesis or config block: ${(error as Error).message}`);
    }
  }
  const mspReports = [];
  for (const part of parts) {
    const isMsp = (role === 'msp' && part.key === 'path') || part.key === 'mspDir' || part.key === 'organizationMsp';
    if (!isMsp) continue;
    try {
      const report = await inspectMsp(stagingOf(part), { expiryWarningDays: options.expiryWarningDays, requireSigncerts: part.key !== 'organizationMsp' });
      if (!report.ok) ctx.log.warn(`${label}: the MSP ${part.path} has problems: ${report.problems.join('; ')}`);
      mspReports.push(report);
    } catch (error) {
      if (error instanceof MspError) throw new PluginError('INVALID_CONFIG', `${label}: ${error.message.replace(stagingOf(part), part.path)}`);
      throw error;
    }
  }
  if (role === 'ca') mspReports.push(await caCertificate(stagingOf(main), options.expiryWarningDays));
  const certificates = certificateFacts(mspReports);
  for (const e of certificates.expiring) ctx.log.warn(`${label}: certificate ${e.file} (${e.subject}) ${e.daysLeft < 0 ? 'expired' : 'expires'} ${e.notAfter} (${e.daysLeft} days)`);

  // 4. Stored: unchanged files are taken from the previous backup without being read again.
  const hosts: ResourceRecord['hosts'] = [];
  for (const part of parts) {
    if (part.kind === 'tree') await ctx.artifacts.addTree(stagingOf(part), { as: part.stored });
    else await ctx.artifacts.addFile(stagingOf(part), part.stored);
    if (part.key.startsWith('configFiles')) hosts.push({ stored: part.stored, hosts: hostsToMap(await readFile(stagingOf(part), 'utf8')) });
  }
  ctx.log.info(`${label}: stored ${parts.map((p) => p.what).join(', ')}${couchRecords.length ? ', its CouchDB databases' : ''}`);
  return {
    nodeId: node.id,
    name: node.name,
    role,
    prefix,
    parts,
    hosts,
    stateDatabase,
    couchdb: couch && options.includeStateDatabase ? couchRecords : null,
    ledger,
    genesis,
    certificates,
    stoppedForCopy: stopForCopy,
    copiedAt: new Date().toISOString(),
  };
}

/** A CA's own certificate (ca-cert.pem in its home), with its expiry. */
async function caCertificate(home: string, warningDays: number) {
  const pem = await readFile(join(home, 'ca-cert.pem'), 'utf8').catch(() => null);
  if (pem === null) return { certificates: [], expiring: [] };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    throw new PluginError('INVALID_CONFIG', `the CA certificate ca-cert.pem does not parse: ${(error as Error).message}`);
  }
  const daysLeft = Math.floor((new Date(cert.validTo).getTime() - Date.now()) / 86_400_000);
  return { certificates: [cert.subject], expiring: daysLeft < warningDays ? [{ file: 'ca-cert.pem', subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(cert.validTo).toISOString(), daysLeft }] : [] };
}
