/** The parts of a plugin context that every job kind builds the same way. */
import { createCommandRunner, createMachineProvider, type JsonObject, type JsonSchema, type PluginLogger, type RunState, type Workspaces } from '@chainvault/plugin-sdk';
import { maskSecretValues, splitSecrets, withSecretsMasked } from '../secrets/secret-fields';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobRun } from './job-handler';

/** What a job's plugin call runs in: who it may touch, with which options. */
export interface PluginScope {
  method: string;
  options: Record<string, unknown>;
  networkId: string;
  /** The nodes whose workspaces the plugin may use. */
  nodeIds: string[];
  /** The secret parts of the configs the plugin is given: masked in every log line and error of the call. */
  secrets?: Array<Record<string, unknown> | null>;
}

/** The secret parts of node configs (by the plugin's schema), for {@link PluginScope.secrets}. */
export function secretsOf(schema: JsonSchema, configs: unknown[]): Array<Record<string, unknown> | null> {
  return configs.map((config) => splitSecrets(schema, config as Record<string, unknown>).secrets);
}

function maskedLog(log: PluginLogger, secrets: Array<Record<string, unknown> | null>): PluginLogger {
  if (!secrets.some(Boolean)) return log;
  const mask = (message: string) => secrets.reduce((text, part) => maskSecretValues(text, part), message);
  return { info: (m) => log.info(mask(m)), warn: (m) => log.warn(mask(m)), error: (m) => log.error(mask(m)) };
}

/** The folder of a node's or a network's workspace under the data directory. */
export function workspaceFolder(dataDir: string, kind: 'node' | 'network', id: string): string {
  return join(dataDir, 'workspaces', kind === 'node' ? 'nodes' : 'networks', id);
}

/** Removes a node's or a network's workspace, when the node or network is removed. */
export async function removeWorkspace(dataDir: string, kind: 'node' | 'network', id: string): Promise<void> {
  await rm(workspaceFolder(dataDir, kind, id), { recursive: true, force: true });
}

function workspaces(dataDir: string, scope: PluginScope): Workspaces {
  const ensure = async (kind: 'node' | 'network', id: string) => {
    const folder = workspaceFolder(dataDir, kind, id);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    return folder;
  };
  return {
    network: () => ensure('network', scope.networkId),
    node: async (nodeId) => {
      if (!scope.nodeIds.includes(nodeId)) throw new Error(`node ${nodeId} is not one of this job's nodes`);
      return ensure('node', nodeId);
    },
  };
}

/** Saves a run's state into the job row (through `save`) as the plugin goes. */
export function runState(initial: JsonObject | null, save: (state: JsonObject) => Promise<void>): RunState {
  let state: JsonObject = { ...(initial ?? {}) };
  return {
    get: () => state,
    save: async (patch) => {
      state = { ...state, ...patch };
      await save(state);
    },
  };
}

/**
 * Runs `work` with the common context of a plugin call: a temp directory for this job only, the
 * machines (connections reused within the job, all closed at its end) and the workspaces. The
 * temp directory is removed afterwards.
 */
export async function withPluginContext<T>(dataDir: string, run: Pick<JobRun, 'job' | 'signal' | 'progress' | 'log'>, scope: PluginScope, work: (common: ReturnType<typeof baseContext>) => Promise<T>, suffix = ''): Promise<T> {
  const tempDir = join(dataDir, 'tmp', `job-${run.job.id}${suffix}`);
  await rm(tempDir, { recursive: true, force: true });
  await mkdir(tempDir, { recursive: true, mode: 0o700 });
  const secrets = scope.secrets ?? [];
  const log = maskedLog(run.log, secrets);
  const machines = createMachineProvider({ signal: run.signal, log, tempDir: join(tempDir, '.machines') });
  try {
    return await withSecretsMasked(secrets, () => work(baseContext(dataDir, { ...run, log }, scope, tempDir, machines)));
  } finally {
    await machines.close().catch((error: Error) => run.log.warn(`closing the job's machine connections failed: ${error.message}`));
    await rm(tempDir, { recursive: true, force: true });
  }
}

function baseContext(dataDir: string, run: Pick<JobRun, 'signal' | 'progress' | 'log'>, scope: PluginScope, tempDir: string, machines: ReturnType<typeof createMachineProvider>) {
  return {
    method: scope.method,
    options: scope.options,
    progress: run.progress,
    log: run.log,
    signal: run.signal,
    tempDir,
    commands: createCommandRunner(run.signal),
    machines: { get: machines.get.bind(machines) },
    workspaces: workspaces(dataDir, scope),
  };
}
