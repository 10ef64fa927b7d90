/**
 * Restoring a Fabric resource to a chosen version (seed 004): recreated when it does not exist,
 * or replaced, the current one stopped and kept aside under a dated name; then started and
 * checked. A restore set brings a whole network back in order (CAs and MSPs, then genesis
 * blocks and orderers, then peers), and a template restores it as a new network elsewhere.
 */
import { PluginError, type CleanupContext, type JsonObject, type Machine, type RestoreContext, type RestoreOutcome, type RestorePhase, type RestoreTarget, type RestoreTargetCheck } from '@chainvault/plugin-sdk';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_PATHS, isRole, type FabricNodeConfig, type FabricRole, type FabricRestoreOptions, type RestoreTemplate } from './config';
import { linesOf } from './couchdb';
import { ResourceControl, couchDbOf, type FabricNode, type PartRecord, type ResourceRecord } from './resource';
import { checkTemplateCoversHosts, mapPath, rewriteConfig } from './template';

export interface FabricMetadata extends JsonObject {
  resources: ResourceRecord[];
  /** Network backups: the order the resources come back in, by name. */
  restoreOrder: JsonObject[] | null;
}

export const PHASES: { name: string; roles: string[] }[] = [
  { name: 'CAs and MSPs', roles: ['ca', 'msp'] },
  { name: 'genesis blocks and orderers', roles: ['genesis', 'orderer'] },
  { name: 'peers', roles: ['peer'] },
];

export function phaseOfRole(role: string): number {
  const index = PHASES.findIndex((p) => p.roles.includes(role));
  return index < 0 ? PHASES.length - 1 : index;
}

/** Restore sets: CAs and MSPs, then genesis blocks and orderers, then peers. */
export function restorePhases(targets: RestoreTarget<FabricNodeConfig>[]): RestorePhase[] {
  return PHASES.map((phase, i) => ({ name: phase.name, nodeIds: targets.filter((t) => phaseOfRole(t.node?.role ?? 'peer') === i).map((t) => t.node!.id) })).filter((p) => p.nodeIds.length > 0);
}

/** Every host the backup's configuration files name must be mapped by the template. */
export function checkTemplate(metadata: FabricMetadata, template: RestoreTemplate | undefined): void {
  if (!template) return;
  checkTemplateCoversHosts(template, (metadata.resources ?? []).flatMap((r) => r.hosts.map((h) => ({ place: `${r.name}'s ${h.stored.slice(r.prefix.length + 'config/'.length).replace(/^\d+-/, '')}`, hosts: h.hosts }))));
}

/** The backed-up resource a target takes: by the template's map, by name, or by its place among the targets of its role. */
export function sourceRecord(metadata: FabricMetadata, target: RestoreTarget<FabricNodeConfig>, allTargets: RestoreTarget<FabricNodeConfig>[] | undefined, template: RestoreTemplate | undefined): ResourceRecord {
  const resources = metadata.resources ?? [];
  const name = target.node?.name;
  const mapped = name ? Object.entries(template?.resources ?? {}).find(([, to]) => to === name)?.[0] : undefined;
  if (mapped) {
    const found = resources.find((r) => r.name === mapped);
    if (!found) throw new PluginError('INVALID_TARGET', `the template maps "${mapped}" to ${name}, but the backup holds no resource "${mapped}" (it holds ${resources.map((r) => r.name).join(', ')})`);
    return found;
  }
  if (resources.length === 1) return resources[0];
  const same = name ? resources.find((r) => r.name === name) : undefined;
  if (same) return same;
  const role = target.node?.role;
  const ofRole = resources.filter((r) => r.role === role).sort((a, b) => a.name.localeCompare(b.name));
  const peers = (allTargets ?? [target]).filter((t) => t.node?.role === role).sort((a, b) => (a.node?.name ?? '').localeCompare(b.node?.name ?? ''));
  const index = peers.findIndex((t) => t.node?.id === target.node?.id);
  const source = ofRole[index];
  if (!source) throw new PluginError('INVALID_TARGET', `the backup has no ${role ?? 'resource'} for target ${name ?? 'ad hoc'}: it holds ${resources.map((r) => `${r.role} ${r.name}`).join(', ')}; map it in template.resources`);
  return source;
}

