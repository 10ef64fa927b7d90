import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginError, type ChainvaultPlugin, type NodeHandle, type RestoreTarget } from '@chainvault/plugin-sdk';
import { runConformance } from '@chainvault/plugin-sdk/testing';
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import plugin, { type DirectoryConfig } from './index';

const snapshot = plugin.methods.snapshot;

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-directory-plugin-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const node = (path: string): NodeHandle<DirectoryConfig> => ({ id: 'node-1', name: 'data', role: 'replica', config: { path } });
// The kit takes plugins typed with the SDK's JsonObject config; DirectoryConfig is an interface without an index signature.
const untyped = plugin as unknown as ChainvaultPlugin;

describe('the snapshot method', () => {
  it('passes the conformance kit: each restore equals the source as it was backed up, before and after a change', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: 1024 * 1024 + 17 });
    let targets = 0;
    const restored: string[] = [];

    const report = await runConformance({
      plugin: untyped,
      method: 'snapshot',
      nodes: [{ ...node(source), config: { path: source } }],
      makeTarget: () => ({ config: { path: join(work, `target-${++targets}`) } }),
      assertRestored: async (target) => {
        const path = String(target.config.path);
        const differences = await compareTrees(source, path);
        if (differences.length > 0) throw new Error(`the restore differs from the source:\n${differences.join('\n')}`);
        restored.push(path);
      },
      change: async () => {
        await writeFile(join(source, tree.smallFile), 'block 1\nblock 2\nblock 3\n');
        await rm(join(source, tree.emptyFile));
        await mkdir(join(source, 'added/after/first'), { recursive: true });
        await symlink('../../../data', join(source, 'added/after/first/link'));
      },
    });

    expect(restored).toEqual([join(work, 'target-1'), join(work, 'target-2')]);
    expect(report.backups).toHaveLength(2);
    expect(report.backups[0].metadata).toMatchObject({ path: source, files: 17, symlinks: 4 });
    expect(report.backups[1].metadata).toMatchObject({ files: 16, symlinks: 5 });
  });
});

describe('checkRestoreTarget', () => {
  let source: string;
  beforeEach(async () => {
    source = join(work, 'node-data');
    await mkdir(join(source, 'chaindata'), { recursive: true });
    await writeFile(join(source, 'chaindata/CURRENT'), 'MANIFEST-1\n');
  });

  const check = (targetPath: string) => {
    const target: RestoreTarget<DirectoryConfig> = { config: { path: targetPath } };
    return Promise.resolve().then(() => snapshot.checkRestoreTarget!({ sources: [node(source)], target, options: {} }));
  };

  async function refusal(targetPath: string): Promise<PluginError> {
    const error = await check(targetPath).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof PluginError)) throw new Error(`expected ${targetPath} to be refused, got ${String(error)}`);
    expect(error.code).toBe('INVALID_TARGET');
    return error;
  }

  it('refuses a target inside the source', async () => {
    expect((await refusal(join(source, 'restore-here'))).message).toContain('is inside the backed-up directory');
    expect((await refusal(source)).message).toContain('is inside the backed-up directory');
  });

  it('refuses a target inside the source whose name starts with two dots', async () => {
    expect((await refusal(join(source, '..restore'))).message).toContain('is inside the backed-up directory');
  });

  it('refuses a target that reaches into the source through a symlink', async () => {
    await symlink(source, join(work, 'alias'));
    expect((await refusal(join(work, 'alias', 'restore-here'))).message).toContain('is inside the backed-up directory');
  });

  it('refuses a target that contains the source', async () => {
    expect((await refusal(work)).message).toContain('contains the backed-up directory');
  });

  it('refuses a non-empty target', async () => {
    const target = join(work, 'busy');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'precious');
    expect((await refusal(target)).message).toContain('is not empty');
  });

  it('refuses a target that is a file', async () => {
    await writeFile(join(work, 'a-file'), '');
    expect((await refusal(join(work, 'a-file'))).message).toContain('is a file, not a directory');
  });

  it('refuses a relative path', async () => {
    expect((await refusal('restore/here')).message).toContain('must be absolute');
  });

  it('accepts an empty directory and one that does not exist yet', async () => {
    await mkdir(join(work, 'empty'));
    await expect(check(join(work, 'empty'))).resolves.toBeUndefined();
    await expect(check(join(work, 'not', 'yet', 'there'))).resolves.toBeUndefined();
  });
});

describe('node config', () => {
  const checkNode = (path: string) => Promise.resolve().then(() => plugin.checkNodeConfig!({ path }));

  it('refuses a relative node path with INVALID_CONFIG', async () => {
    await expect(checkNode('data')).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('accepts a directory that is there, and refuses a missing one or a file, saying which', async () => {
    await mkdir(join(work, 'node-data'));
    await expect(checkNode(join(work, 'node-data'))).resolves.toBeUndefined();
    await expect(checkNode(join(work, 'no-such-dir'))).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('does not exist') });
    await writeFile(join(work, 'a-file'), 'x');
    await expect(checkNode(join(work, 'a-file'))).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('not a directory') });
  });
});
