/**
 * "Nodes" for the lab test plugin (../../test-plugins/lab): real processes that append to a
 * journal in their data folder until SIGTERM, each started in the background by its config's
 * start command, on this host or on an sshd "machine".
 */
import type { MachineConfig } from '@chainvault/plugin-sdk';
import type { RunningSshd } from '@chainvault/testing';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The folder the servers of these tests load plugins from (`pluginPaths`). */
export const TEST_PLUGINS = resolve(__dirname, '../../test-plugins');
const NODE_PROCESS = join(TEST_PLUGINS, 'lab', 'node-process.js');

export interface LabNodeConfig {
  machine?: MachineConfig;
  dataDir: string;
  pidFile: string;
  startCommand: string[];
  [field: string]: unknown;
}

/** A lab node's config: its data folder and pid file under `root` (on the machine's file system). */
export async function labNodeConfig(root: string, name: string, machine?: MachineConfig): Promise<LabNodeConfig> {
  const dataDir = join(root, name, 'data');
  const pidFile = join(root, name, 'node.pid');
  await mkdir(dataDir, { recursive: true });
  const startCommand = ['sh', '-c', `nohup "$0" "$1" "$2" "$3" > /dev/null 2>&1 &`, process.execPath, NODE_PROCESS, dataDir, pidFile];
  return { ...(machine ? { machine } : {}), dataDir, pidFile, startCommand };
}

/** The pid of a running lab node, or undefined when it is not running. */
export function labNodePid(config: LabNodeConfig): number | undefined {
  if (!existsSync(config.pidFile)) return undefined;
  const pid = Number(readFileSync(config.pidFile, 'utf8'));
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z' ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** Starts the node (in the background) and waits for its pid file. */
export async function startLabNode(config: LabNodeConfig): Promise<number> {
  const { spawnSync } = await import('node:child_process');
  const [command, ...args] = config.startCommand;
  spawnSync(command, args, { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const pid = labNodePid(config);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`lab node in ${config.dataDir} did not start`);
}

/** Stops the node if it runs (tests clean up with this). */
export async function stopLabNode(config: LabNodeConfig): Promise<void> {
  const pid = labNodePid(config);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && labNodePid(config); i++) await new Promise((r) => setTimeout(r, 25));
}

/** An SSH machine config for a test sshd. */
export function sshMachine(sshd: RunningSshd): MachineConfig {
  return { kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.username, privateKey: sshd.privateKey, hostKeyFingerprint: sshd.hostKeySha256 };
}