/** Where a part goes on the target: the target's own config field, else the source path rewritten by the template. */
function destinationOf(part: PartRecord, target: FabricNodeConfig, role: string, template: RestoreTemplate | undefined): string {
  if (part.key === 'path') {
    if (target.path) return target.path.replace(/\/+$/, '');
    const fallback = DEFAULT_PATHS[role as FabricRole];
    return template || !fallback ? mapPath(part.path, template) : fallback;
  }
  const files = /^configFiles\[(\d+)\]$/.exec(part.key);
  const own = files ? target.configFiles?.[Number(files[1])] : (target[part.key as keyof FabricNodeConfig] as string | undefined);
  return (own ?? mapPath(part.path, template)).replace(/\/+$/, '');
}

export function checkRestoreTarget(check: RestoreTargetCheck<FabricNodeConfig, FabricRestoreOptions, FabricMetadata>): void {
  const target = check.target;
  if (target.node && !isRole(target.node.role)) throw new PluginError('INVALID_TARGET', `${target.node.name} has role "${target.node.role}", not a Fabric resource`);
  if (check.backup) {
    const metadata = check.backup.metadata;
    checkTemplate(metadata, check.options.template);
    // Which resource a target of a set takes is known once every target is (at restore time); here,
    // a mapped or same-named one must exist and be of its role, and any target needs its role in the backup.
    const resources = metadata.resources ?? [];
    const name = target.node?.name;
    const mapped = name ? Object.entries(check.options.template?.resources ?? {}).find(([, to]) => to === name)?.[0] : undefined;
    const source = mapped !== undefined ? sourceRecord(metadata, target, [target], check.options.template) : resources.length === 1 ? resources[0] : resources.find((r) => r.name === name);
    const role = target.node?.role;
    if (source && role && role !== source.role) throw new PluginError('INVALID_TARGET', `${name} is a ${role}; the backup's ${source.name} is a ${source.role}`);
    if (!source && role && !resources.some((r) => r.role === role)) throw new PluginError('INVALID_TARGET', `the backup holds no ${role}: it holds ${resources.map((r) => `${r.role} ${r.name}`).join(', ')}`);
  }
}

/** One folder or file put in place: staged at `incoming`, the current one (if any) moved to `aside`. */
interface Move extends JsonObject {
  incoming: string;
  destination: string;
  aside: string;
}

interface RestoreState extends JsonObject {
  targetId: string;
  stopped: boolean;
  moves: Move[];
  /** Every part is staged on the machine: a crash from here on is carried through. */
  staged: boolean;
  /** The moves have begun: undoing them is needed. */
  placing: boolean;
  done: boolean;
}

const present = (path: string) => `{ [ -e "${path}" ] || [ -L "${path}" ]; }`;

/**
 * Puts staged parts in place in one command on the machine (each command is a login there):
 * the current one moved aside, the staged one moved in. A move whose staged copy is gone was
 * done already, so the script can run again after a crash. Prints the destinations set aside.
 */
async function placeAll(machine: Machine, moves: Move[]): Promise<string[]> {
  const script = `set -e
while [ $# -gt 0 ]; do
  inc=$1; dest=$2; aside=$3; shift 3
  ${present('$inc')} || continue
  if ${present('$dest')}; then mv -- "$dest" "$aside"; echo "$dest"; fi
  mkdir -p -- "$(dirname -- "$dest")"
  mv -- "$inc" "$dest"
done`;
  const result = await machine.run(['sh', '-c', script, 'place', ...moves.flatMap((m) => [m.incoming, m.destination, m.aside])]);
  return result.stdout.split('\n').filter(Boolean);
}

/**
 * Undoes {@link placeAll}: what was placed goes to a `.failed-restore-` name, what was set aside
 * comes back, staged copies are removed. Safe to run at any point and more than once.
 */
