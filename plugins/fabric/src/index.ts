/**
 * chainvault's Hyperledger Fabric plugin (seed 004): peers, orderers, CAs, MSPs and genesis
 * blocks backed up one resource at a time (`resource`) or as a whole network (`network`), with
 * what each owns and its parents, proven from the ledger itself, and restored to a chosen
 * version, in order as a network, or from a template as a new network elsewhere.
 */
import { PluginError, definePlugin, type BackupContext, type BackupOutcome, type CleanupContext } from '@chainvault/plugin-sdk';
import { DEFAULT_RESOURCE_OPTIONS, checkNodeConfig, nodeConfigSchema, resourceOptionsSchema, restoreOptionsSchema, type FabricNodeConfig, type ResourceOptions } from './config';
import { ResourceControl, backupResource, type FabricNode, type ResourceBackupContext, type ResourceRecord } from './resource';
import { PHASES, checkRestoreTarget, phaseOfRole, restoreCleanup, restorePhases, restoreResource, type FabricMetadata } from './restore';
import { verifyFabricBackup } from './verify-backup';

interface RunState {
  /** Resources stopped for their copy and not started yet. */
  stopped: string[];
}

function resourceContext(ctx: BackupContext<FabricNodeConfig, Partial<ResourceOptions>, FabricMetadata>): ResourceBackupContext {
  const state: RunState = { stopped: [] };
  return {
    machines: ctx.machines,
    workspaces: ctx.workspaces,
    artifacts: ctx.artifacts,
    log: ctx.log,
    signal: ctx.signal,
    async markStopped(nodeId, stopped) {
      state.stopped = stopped ? [...new Set([...state.stopped, nodeId])] : state.stopped.filter((id) => id !== nodeId);
      await ctx.state.save({ stopped: state.stopped });
    },
  };
}

/** `resource`: one resource with what it owns and its parents (the seed's backup). */
async function backupOne(ctx: BackupContext<FabricNodeConfig, Partial<ResourceOptions>, FabricMetadata>): Promise<BackupOutcome<FabricMetadata>> {
  const options = { ...DEFAULT_RESOURCE_OPTIONS, ...ctx.options };
  const record = await backupResource(resourceContext(ctx), ctx.node as FabricNode, options);
  ctx.progress.update({ unit: 'steps', done: 1, total: 1, message: `${record.role} ${record.name} stored` });
  return { metadata: { resources: [record], restoreOrder: null } };
}

/**
 * `network`: every resource of the network in one run (the seed's "complete system backup"):
 * peers first, then orderers (an orderer's chain is never behind a peer's, so restored peers
 * catch up from them), then CAs, MSPs and genesis blocks; the restore order is recorded.
 */
async function backupNetwork(ctx: BackupContext<FabricNodeConfig, Partial<ResourceOptions>, FabricMetadata>): Promise<BackupOutcome<FabricMetadata>> {
  const options = { ...DEFAULT_RESOURCE_OPTIONS, ...ctx.options };
  const nodes = [...(ctx.nodes as FabricNode[])].sort((a, b) => phaseOfRole(b.role) - phaseOfRole(a.role) || a.name.localeCompare(b.name));
  if (nodes.length === 0) throw new PluginError('INVALID_CONFIG', `network ${ctx.network.name} has no resources: register its peers, orderers, CAs, MSPs and genesis blocks as nodes`);
  const context = resourceContext(ctx);
  const resources: ResourceRecord[] = [];
  for (const [i, node] of nodes.entries()) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    resources.push(await backupResource(context, node, options, `resources/${node.name}/`));
    ctx.progress.update({ unit: 'steps', done: i + 1, total: nodes.length, message: `${node.role} ${node.name} stored` });
  }
  const restoreOrder = PHASES.map((phase) => ({ phase: phase.name, resources: resources.filter((r) => phase.roles.includes(r.role)).map((r) => r.name).sort() })).filter((p) => p.resources.length > 0);
  ctx.log.info(`restore order: ${restoreOrder.map((p) => `${p.phase} (${p.resources.join(', ')})`).join(', then ')}`);
  return { metadata: { resources, restoreOrder } };
}

