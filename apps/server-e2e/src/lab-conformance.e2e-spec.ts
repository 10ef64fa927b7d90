/**
 * The conformance kit over real hosts: the lab test plugin's nodes live on sshd "machines" on
 * loopback; a node-scope method is backed up and restored over SSH, and a disruptive network
 * method is restored as a set in phases and cancelled mid-run.
 */
import type { ChainvaultPlugin, JsonObject, NodeHandle, RestoreTarget } from '@chainvault/plugin-sdk';
import { runConformance } from '@chainvault/plugin-sdk/testing';
import { startSshd, type RunningSshd } from '@chainvault/testing';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_PLUGINS, labNodeConfig, labNodePid, sshMachine, startLabNode, stopLabNode, type LabNodeConfig } from './support/lab-nodes';

jest.setTimeout(120_000);

const lab = require(join(TEST_PLUGINS, 'lab')) as ChainvaultPlugin;

describe('conformance kit: the lab plugin on sshd machines', () => {
  let alpha: RunningSshd;
  let beta: RunningSshd;
  const started: LabNodeConfig[] = [];

  beforeAll(async () => {
    [alpha, beta] = await Promise.all([startSshd(), startSshd()]);
  });
  afterAll(async () => {
    for (const config of started) await stopLabNode(config);
    await Promise.all([alpha?.stop(), beta?.stop()]);
  });

  const handle = (id: string, role: string, config: LabNodeConfig): NodeHandle => ({ id, name: id, role, config: config as unknown as JsonObject });

  it('backs up a node on one machine and restores it onto another, over SSH, incrementally', async () => {
    const source = await labNodeConfig(alpha.root, 'node-1', sshMachine(alpha));
    await writeFile(join(source.dataDir, 'state.db'), 'block 1\n');
    let targets = 0;
    const report = await runConformance({
      plugin: lab,
      method: 'copy',
      nodes: [handle('node-1', 'node', source)],
      makeTarget: async (): Promise<RestoreTarget> => ({ config: (await labNodeConfig(beta.root, `restored-${++targets}`, sshMachine(beta))) as unknown as JsonObject }),
      change: () => appendFile(join(source.dataDir, 'state.db'), 'block 2\n'),
      assertRestored: async (target) => {
        const restored = await readFile(join((target.config as unknown as LabNodeConfig).dataDir, 'state.db'), 'utf8');
        expect(restored).toBe(await readFile(join(source.dataDir, 'state.db'), 'utf8'));
      },
    });
    expect(report.backups).toHaveLength(2);
    const logs = report.logs.join('\n');
    expect(logs).toContain(`rsync ${alpha.username}@127.0.0.1:${alpha.port}:${source.dataDir}`);
    expect(logs).toContain(`→ ${beta.username}@127.0.0.1:${beta.port}:`);
    // The second run moved only the changed file.
    expect(logs).toMatch(/copied node node-1: \d+ bytes moved of 16/);
  });

  it('restores a network as a set in phases by role, and a cancelled offline run leaves every node running', async () => {
    const work = await mkdtemp(join(tmpdir(), 'chainvault-lab-set-'));
    try {
      const machines = [alpha, beta, alpha];
      const nodes: NodeHandle[] = [];
      for (const [i, role] of ['ca', 'peer', 'peer'].entries()) {
        const config = await labNodeConfig(machines[i].root, `${role}-${i}`, sshMachine(machines[i]));
        await writeFile(join(config.dataDir, 'ledger.bin'), `ledger of ${role}-${i}\n`);
        await startLabNode(config);
        started.push(config);
        nodes.push(handle(`${role}-${i}`, role, config));
      }
      const report = await runConformance({
        plugin: lab,
        method: 'offline',
        nodes,
        options: { pauseMs: 200 },
        makeTarget: async (): Promise<RestoreTarget> => ({ node: { ...nodes[0], id: 'scratch' }, config: (await labNodeConfig(work, `scratch-${Date.now()}`)) as unknown as JsonObject }),
        restoreSet: {
          makeTargets: async () =>
            Promise.all(
              ['ca', 'peer', 'peer'].map(async (role, i) => {
                const config = await labNodeConfig(work, `restored-${role}-${i}`);
                return { node: handle(`${role}-${i}`, role, config), config: config as unknown as JsonObject };
              }),
            ),
        },
        assertRestored: async (target) => {
          const ledger = await readFile(join((target.config as unknown as LabNodeConfig).dataDir, 'ledger.bin'), 'utf8');
          expect(ledger).toMatch(/^ledger of /);
        },
        cancelAfterMs: 300,
        assertNodesRunning: async (handles) => {
          for (const node of handles) expect(labNodePid(node.config as unknown as LabNodeConfig)).toBeDefined();
        },
      });
      expect(report.phases).toEqual([
        { name: 'cas', nodeIds: ['ca-0'] },
        { name: 'peers', nodeIds: ['peer-1', 'peer-2'] },
      ]);
      expect(report.logs.join('\n')).toContain('restored peer-2 into peer-2 (phase 2 of 2: peers)');
      expect(report.logs.join('\n')).toMatch(/started node (ca-0|peer-1|peer-2)/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