async function putBack(machine: Machine, moves: Move[], stamp: string, placing: boolean): Promise<string[]> {
  if (!placing) {
    // Nothing was moved yet: only the staged copies go.
    if (moves.length) await machine.run(['rm', '-rf', '--', ...moves.map((m) => m.incoming)], { logged: false });
    return [];
  }
  const script = `set -e
stamp=$1; shift
while [ $# -gt 0 ]; do
  inc=$1; dest=$2; aside=$3; shift 3
  if ${present('$aside')}; then
    if ${present('$dest')}; then mv -- "$dest" "$dest.failed-restore-$stamp"; fi
    mv -- "$aside" "$dest"; echo "$dest"
  elif ! ${present('$inc')} && ${present('$dest')}; then
    mv -- "$dest" "$dest.failed-restore-$stamp"
  fi
  rm -rf -- "$inc"
done`;
  const result = await machine.run(['sh', '-c', script, 'put-back', stamp, ...[...moves].reverse().flatMap((m) => [m.incoming, m.destination, m.aside])]);
  return result.stdout.split('\n').filter(Boolean);
}

const stampOf = () => new Date().toISOString().replace(/[:.]/g, '-');

/**
 * The template the configuration files are rewritten with: the given one, plus every path of a
 * restored resource that lands somewhere else (its folder, its MSP, its config files), for each
 * target of the restore, so files that name another resource's path (an orderer's genesis
 * block) follow it too. Paths the template gives win.
 */
export function effectiveTemplate(metadata: FabricMetadata, targets: RestoreTarget<FabricNodeConfig>[], template: RestoreTemplate | undefined): RestoreTemplate | undefined {
  const moved: Record<string, string> = {};
  for (const target of targets) {
    let source: ResourceRecord;
    try {
      source = sourceRecord(metadata, target, targets, template);
    } catch {
      continue;
    }
    for (const part of source.parts) {
      const destination = destinationOf(part, target.config, target.node?.role ?? source.role, template);
      if (destination !== part.path) moved[part.path] = destination;
    }
  }
  if (!template && Object.keys(moved).length === 0) return undefined;
  return { ...template, paths: { ...moved, ...template?.paths } };
}