/** After a cancel, a shutdown or a crash: every resource a run stopped for its copy is started again. */
async function cleanup(ctx: CleanupContext<FabricNodeConfig>): Promise<void> {
  if (ctx.kind === 'restore') return restoreCleanup(ctx);
  const stopped = ((ctx.saved as Partial<RunState>).stopped ?? []) as string[];
  let first: unknown;
  for (const node of ctx.nodes.filter((n) => stopped.includes(n.id))) {
    try {
      const control = await ResourceControl.of(ctx.machines, node, ctx.log);
      await control.start();
      await control.awaitHealthy(ctx.signal);
    } catch (error) {
      first ??= error;
      ctx.log.error(`starting ${node.role} ${node.name} again failed: ${(error as Error).message}`);
    }
  }
  if (first) throw first;
}

const common = {
  disruptive: true,
  restoreStopsNodes: true,
  optionsSchema: resourceOptionsSchema,
  restoreOptionsSchema,
  cleanup,
  restorePhases,
  checkRestoreTarget,
  restore: restoreResource,
  verify: verifyFabricBackup,
};

export default definePlugin<FabricNodeConfig>({
  id: 'fabric',
  protocols: ['fabric', 'hyperledger-fabric'],
  description: 'Hyperledger Fabric: peers, orderers, CAs, MSPs and genesis blocks with what they own and their parents, proven from the ledger, restored by version, in order, or from a template.',
  roles: ['peer', 'orderer', 'ca', 'msp', 'genesis'],
  nodeConfigSchema,
  checkNodeConfig,
  dataLocations: (config) => (config.path ? [{ ...(config.machine ? { machine: config.machine } : {}), path: config.path }] : []),
  methods: {
    resource: {
      ...common,
      scope: 'node',
      description: "One resource (peer, orderer, CA, MSP, genesis block) with its configuration, what it owns (ledger, state database, TLS and MSP material, a CA's database and keys) and its parents (the organisation MSP); the state database is never ahead of the ledger.",
      backup: backupOne,
    },
    network: {
      ...common,
      scope: 'network',
      description: 'Every resource of the network in one run, with the order they come back in: CAs and MSPs, then genesis blocks and orderers, then peers.',
      backup: backupNetwork,
    },
  },
});

export {
  BlockFileError,
  blockStoreDir,
  deserializeBlock,
  listBlockFiles,
  listChannels,
  readBlockFile,
  readBootstrappingSnapshotInfo,
  readChannelBlocks,
  BOOTSTRAPPING_SNAPSHOT_INFO,
  type BlockFileInfo,
  type BlockFileRecord,
  type BootstrappingSnapshotInfo,
  type FabricBlock,
} from './blockfile';
export { blockDataHash, blockHeaderBytes, blockHeaderHash, derUnsignedInteger, transactionsWellFormedError, type BlockHeaderFields } from './hashes';
export {
  checkBlockHashes,
  DATA_HASH_MISMATCH,
  PREVIOUS_HASH_MISMATCH,
  verifyChannel,
  verifyLedger,
  type ChannelReport,
  type LedgerProblem,
  type LedgerReport,
} from './verify-ledger';
export {
  decodeConfigBlock,
  decodeConfigTransaction,
  decodeEnvelopeHeader,
  effectiveConfig,
  headerTypeName,
  readConfigBlock,
  type ChannelConfigSummary,
  type ConfigBlockSummary,
  type EnvelopeHeader,
  type OrgSummary,
} from './config-block';
export { inspectMsp, MspError, MSP_FOLDERS, type InspectMspOptions, type MspCertificate, type MspChain, type MspExpiry, type MspFolder, type MspReport } from './msp';
