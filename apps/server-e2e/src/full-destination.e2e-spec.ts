/**
 * A full destination recovers: a backup that fills a small file system fails with NO_SPACE
 * saying what it needed and what was free, a check reports what it left behind, a prune gives
 * the space back, and once the destination has room the next backup reuses what remains.
 */
import { compareTrees } from '@chainvault/testing';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKUP, backupNow, createDirectoryPolicy, restoreTo } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const MiB = 1024 * 1024;
const PRUNE = `mutation ($d: ID!, $dry: Boolean) { pruneDestination(destinationId: $d, dryRun: $dry) { id } }`;
const CHECK = `mutation ($d: ID!) { checkDestination(destinationId: $d) { id } }`;

/** Bytes under a directory, as `du` counts them. */
function du(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

/** Writes `bytes` of random (incompressible) data in pieces of 8 MiB. */
async function randomFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += 8 * MiB) await handle.write(randomBytes(Math.min(8 * MiB, bytes - done)));
  } finally {
    await handle.close();
  }
}

describe('a full destination', () => {
  let server: TestServer;
  let work: string;
  /** A 64 MiB tmpfs the test mounts, or null when mounting is refused. */
  let disk: string | null = null;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-full-e2e-'));
    const dir = join(work, 'disk');
    await mkdir(dir);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir], { stdio: 'pipe' });
      disk = dir;
    } catch (error) {
      // As root (CI, the README's test command here) the mount must work: the test may not pass by skipping.
      if (process.getuid?.() === 0) throw error;
      console.warn(`skipped: cannot mount a 64 MiB tmpfs for the full destination (${(error as Error).message.split('\n')[0]}); run the end-to-end tests as root`);
    }
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
    if (disk) execFileSync('umount', ['-l', disk], { stdio: 'pipe' });
    await rm(work, { recursive: true, force: true });
  });

  it('fails a backup with NO_SPACE saying what it needed, reports its leftovers, prunes back to the committed backup, and the next backup reuses what remains', async () => {
    if (!disk) return;
    const { client } = server;
    const source = join(work, 'source');
    await mkdir(source);
    await randomFile(join(source, 'small.bin'), 4 * MiB);
    const repository = join(disk, 'repo');
    const { policyId, destinationId } = await createDirectoryPolicy(client, 'full', source, repository);
    const first = await backupNow(client, policyId);
    expect(first.status).toBe('COMPLETED');
    const committed = du(repository);

    // 200 MiB of incompressible data cannot fit into 64 MiB.
    await randomFile(join(source, 'big.bin'), 200 * MiB);
    const failed = await backupNow(client, policyId);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(
      /^repository NO_SPACE: no room on the destination at \S+\/repo for the next pack: it needs [\d.]+ MiB \(a pack of [\d.]+ MiB, .*1\.0 MiB kept free so that a prune can run\) and [\d.]+ MiB of 64\.0 MiB is free\. Backup \S+ had written \d+ pack\(s\) \([\d.]+ MiB\) to destination "full-repo" when it stopped; .*`chainvault destinations prune full-repo` \(pruneDestination\) removes it\. Free at least [\d.]+ MiB there/,
    );
    const leftovers = du(repository) - committed;
    expect(leftovers).toBeGreaterThan(16 * MiB);
    // The backup stopped short of the last MiB, so the prune below can take its lock and write its index.
    expect(await freeBytes(disk)).toBeGreaterThanOrEqual(MiB);

    // The check reports the leftovers, and is no failure: the committed backup is intact.
    const check = await client.waitForJob((await client.ok(CHECK, { d: destinationId })).checkDestination.id);
    expect(check.status).toBe('COMPLETED');
    expect(check.result).toMatchObject({ backups: 1, corrupt: {} });
    const { unreferenced } = check.result;
    expect(unreferenced.packs).toBeGreaterThan(0);
    expect(unreferenced.unindexedPacks).toBe(unreferenced.packs);
    // Stored bytes of the packs, without their small headers.
    expect(unreferenced.bytes).toBeLessThanOrEqual(leftovers);
    expect(unreferenced.bytes).toBeGreaterThan(leftovers - MiB);
    const mib = (unreferenced.bytes / MiB).toFixed(1).replace('.', '\\.');
    expect(check.log.map((l: { message: string }) => l.message)).toContainEqual(
      expect.stringMatching(new RegExp(`^unreferenced data: ${unreferenced.packs} packs?, ${mib} MiB, left by an interrupted or failed backup; \`chainvault destinations prune full-repo\` or pruneDestination removes them$`)),
    );
    const { backup: checked } = await client.ok(BACKUP, { id: first.backupId });
    expect(checked.verification).toBe('VERIFIED');

    const dry = await client.waitForJob((await client.ok(PRUNE, { d: destinationId, dry: true })).pruneDestination.id);
    expect(dry.result).toMatchObject({ dryRun: true, packsDeleted: unreferenced.packs, bytesFreed: unreferenced.bytes });
    // Something else takes the rest of the disk: one page is left, room for the prune's lock and
    // not for its new index until it has deleted the failed backup's packs.
    const filler = join(disk, 'filler');
    await randomFile(filler, (await freeBytes(disk)) - 4096);
    expect(await freeBytes(disk)).toBe(4096);
    const pruned = await client.waitForJob((await client.ok(PRUNE, { d: destinationId, dry: false })).pruneDestination.id);
    expect(pruned.status).toBe('COMPLETED');
    expect(pruned.result).toMatchObject({ packsDeleted: unreferenced.packs, bytesFreed: unreferenced.bytes, packsNotRepacked: 0 });
    await rm(filler);
    // Back to what the committed backup needs (its index was rewritten: a few bytes either way).
    expect(Math.abs(du(repository) - committed)).toBeLessThan(64 * 1024);
    expect(await freeBytes(disk)).toBeGreaterThan(64 * MiB - committed - MiB);

    // More room: the next backup completes, and takes the committed backup's file from it.
    execFileSync('mount', ['-o', 'remount,size=512m', disk], { stdio: 'pipe' });
    const next = await backupNow(client, policyId);
    expect(next.status).toBe('COMPLETED');
    expect(next.result.filesUnchanged).toBe(1);
    expect(next.result.chunksReused).toBeGreaterThan(0);
    const { backup } = await client.ok(BACKUP, { id: next.backupId });
    expect(backup.status).toBe('COMPLETED');
    expect(backup.logicalSize - backup.storedSize).toBeGreaterThan(3 * MiB);
    const restored = join(work, 'restored');
    expect((await restoreTo(client, next.backupId, restored)).status).toBe('COMPLETED');
    expect(await compareTrees(source, restored)).toEqual([]);
  }, 300_000);
});