/** Restores one target from its resource in the backup. */
export async function restoreResource(ctx: RestoreContext<FabricNodeConfig, FabricRestoreOptions, FabricMetadata>): Promise<RestoreOutcome> {
  const metadata = ctx.backup.metadata;
  checkTemplate(metadata, ctx.options.template);
  const allTargets = (ctx.phase?.allTargets ?? [ctx.target]) as RestoreTarget<FabricNodeConfig>[];
  const source = sourceRecord(metadata, ctx.target, allTargets, ctx.options.template);
  const template = effectiveTemplate(metadata, allTargets, ctx.options.template);
  const target: FabricNode = ctx.target.node ?? { id: 'ad-hoc', name: `${source.name} (ad hoc)`, role: source.role, config: ctx.target.config };
  if (target.role !== source.role) throw new PluginError('INVALID_TARGET', `${target.name} is a ${target.role}; the backup's ${source.name} is a ${source.role}`);
  const control = await ResourceControl.of(ctx.machines, target, ctx.log);
  const machine = control.machine;
  const label = control.label;
  const phase = ctx.phase ? ` (phase ${ctx.phase.index} of ${ctx.phase.count}: ${ctx.phase.name})` : '';
  const stamp = stampOf();
  const couch = couchDbOf(target, machine);

  // 1. Everything that can be refused is refused before anything is stopped.
  const placements = source.parts.map((part) => ({ part, destination: destinationOf(part, target.config, target.role, ctx.options.template) }));
  const mainDestination = placements[0].destination;
  const exists = Boolean(await machine.stat(mainDestination));
  if (exists && !target.config.stopCommand) {
    throw new PluginError('INVALID_TARGET', `${label} exists at ${mainDestination} and has no stopCommand: it may be running, so nothing was changed; give it stop and start commands, or restore into a path that does not exist yet`);
  }
  // Proves the target's CouchDB credentials; the databases it holds now are kept aside later.
  const currentDatabases = couch ? await couch.databases() : [];
  if (source.couchdb && !couch) ctx.log.warn(`${label}: the backup holds CouchDB databases but the target has no CouchDB stateDatabase: they are not restored, and the peer rebuilds its state from the ledger`);

  // 2. The backup's parts staged on the target's machine next to where they go, configs rewritten.
  const staging = join(ctx.tempDir, 'parts');
  const incoming = (destination: string) => `${destination}.chainvault-incoming`;
  /** The folder placed in this restore that a file lies inside (the CA's config in its home): the file travels with it. */
  const carrierOf = (destination: string) => placements.find((p) => p.part.kind === 'tree' && destination.startsWith(`${p.destination}/`));
  const moves: Move[] = placements.filter((p) => !carrierOf(p.destination)).map((p) => ({ incoming: incoming(p.destination), destination: p.destination, aside: `${p.destination}.before-restore-${stamp}` }));
  const state: RestoreState = { targetId: target.id, stopped: false, moves, staged: false, placing: false, done: false };
  const save = () => ctx.state.save({ ...state });
  await save();
  const rewritten: { file: string; hosts: number; ports: number; paths: number }[] = [];
  try {
    const modes = new Map((await ctx.artifacts.list()).map((e) => [e.path, e.mode]));
    for (const { part, destination } of placements) {
      const local = join(staging, part.stored);
      if (part.kind === 'tree') {
        await mkdir(local, { recursive: true });
        await ctx.artifacts.extractTree(local, { from: part.stored });
        await machine.run(['sh', '-c', 'rm -rf -- "$1" && mkdir -p -- "$1"', 'stage', incoming(destination)], { logged: false });
        await machine.rsyncTo(local, incoming(destination), { retries: 3 });
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.artifacts.read(part.stored)) chunks.push(Buffer.from(chunk));
      let content = Buffer.concat(chunks);
      if (template && part.key.startsWith('configFiles')) {
        const result = rewriteConfig(content.toString('utf8'), template);
        content = Buffer.from(result.text, 'utf8');
        rewritten.push({ file: destination, ...result.report });
        ctx.log.info(`${label}: rewrote ${destination}: ${result.report.hosts} host name(s), ${result.report.ports} port(s), ${result.report.paths} path(s)`);
      }
      const carrier = carrierOf(destination);
      const staged = carrier ? incoming(carrier.destination) + destination.slice(carrier.destination.length) : incoming(destination);
      await machine.writeFile(staged, content, { mode: (modes.get(part.stored) ?? 0o600) & 0o777 });
    }
  } catch (error) {
    if (!ctx.signal.aborted) await putBack(machine, moves, stamp, false).catch(() => undefined);
    throw error;
  }
  state.staged = true;
  await save();
  ctx.log.info(`${label}: staged ${source.name}'s ${source.parts.map((p) => p.what).join(', ')} from backup ${ctx.backup.id} on ${machine.name}${phase}`);

  // 3. Stop, keep the current copy aside under a dated name, put the backup's in place.
  let keptAside: string[] = [];
  let failed = true;
  try {
    if (exists) {
      state.stopped = true;
      await save();
      await control.stop();
    }
    state.placing = true;
    await save();
    const setAside = await placeAll(machine, moves);
    keptAside = moves.filter((m) => setAside.includes(m.destination)).map((m) => m.aside);
    if (keptAside.length) ctx.log.info(`${label}: kept the current copy aside: ${keptAside.join(', ')}`);
    else ctx.log.info(`${label} did not exist: recreated at ${mainDestination}`);

    // 4. The state database: the backup's CouchDB documents, or rebuilt from the ledger.
    let couchDocs = 0;
    if (couch && source.couchdb) {
      if (currentDatabases.length) await keepCouchAside(couch, currentDatabases, machine, `${mainDestination}.before-restore-${stamp}.couchdb`, ctx);
      await couch.drop(currentDatabases.filter((name) => !source.couchdb!.some((d) => d.name === name)));
      for (const database of source.couchdb) couchDocs += (await couch.load(linesOf(ctx.artifacts.read(database.stored)))).docs;
      ctx.log.info(`${label}: restored ${source.couchdb.length} CouchDB database(s), ${couchDocs} documents`);
    }
    if (target.role === 'peer' && (source.stateDatabase === 'none' || (source.couchdb && !couch) || (couch && !source.couchdb))) {
      if (couch && !source.couchdb) await couch.drop(currentDatabases);
      const how = "the peer rebuilds its state database from its ledger: with the peer stopped, run `peer node rebuild-dbs` (it drops the state, history and indexes), then start it and it replays the ledger's blocks";
      if (target.config.rebuildCommand) {
        await machine.run(target.config.rebuildCommand, { timeoutMs: (target.config.commandTimeoutSeconds ?? 300) * 1000 });
        ctx.log.info(`${label}: the backup holds no state database: ran its rebuildCommand; ${how}`);
      } else {
        ctx.log.warn(`${label}: the backup holds no state database, and the node has no rebuildCommand: ${how}`);
      }
    }
    failed = false;
  } finally {
    if (failed && !ctx.signal.aborted) {
      try {
        const back = await putBack(machine, moves, stamp, state.placing);
        state.moves = [];
        await save();
        if (back.length) ctx.log.info(`${label}: the restore failed: put the old copy back (${back.join(', ')})`);
      } catch (error) {
        ctx.log.error(`${label}: could not put the old copy back: ${(error as Error).message}`);
      }
      if (state.stopped) {
        try {
          await control.start();
          state.stopped = false;
          await save();
        } catch (error) {
          ctx.log.error(`${label}: could not start it again: ${(error as Error).message}`);
        }
      }
    }
  }

  // 5. Started and checked: the next phase waits for this.
  if (!ctx.options.leaveStopped && target.config.startCommand) {
    await control.start();
    state.stopped = false;
    await save();
    await control.awaitHealthy(ctx.signal);
  } else if (!ctx.options.leaveStopped) {
    ctx.log.warn(`${label} has no startCommand: it is restored but not started`);
  }
  state.done = true;
  await save();
  return {
    details: {
      resource: target.name,
      role: target.role,
      from: source.name,
      version: ctx.backup.createdAt.toISOString(),
      recreated: !exists,
      keptAside,
      rewritten,
    },
  };
}

