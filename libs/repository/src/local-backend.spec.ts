import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackendContract } from './backend.contract';
import { LocalBackend } from './local-backend';
import { mountTmpfs } from './spec-helpers';

describeBackendContract('local', () => ({
  create: async () => new LocalBackend(join(await mkdtemp(join(tmpdir(), 'chainvault-local-backend-')), 'repo')),
}));

describe('local backend on a full file system', () => {
  it('fails a put that does not fit with NO_SPACE and leaves no part of it under its key, even an object written in parts', async () => {
    const tmpfs = await mountTmpfs(1024 * 1024);
    if (!tmpfs) return;
    try {
      const backend = new LocalBackend(join(tmpfs.dir, 'repo'));
      // A pack is written in parts; the file system takes what fits of them without an error.
      const parts = Array.from({ length: 6 }, () => randomBytes(256 * 1024));
      await expect(backend.put('data/ab/ab01', parts)).rejects.toMatchObject({ code: 'NO_SPACE', message: expect.stringContaining('writing data/ab/ab01') });
      expect(await backend.has('data/ab/ab01')).toBe(false);
      expect(await backend.list('')).toEqual([]);
      // What fits still goes in whole.
      await backend.put('data/ab/ab02', parts.slice(0, 2));
      expect((await backend.get('data/ab/ab02')).equals(Buffer.concat(parts.slice(0, 2)))).toBe(true);
    } finally {
      await tmpfs.unmount();
    }
  });
});
