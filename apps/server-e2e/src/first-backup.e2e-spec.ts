/**
 * The README's promise, end to end through GraphQL against the real server: back up a
 * generated tree, restore it elsewhere, and get the same tree back; a second backup reads
 * only what changed. Run on both catalogs.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { appendFile, copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKUP, VERIFY, backupNow, createDirectoryPolicy, restoreTo } from './support/scenario';
import { startTestServer, type CatalogKind, type TestServer } from './support/test-server';

const MiB = 1024 * 1024;

describe.each<CatalogKind>(['sqlite', 'postgres'])('first backup and restore through GraphQL (%s catalog)', (catalog) => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-first-'));
    server = await startTestServer({ catalog });
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('restores a byte-identical tree, and a second backup reads only the changed file', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: 50 * MiB });
    await copyFile(join(source, tree.bigFile), join(source, 'copy-of-the-big-file.bin'));
    const { client } = server;
    const { policyId } = await createDirectoryPolicy(client, `first-${catalog}`, source, join(work, 'repository'));

    const first = await backupNow(client, policyId);
    expect(first.error).toBeNull();
    expect(first.status).toBe('COMPLETED');
    const { backup } = await client.ok(BACKUP, { id: first.backupId });
    expect(backup.status).toBe('COMPLETED');
    expect(backup.filesUnchanged).toBe(0);
    expect(backup.filesRead).toBe(backup.fileCount);
    expect(backup.logicalSize).toBeGreaterThan(100 * MiB);
    // The copy of the 50 MiB file is stored once.
    expect(backup.storedSize).toBeLessThan(backup.logicalSize - 49 * MiB);
    const paths = backup.files.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining([tree.bigFile, tree.emptyFile, tree.emptyDirectory, tree.smallFile]));

    const restoredDir = join(work, 'restored-1');
    const restore = await restoreTo(client, first.backupId, restoredDir);
    expect(restore.error).toBeNull();
    expect(restore.status).toBe('COMPLETED');
    expect(await compareTrees(source, restoredDir)).toEqual([]);

    await appendFile(join(source, tree.smallFile), 'one more line\n');
    const changedSize = (await stat(join(source, tree.smallFile))).size;
    const second = await backupNow(client, policyId);
    expect(second.status).toBe('COMPLETED');
    const { backup: incremental } = await client.ok(BACKUP, { id: second.backupId });
    expect(incremental.filesRead).toBe(1);
    expect(incremental.bytesRead).toBe(changedSize);
    expect(incremental.filesUnchanged).toBe(incremental.fileCount - 1);
    expect(incremental.storedSize).toBeLessThanOrEqual(changedSize);

    const restoredAgain = join(work, 'restored-2');
    expect((await restoreTo(client, second.backupId, restoredAgain)).status).toBe('COMPLETED');
    expect(await compareTrees(source, restoredAgain)).toEqual([]);

    const { verifyBackup } = await client.ok(VERIFY, { id: second.backupId, readData: true });
    const verified = await client.waitForJob(verifyBackup.id);
    expect(verified.status).toBe('COMPLETED');
    const { backup: afterVerify } = await client.ok(BACKUP, { id: second.backupId });
    expect(afterVerify.verification).toBe('VERIFIED');
    expect(afterVerify.verifiedAt).not.toBeNull();

    const { backups } = await client.ok(`query ($p: ID!) { backups(filter: { policyId: $p }) { totalCount nodes { id } } }`, { p: policyId });
    expect(backups.totalCount).toBe(2);
    expect(backups.nodes.map((b: { id: string }) => b.id)).toEqual([second.backupId, first.backupId]);
  });
});