/** The CouchDB databases the peer had, kept as NDJSON files next to its old folder. */
async function keepCouchAside(couch: NonNullable<ReturnType<typeof couchDbOf>>, databases: string[], machine: Machine, folder: string, ctx: { log: { info(m: string): void } }) {
  for (const name of databases) {
    const chunks: Buffer[] = [];
    for await (const chunk of couch.dump(name, { docs: 0 })) chunks.push(Buffer.from(chunk));
    await machine.writeFile(join(folder, `${encodeURIComponent(name)}.ndjson`), Buffer.concat(chunks), { mode: 0o600 });
  }
  ctx.log.info(`kept the current CouchDB databases aside in ${folder}`);
}

/**
 * A restore that stopped a resource and did not finish: after a cancel, the old copy is put back;
 * after a crash or a shutdown, what was placed stays (the backup's copy); either way it is started.
 */
export async function restoreCleanup(ctx: CleanupContext<FabricNodeConfig>): Promise<void> {
  const saved = ctx.saved as Partial<RestoreState>;
  if (!saved.targetId || saved.done) return;
  const found = (ctx.targets ?? []).find((t) => (t.node?.id ?? 'ad-hoc') === saved.targetId);
  if (!found?.node) return;
  const control = await ResourceControl.of(ctx.machines, found.node, ctx.log);
  const moves = (saved.moves ?? []) as Move[];
  if (ctx.reason === 'cancelled' || ctx.reason === 'failed' || !saved.staged) {
    const back = await putBack(control.machine, moves, stampOf(), saved.placing === true);
    ctx.log.info(`${control.label}: the restore was ${ctx.reason}: ${back.length ? `its old copy is back (${back.join(', ')})` : 'nothing of it was in place'}`);
  } else if (moves.length) {
    // The server stopped mid-restore: the staged copy, whole, goes in place (the current one aside).
    const setAside = await placeAll(control.machine, moves);
    ctx.log.info(`${control.label}: the server stopped during the restore: the backup's copy is in place${setAside.length ? `; the old one is aside (${moves.filter((m) => setAside.includes(m.destination)).map((m) => m.aside).join(', ')})` : ''}`);
  }
  if (saved.stopped && found.node.config.startCommand) await control.start();
}
