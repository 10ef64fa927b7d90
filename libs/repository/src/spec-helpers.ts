/** Helpers shared by this library's specs. Test-only: excluded from the build. */
import { randomBytes } from 'node:crypto';
import type { RepositoryBackend } from './backend';
import { LocalBackend } from './local-backend';
import type { FileEntry, Manifest } from './manifest';
import { Repository } from './repository';
import { RepositoryError } from './repository.errors';

export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

export function fileEntry(manifest: Manifest, path: string): FileEntry {
  const entry = manifest.entries.find((e) => e.path === path);
  if (entry?.type !== 'file') throw new Error(`the manifest has no file "${path}"`);
  return entry;
}

/**
 * A tmpfs of `bytes` mounted on a new directory, so a test can fill a real file system. Null
 * when mounting is refused (not root, or no tmpfs here): the caller skips and says so.
 */
export async function mountTmpfs(bytes: number): Promise<{ dir: string; unmount: () => Promise<void> } | null> {
  const { execFileSync } = await import('node:child_process');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'chainvault-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    console.warn(`skipped: cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}); run the tests as root to fill a real file system`);
    return null;
  }
  return {
    dir,
    unmount: async () => {
      // Lazily: a failed test may leave an upload that still holds a file open.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Leaves the packs of a backup that failed before writing its index, as a full destination
 * fails it: `bytes` of random data in packs no index names and no backup uses. Returns how many
 * packs and stored bytes it left.
 */
export async function leaveFailedBackup(repoDir: string, bytes: number): Promise<{ packs: number; bytes: number }> {
  const local = new LocalBackend(repoDir);
  const before = (await local.list('data/')).length;
  const failing: RepositoryBackend = {
    location: local.location,
    get: (key, range) => local.get(key, range),
    has: (key) => local.has(key),
    list: (prefix) => local.list(prefix),
    delete: (key) => local.delete(key),
    put: async (key, data) => {
      if (key.startsWith('index/')) throw new RepositoryError('NO_SPACE', `no space left while writing ${key}`);
      return local.put(key, data);
    },
  };
  const writer = (await Repository.open(failing)).startBackup();
  await writer.writeFile('failed.bin', randomBytes(bytes));
  const failure = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} }).then(
    () => null,
    (error: unknown) => error,
  );
  if (!(failure instanceof RepositoryError) || failure.code !== 'NO_SPACE') throw new Error(`the backup was meant to fail with NO_SPACE, got ${String(failure)}`);
  return { packs: (await local.list('data/')).length - before, bytes: writer.currentStats.storedBytes };
}
