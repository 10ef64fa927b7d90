/**
 * The behaviour every RepositoryBackend must have, as a Jest suite each backend's spec runs
 * against a real store (a directory, s3rver, sshd). Test-only: not exported from the package.
 */
import { randomBytes } from 'node:crypto';
import type { RepositoryBackend } from './backend';
import { RepositoryError } from './repository.errors';

export interface BackendHarness {
  /** A backend on a fresh, empty location. */
  create(): Promise<RepositoryBackend>;
}

export function describeBackendContract(name: string, harness: () => BackendHarness): void {
  describe(`${name} backend contract`, () => {
    let backend: RepositoryBackend;

    beforeEach(async () => {
      backend = await harness().create();
    });

    afterEach(async () => {
      await backend.close?.();
    });

    it('stores and returns objects byte for byte, whole and by range', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      await backend.put('data/ab/ab01', data);
      expect((await backend.get('data/ab/ab01')).equals(data)).toBe(true);
      expect((await backend.get('data/ab/ab01', { offset: 1024 * 1024, length: 4096 })).equals(data.subarray(1024 * 1024, 1024 * 1024 + 4096))).toBe(true);
      const tail = await backend.get('data/ab/ab01', { offset: data.length - 10, length: 100 });
      expect(tail.equals(data.subarray(data.length - 10))).toBe(true);
    });

    it('stores empty objects', async () => {
      await backend.put('locks/empty', Buffer.alloc(0));
      expect(await backend.has('locks/empty')).toBe(true);
      expect((await backend.get('locks/empty')).length).toBe(0);
    });

    it('answers NOT_FOUND for a missing object and false from has', async () => {
      expect(await backend.has('snapshots/nope')).toBe(false);
      await expect(backend.get('snapshots/nope')).rejects.toBeInstanceOf(RepositoryError);
      await expect(backend.get('snapshots/nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('replaces an object on a second put', async () => {
      await backend.put('index/one', Buffer.from('first'));
      await backend.put('index/one', Buffer.from('second, longer'));
      expect((await backend.get('index/one')).toString()).toBe('second, longer');
    });

    it('lists keys under a prefix recursively, and everything under ""', async () => {
      await backend.put('data/00/0001', Buffer.from('a'));
      await backend.put('data/ff/ff02', Buffer.from('b'));
      await backend.put('index/i1', Buffer.from('c'));
      expect((await backend.list('data/')).sort()).toEqual(['data/00/0001', 'data/ff/ff02']);
      expect((await backend.list('data')).sort()).toEqual(['data/00/0001', 'data/ff/ff02']);
      expect((await backend.list('')).sort()).toEqual(['data/00/0001', 'data/ff/ff02', 'index/i1']);
      expect(await backend.list('snapshots/')).toEqual([]);
    });

    it('lists more keys than one page of a listing holds', async () => {
      const keys = Array.from({ length: 1100 }, (_, i) => `data/${String(i % 256).padStart(2, '0')}/${String(i).padStart(6, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => backend.put(k, Buffer.from(k))));
      expect((await backend.list('data/')).sort()).toEqual([...keys].sort());
    });

    it('deletes objects, and deleting a missing one is not an error', async () => {
      await backend.put('locks/l1', Buffer.from('x'));
      await backend.delete('locks/l1');
      expect(await backend.has('locks/l1')).toBe(false);
      await expect(backend.delete('locks/l1')).resolves.toBeUndefined();
    });

    it('refuses keys that would escape the repository', async () => {
      await expect(backend.put('../escape', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_PATH' });
      await expect(backend.get('data/../../escape')).rejects.toMatchObject({ code: 'INVALID_PATH' });
    });

    it('never shows a half-written object: concurrent readers see all of it or nothing', async () => {
      const data = randomBytes(8 * 1024 * 1024);
      const writing = backend.put('data/cc/cc01', data);
      const seen: number[] = [];
      while (!(await Promise.race([writing.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5))]))) {
        if (await backend.has('data/cc/cc01')) seen.push((await backend.get('data/cc/cc01')).length);
      }
      await writing;
      expect(seen.every((length) => length === data.length)).toBe(true);
      expect((await backend.get('data/cc/cc01')).equals(data)).toBe(true);
    });
  });
}
