import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend, Repository } from './index';
import { packIdOf } from './pack-format';
import { chunkDone, SealingPool, SharedSlots, slots } from './sealing';
import { mountTmpfs } from './spec-helpers';

const MiB = 1024 * 1024;
const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-sealing-'));
  // Files of several 16 MiB read blocks each, one after the other: the later files are read into
  // blocks the earlier ones gave back, while chunks of the earlier ones may still be sealing.
  await mkdir(join(work, 'source'));
  for (const [name, bytes] of [['a.sst', 40 * MiB], ['b.sst', 37 * MiB + 12345], ['c.log', 3 * MiB], ['d.sst', 33 * MiB]] as const) {
    await writeFile(join(work, 'source', name), randomBytes(bytes));
  }
  // And a tree of small files, each one chunk read and sealed by a thread (putFile): some alike,
  // one empty, in folders deep enough that the walk goes on while they are stored.
  const same = randomBytes(3000);
  for (let f = 0; f < 6; f++) {
    const folder = join(work, 'source', 'small', `f${f}`, 'inner');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 60; i++) await writeFile(join(folder, `k${i}.ldb`), i % 10 === 0 ? same : randomBytes(1000 + ((i * 97) % 15000)));
  }
  await writeFile(join(work, 'source', 'small', 'EMPTY'), '');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('chunks cut, named and sealed on the sealing threads', () => {
  it.each([
    ['plain', {}],
    ['encrypted', { passphrase: 'sealing threads', scrypt: FAST_SCRYPT }],
  ])('back up files larger than a read block so that %s, they restore byte for byte and verify with every chunk read', async (_, options) => {
    const repoDir = join(work, `repo-${_}`);
    const repo = await Repository.openOrInit(new LocalBackend(repoDir), options);
    const writer = repo.startBackup();
    await writer.addTree(join(work, 'source'));
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });

    const target = join(work, `restored-${_}`);
    await (await repo.openBackup(manifest.backupId)).extractTree(target);
    const files = (await readdir(join(work, 'source'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(files).toHaveLength(4 + 6 * 60 + 1);
    for (const file of files) {
      const name = join(file.parentPath, file.name).slice(join(work, 'source').length + 1);
      const [original, restored] = await Promise.all([readFile(join(work, 'source', name)), readFile(join(target, name))]);
      expect({ name, size: restored.length, sha256: sha(restored) }).toEqual({ name, size: original.length, sha256: sha(original) });
    }
    // Thirty-six alike small files (every tenth of each folder) are stored once; the empty one has no chunk.
    expect(manifest.stats).toMatchObject({ filesRead: 4 + 6 * 60 + 1, chunksReused: 35 });
    expect(manifest.entries.find((e) => e.path === 'small/EMPTY')).toMatchObject({ size: 0, chunks: [] });
    const fresh = await Repository.open(new LocalBackend(repoDir), options);
    const verified = await fresh.verify(manifest.backupId, { readData: true });
    expect(verified.problems).toEqual([]);
  });

  it('lays out packs the same way in every run: the same chunks in the same order', async () => {
    const layout = async (dir: string) => {
      const repo = await Repository.openOrInit(new LocalBackend(dir), { passphrase: 'layout', scrypt: FAST_SCRYPT });
      const writer = repo.startBackup();
      await writer.addTree(join(work, 'source'));
      const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
      // The chunk ids depend on each repository's own id key: compare positions, by file and chunk index.
      const position = new Map<string, string>();
      for (const entry of manifest.entries) if (entry.type === 'file') entry.chunks.forEach((id, i) => position.set(id, `${entry.path}#${i}`));
      const inventory = await (repo as unknown as { blobs: { readInventory(): Promise<{ packs: Map<string, { id: string }[]> }> } }).blobs.readInventory();
      const packs = [...inventory.packs.values()].map((blobs) => blobs.map((b) => position.get(b.id)));
      return packs.sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    };
    const first = await layout(join(work, 'layout-1'));
    expect(first.flat()).toHaveLength(new Set(first.flat()).size);
    expect(await layout(join(work, 'layout-2'))).toEqual(first);
    expect((await readdir(join(work, 'layout-1', 'data'), { recursive: true })).filter((k) => packIdOf(`data/${k}`)).length).toBe(first.length);
  });

  it('stores a small file that grew past one chunk after it was looked up as it was when read', async () => {
    const folder = join(work, 'growing');
    await mkdir(folder);
    await writeFile(join(folder, 'a.log'), randomBytes(2000));
    await writeFile(join(folder, 'b.log'), randomBytes(2000));
    const grown = randomBytes(3 * MiB);
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo-growing')), {});
    const writer = repo.startBackup();
    let grew = false;
    // The filter runs after the file was looked up (2,000 bytes) and before it is read.
    await writer.addTree(folder, {
      filter: (path) => {
        if (path === 'a.log' && !grew) {
          grew = true;
          writeFileSync(join(folder, 'a.log'), grown);
        }
        return true;
      },
    });
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    expect(manifest.entries.find((e) => e.path === 'a.log')).toMatchObject({ size: grown.length, sha256: sha(grown) });
    expect((manifest.entries.find((e) => e.path === 'a.log') as { chunks: string[] }).chunks.length).toBeGreaterThan(1);
    const restored = join(work, 'restored-growing');
    await (await repo.openBackup(manifest.backupId)).extractTree(restored);
    expect(sha(await readFile(join(restored, 'a.log')))).toBe(sha(grown));
  });

  it('names a small file that vanished before it was read, and commits nothing', async () => {
    const folder = join(work, 'vanishing');
    await mkdir(folder);
    for (let i = 0; i < 100; i++) await writeFile(join(folder, `f${String(i).padStart(3, '0')}`), randomBytes(500));
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo-vanishing')), {});
    const writer = repo.startBackup();
    const added = writer.addTree(folder, {
      filter: (path) => {
        if (path === 'f050') rmSync(join(folder, 'f050'), { force: true });
        return true;
      },
    });
    await expect(added).rejects.toMatchObject({ code: 'IO', message: expect.stringMatching(/^backing up .*vanishing\/f050 failed: ENOENT/) });
    expect(await repo.listBackups()).toEqual([]);
  });

  it('reads file after file into the same few read blocks, also files of whole blocks (the read past their end gives its block back)', async () => {
    const folder = join(work, 'whole-blocks');
    await mkdir(folder);
    for (let i = 0; i < 6; i++) await writeFile(join(folder, `f${i}.sst`), randomBytes(16 * MiB));
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo-whole-blocks')), { chunkSizes: { min: 64 * 1024, avg: 256 * 1024, max: MiB } });
    const Real = SharedArrayBuffer;
    let blocks = 0;
    globalThis.SharedArrayBuffer = class extends Real {
      static [Symbol.hasInstance](value: unknown) {
        return value instanceof Real;
      }
      constructor(size: number) {
        super(size);
        if (size === 16 * MiB) blocks += 1;
      }
    } as SharedArrayBufferConstructor;
    try {
      const writer = repo.startBackup();
      await writer.addTree(folder);
      await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    } finally {
      globalThis.SharedArrayBuffer = Real;
    }
    // One block being read and the next read ahead, kept from file to file (each file lost one before).
    expect(blocks).toBeLessThanOrEqual(3);
  });

  it('names a folder that vanished before it was listed, and commits nothing', async () => {
    const folder = join(work, 'vanishing-folder');
    await mkdir(join(folder, 'a', 'inner'), { recursive: true });
    await writeFile(join(folder, 'a', 'inner', 'x'), 'x');
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo-vanishing-folder')), {});
    const writer = repo.startBackup();
    const added = writer.addTree(folder, {
      filter: (path, isDirectory) => {
        if (path === 'a' && isDirectory) rmSync(join(folder, 'a'), { recursive: true, force: true });
        return true;
      },
    });
    await expect(added).rejects.toMatchObject({ code: 'IO', message: expect.stringMatching(/^reading directory .*vanishing-folder\/a failed: ENOENT/) });
    expect(await repo.listBackups()).toEqual([]);
  });

  it('restores small files from a local pack on the threads as the streamed path does: same bytes, modes and times, same errors, nothing partial left', async () => {
    const source = join(work, 'small-restore');
    await mkdir(join(source, 'db'), { recursive: true });
    const contents = { 'db/000001.ldb': randomBytes(9000), 'db/CURRENT': Buffer.from('MANIFEST-000002\n'), 'db/LOCK': Buffer.alloc(0), 'nodekey': randomBytes(32) };
    for (const [name, data] of Object.entries(contents)) await writeFile(join(source, name), data);
    await chmod(join(source, 'nodekey'), 0o600);
    await utimes(join(source, 'db/CURRENT'), new Date('2024-02-03T04:05:06.789Z'), new Date('2024-02-03T04:05:06.789Z'));
    const repoDir = join(work, 'repo-small-restore');
    const options = { passphrase: 'small files', scrypt: FAST_SCRYPT };
    const repo = await Repository.openOrInit(new LocalBackend(repoDir), options);
    const writer = repo.startBackup();
    await writer.addTree(source);
    const { backupId } = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    // The same repository through a backend that is not a LocalBackend: every file is streamed.
    const local = new LocalBackend(repoDir);
    const remote = Object.assign(Object.create(null) as object, {
      location: local.location,
      get: local.get.bind(local),
      has: local.has.bind(local),
      list: local.list.bind(local),
      delete: local.delete.bind(local),
      put: local.put.bind(local),
    }) as LocalBackend;
    const outcome = async (name: string) => {
      const results: unknown[] = [];
      for (const [how, backend] of [['threads', new LocalBackend(repoDir)], ['streamed', remote]] as const) {
        const target = join(work, `${name}-${how}`);
        const reader = await (await Repository.open(backend, options)).openBackup(backupId);
        const error = await reader.extractTree(target).then(() => null, (e: { code: string; message: string }) => ({ code: e.code, message: e.message }));
        const left = (await readdir(target, { recursive: true })).filter((f) => f.includes('chainvault-partial'));
        const files = error ? null : await Promise.all(Object.keys(contents).map(async (f) => {
          const info = await stat(join(target, f), { bigint: true });
          return { f, sha256: sha(await readFile(join(target, f))), mode: Number(info.mode & 0o777n), mtimeUs: String(info.mtimeNs / 1000n) };
        }));
        results.push({ error, left, files });
      }
      // Files are written several at a time: either may be the first to fail, and be named.
      const named = (r: unknown) => JSON.parse(JSON.stringify(r).replace(/file \\"[^\\]+\\"/, 'file \\"…\\"')) as unknown;
      expect(named(results[0])).toEqual(named(results[1]));
      return results[0] as { error: { code: string; message: string } | null; files: { f: string; sha256: string; mode: number; mtimeUs: string }[] };
    };

    const intact = await outcome('intact');
    expect(intact.error).toBeNull();
    for (const [name, data] of Object.entries(contents)) {
      // Times come back to the microsecond (utimes' resolution).
      const original = await stat(join(source, name), { bigint: true });
      expect(intact.files.find((x) => x.f === name)).toEqual({ f: name, sha256: sha(data), mode: Number(original.mode & 0o777n), mtimeUs: String(original.mtimeNs / 1000n) });
    }

    const [pack] = (await readdir(join(repoDir, 'data'), { recursive: true })).filter((k) => packIdOf(`data/${k}`));
    const packFile = join(repoDir, 'data', pack);
    const bytes = await readFile(packFile);
    bytes[40] ^= 0xff;
    await writeFile(packFile, bytes);
    const flipped = await outcome('flipped');
    expect(flipped.error).toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/^file "db\/[^"]+": chunk [0-9a-f]{64} in pack [0-9a-f]{64} fails authentication: it was damaged or altered$/) });

    await rm(packFile);
    const missing = await outcome('missing');
    expect(missing.error).toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/^file "(db\/000001.ldb|db\/CURRENT|nodekey)": data\/.* is missing from the repository at /) });
  });

  it('restoring small files onto a full disk fails with NO_SPACE and leaves no partial file', async () => {
    const source = join(work, 'small-full-disk');
    await mkdir(source);
    for (let i = 0; i < 40; i++) await writeFile(join(source, `f${String(i).padStart(2, '0')}`), randomBytes(60 * 1024));
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo-small-full-disk')), {});
    const writer = repo.startBackup();
    await writer.addTree(source);
    const { backupId } = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    const tmpfs = await mountTmpfs(1024 * 1024);
    if (!tmpfs) return;
    try {
      await expect((await repo.openBackup(backupId)).extractTree(join(tmpfs.dir, 'target'))).rejects.toMatchObject({ code: 'NO_SPACE' });
      const left = await readdir(join(tmpfs.dir, 'target'));
      expect(left.filter((name) => name.includes('chainvault-partial'))).toEqual([]);
      // What was restored is whole.
      for (const name of left) expect(sha(await readFile(join(tmpfs.dir, 'target', name)))).toBe(sha(await readFile(join(source, name))));
    } finally {
      await tmpfs.unmount();
    }
  });

  it('fails what a stopped thread was doing with a clear error, and starts a new thread for the next request', async () => {
    const pool = new SealingPool(1);
    const data = Buffer.from(new SharedArrayBuffer(64 * MiB));
    const asked = pool.seal(data, null, 'brotli');
    await pool.close();
    await expect(asked).rejects.toThrow(/a sealing thread stopped/);
    await expect(pool.id(Buffer.from('after'), null)).resolves.toEqual({ id: sha(Buffer.from('after')) });
    await pool.close();
  });

  it('reuses a slot given back, keeps no more than it was told to, and lets older sizes make way for the one in use', () => {
    const slots = new SharedSlots(256 * 1024);
    const first = slots.take(100 * 1024);
    expect(first.length).toBe(128 * 1024);
    first[5] = 42;
    slots.give(first.subarray(0, 10));
    const again = slots.take(70 * 1024);
    expect(again.buffer).toBe(first.buffer);
    slots.give(again);
    const big = slots.take(200 * 1024);
    expect(big.length).toBe(256 * 1024);
    // 128 KiB kept and 256 KiB more would be over the 256 KiB it keeps: the 128 KiB slot makes way.
    slots.give(big);
    expect(slots.take(200 * 1024).buffer).toBe(big.buffer);
    expect(slots.take(100 * 1024).buffer).not.toBe(first.buffer);
    // A slot larger than all it keeps is never kept; nor one of a size that already fills it.
    const huge = slots.take(300 * 1024);
    slots.give(huge);
    expect(slots.take(300 * 1024).buffer).not.toBe(huge.buffer);
    const [one, two] = [slots.take(200 * 1024), slots.take(200 * 1024)];
    slots.give(one);
    slots.give(two);
    expect(slots.take(200 * 1024).buffer).toBe(one.buffer);
    expect(slots.take(200 * 1024).buffer).not.toBe(two.buffer);
  });

  it('joins a chunk that spans two pieces into a slot, which goes back to the slots once the chunk is done and takes the next join', async () => {
    const pool = new SealingPool(1);
    const sizes = { min: 64 * 1024, avg: 128 * 1024, max: 512 * 1024 };
    const shared = (bytes: number) => {
      const piece = Buffer.from(new SharedArrayBuffer(bytes));
      piece.set(randomBytes(bytes));
      return piece;
    };
    try {
      // From no spare slots, so that the join slot is the only one of its size.
      slots.letGo();
      const kept = slots.keptBytes;
      const cut = pool.cutter(sizes);
      const [one, two] = [shared(MiB), shared(MiB)];
      const first = await cut(one, false);
      // Nothing spanned yet: the slot the request brought is back at once.
      expect(slots.keptBytes).toBe(kept + sizes.max);
      const second = await cut(two, true);
      expect(Buffer.concat([...first, ...second]).equals(Buffer.concat([one, two]))).toBe(true);
      // The first chunk of the second piece began in the first: joined, in the slot (taken again from the spare).
      expect(slots.keptBytes).toBe(kept);
      const joined = second[0];
      expect(joined.buffer.byteLength).toBe(sizes.max);
      expect(joined.equals(Buffer.concat([one.subarray(first.reduce((n, c) => n + c.length, 0)), two.subarray(0, joined.length - (MiB - first.reduce((n, c) => n + c.length, 0)))]))).toBe(true);
      // The last chunk lies within the second piece: a view on it, no copy.
      expect(second[second.length - 1].buffer.byteLength).toBe(MiB);
      chunkDone(joined);
      expect(slots.keptBytes).toBe(kept + sizes.max);
      chunkDone(joined); // twice is once
      expect(slots.keptBytes).toBe(kept + sizes.max);
      // The next file's join takes that slot instead of new memory.
      const next = pool.cutter(sizes);
      await next(shared(MiB), false);
      const spanned = await next(shared(MiB), true);
      expect(slots.keptBytes).toBe(kept);
      chunkDone(spanned[0]);
      expect(slots.keptBytes).toBe(kept + sizes.max);
    } finally {
      await pool.close();
    }
  });

  it('lets go of its spare slots once none has been taken for a while, and keeps them while they are in use', async () => {
    const idle = new SharedSlots(MiB, 150);
    const slot = idle.take(100 * 1024);
    idle.give(slot);
    expect(idle.keptBytes).toBe(128 * 1024);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 60));
      idle.give(idle.take(100 * 1024));
    }
    expect(idle.keptBytes).toBe(128 * 1024);
    await new Promise((r) => setTimeout(r, 400));
    expect(idle.keptBytes).toBe(0);
    expect(idle.take(100 * 1024).buffer).not.toBe(slot.buffer);
  });
});
