/**
 * A crash is harmless (README "Write order"): backups and a prune run in child processes that
 * are killed with SIGKILL at random moments, and after each kill the repository must hold only
 * whole backups that verify, and the next backup must reuse what the killed one uploaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { watch } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { LocalBackend, Repository, type Manifest } from './index';

const KiB = 1024;
const MiB = 1024 * KiB;
const DIRECTORIES = 8;
/** Random bytes that stay the same in every iteration, in each of the DIRECTORIES. */
const BASE_FILE_SIZES = [64 * KiB + 7, 300 * KiB, 1 * MiB + 1, 2 * MiB + 333, 3 * MiB - 5, 5 * MiB + 12_345];
/** New random bytes written into each directory at the start of every iteration. */
const FRESH_FILE_BYTES = 5 * MiB + 777;
/** A pack header describes at most a few dozen chunks (64 KiB minimum, 1 MiB packs): well under this. */
const MAX_PACK_HEADER = 8 * KiB;

const LIBRARY = join(__dirname, '..', 'dist');

/** The child: opens the repository (1 MiB packs, 64K/256K/1M chunks) and backs up or prunes, as the job handlers do. */
const CHILD = `
const { LocalBackend, Repository } = require(${JSON.stringify(LIBRARY)});
const [command, repoDir, sourceDir, backupId, previousId] = process.argv.slice(2);
(async () => {
  const repository = await Repository.openOrInit(new LocalBackend(repoDir), {
    packSize: ${MiB},
    chunkSizes: { min: ${64 * KiB}, avg: ${256 * KiB}, max: ${MiB} },
  });
  if (command === 'prune') {
    const result = await repository.prune();
    process.stdout.write(JSON.stringify({ pruned: result }) + '\\n');
    return;
  }
  const previous = previousId ? await repository.readManifest(previousId) : null;
  const lock = await repository.lock('shared', 'backup ' + backupId);
  try {
    await repository.refreshIndex();
    const writer = repository.startBackup({ backupId, previous });
    await writer.addTree(sourceDir);
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    process.stdout.write(JSON.stringify({ committed: backupId, stats: manifest.stats }) + '\\n');
  } finally {
    await lock.release();
  }
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + '\\n');
  process.exitCode = 1;
});
`;

interface ChildRun {
  child: ChildProcess;
  startedAt: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>;
}

/** When to kill a child. */
type KillMoment =
  | { after: 'its lock'; extraMs: number }
  | { after: 'new packs'; count: number }
  | { after: 'a delay'; ms: number }
  | { after: 'a new index file' };

const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a backup or prune killed with SIGKILL at any moment', () => {
  let work: string;
  let repoDir: string;
  let source: string;
  let childScript: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-kill-'));
    repoDir = join(work, 'repo');
    source = join(work, 'source');
    childScript = join(work, 'child.js');
    await writeFile(childScript, CHILD);
    await writeSampleTree(join(source, 'sample'));
    for (let d = 0; d < DIRECTORIES; d += 1) {
      await mkdir(join(source, `d${d}`));
      for (const [i, size] of BASE_FILE_SIZES.entries()) await writeFile(join(source, `d${d}`, `base-${i}.bin`), randomFillSync(Buffer.allocUnsafe(size)));
    }
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  function startChild(args: string[]): ChildRun {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [childScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr!.on('data', (data: Buffer) => (stderr += data.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - startedAt })),
    );
    return { child, startedAt, exited };
  }

  /** Runs a child to its end; it must succeed. Returns what it printed (one JSON line). */
  async function runToEnd(args: string[]): Promise<{ output: Record<string, unknown>; ms: number }> {
    const { code, signal, stdout, stderr, ms } = await startChild(args).exited;
    if (code !== 0) throw new Error(`child ${args.join(' ')} failed (code ${code}, signal ${signal}):\n${stderr}`);
    return { output: JSON.parse(stdout) as Record<string, unknown>, ms };
  }

  /** Pack keys and their sizes, straight from the repository directory. */
  async function packFiles(): Promise<Map<string, number>> {
    const packs = new Map<string, number>();
    const data = join(repoDir, 'data');
    for (const prefix of await readdir(data).catch(() => [] as string[])) {
      for (const name of await readdir(join(data, prefix)).catch(() => [] as string[])) {
        const size = await stat(join(data, prefix, name)).then((s) => s.size, () => -1);
        if (size >= 0) packs.set(name, size);
      }
    }
    return packs;
  }

  async function lockHeldBy(pid: number): Promise<boolean> {
    for (const name of await readdir(join(repoDir, 'locks')).catch(() => [] as string[])) {
      const record = await readFile(join(repoDir, 'locks', name), 'utf8').then((text) => JSON.parse(text) as { pid: number }, () => null);
      if (record?.pid === pid) return true;
    }
    return false;
  }

  /** Waits for the moment, then kills the child. Returns how it ended and when the kill was sent. */
  async function killAt(run: ChildRun, moment: KillMoment) {
    let exited = false;
    void run.exited.then(() => (exited = true));
    const until = async (condition: () => Promise<boolean>) => {
      while (!exited && !(await condition())) await sleep(5);
    };
    if (moment.after === 'its lock') {
      await until(() => lockHeldBy(run.child.pid!));
      await sleep(moment.extraMs);
    } else if (moment.after === 'new packs') {
      const before = (await packFiles()).size;
      await until(async () => (await packFiles()).size >= before + moment.count);
    } else if (moment.after === 'a delay') {
      await Promise.race([sleep(moment.ms), run.exited]);
    } else {
      // Watched, not polled: the manifest (or prune's deletions) follow the index at once.
      await mkdir(join(repoDir, 'index'), { recursive: true });
      await new Promise<void>((resolve) => {
        const watcher = watch(join(repoDir, 'index'), () => {
          run.child.kill('SIGKILL');
          watcher.close();
          resolve();
        });
        void run.exited.then(() => {
          watcher.close();
          resolve();
        });
      });
    }
    const killedAfterMs = Date.now() - run.startedAt;
    run.child.kill('SIGKILL');
    return { ...(await run.exited), killedAfterMs };
  }

  /** Every path of the source tree, as a manifest names them. */
  async function sourcePaths(): Promise<string[]> {
    const paths = ['.'];
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const name of (await readdir(dir)).sort()) {
        const path = rel === '' ? name : `${rel}/${name}`;
        paths.push(path);
        if ((await lstat(join(dir, name))).isDirectory()) await walk(join(dir, name), path);
      }
    };
    await walk(source, '');
    return paths.sort();
  }

  /** Replaces the fresh file of every directory with new random bytes; returns their total size. */
  async function freshData(iteration: number): Promise<number> {
    for (let d = 0; d < DIRECTORIES; d += 1) {
      await rm(join(source, `d${d}`, `fresh-${iteration - 1}.bin`), { force: true });
      await writeFile(join(source, `d${d}`, `fresh-${iteration}.bin`), randomFillSync(Buffer.allocUnsafe(FRESH_FILE_BYTES + d)));
    }
    return DIRECTORIES * FRESH_FILE_BYTES + (DIRECTORIES * (DIRECTORIES - 1)) / 2;
  }

  /** Every backup in the repository verifies, reading all data, and they are exactly `expected`. */
  async function expectIntact(expected: Set<string>): Promise<Repository> {
    const repository = await Repository.open(new LocalBackend(repoDir));
    expect(await repository.listBackups()).toEqual([...expected].sort());
    for (const id of expected) {
      const { problems } = await repository.verify(id, { readData: true });
      if (problems.length > 0) throw new Error(`backup ${id} does not verify: ${problems.slice(0, 5).join('; ')}`);
    }
    return repository;
  }

  async function expectRestores(repository: Repository, backupId: string): Promise<void> {
    const target = join(work, `restore-${randomBytes(4).toString('hex')}`);
    await (await repository.openBackup(backupId)).extractTree(target);
    expect(await compareTrees(source, target)).toEqual([]);
    await rm(target, { recursive: true, force: true });
  }

  it('leaves only whole backups that verify, and the next backup reuses what the killed one uploaded', async () => {
    // One complete run first: it is the first backup, and it says how long a run takes.
    const committed = new Set<string>();
    let latest = randomUUID();
    await freshData(0);
    let typicalMs = (await runToEnd(['backup', repoDir, source, latest])).ms;
    committed.add(latest);

    const moments: (() => KillMoment)[] = [
      () => ({ after: 'its lock', extraMs: randomInt(0, 20) }),
      () => ({ after: 'new packs', count: randomInt(1, 30) }),
      () => ({ after: 'a delay', ms: randomInt(50, typicalMs) }),
      () => ({ after: 'a new index file' }),
      () => ({ after: 'new packs', count: randomInt(1, 30) }),
      () => ({ after: 'a delay', ms: randomInt(50, typicalMs) }),
      () => ({ after: 'a delay', ms: randomInt(Math.floor(typicalMs * 0.8), typicalMs + 100) }),
      () => ({ after: 'new packs', count: randomInt(1, 30) }),
    ];
    for (const [iteration, nextMoment] of moments.entries()) {
      const moment = nextMoment();
      let context = `iteration ${iteration}, killed after ${JSON.stringify(moment)}`;
      try {
        const freshBytes = await freshData(iteration + 1);
        const paths = await sourcePaths();
        const packsBefore = await packFiles();
        const killedId = randomUUID();
        const killed = await killAt(startChild(['backup', repoDir, source, killedId, latest]), moment);
        context += ` (${killed.killedAfterMs} ms after start, typical run ${typicalMs} ms)`;
        if (killed.code !== 0 && killed.signal !== 'SIGKILL') throw new Error(`the child failed before the kill:\n${killed.stderr}`);
        const uploaded = [...(await packFiles())].filter(([pack]) => !packsBefore.has(pack));

        // The killed backup exists only if its manifest was written, and then it is whole.
        const repository = await Repository.open(new LocalBackend(repoDir));
        const visible = await repository.hasBackup(killedId);
        if (killed.stdout.includes('"committed"') && !visible) throw new Error('the child reported its backup committed, but there is no manifest');
        if (visible) {
          const manifest = await repository.readManifest(killedId);
          expect(manifest.entries.map((entry) => entry.path).sort()).toEqual(paths);
          committed.add(killedId);
          latest = killedId;
        }
        await expectIntact(committed);

        if (iteration % 2 === 1) {
          const completeId = randomUUID();
          const complete = await runToEnd(['backup', repoDir, source, completeId, latest]);
          const stats = complete.output.stats as Manifest['stats'];
          typicalMs = complete.ms;
          committed.add(completeId);
          latest = completeId;
          await expectRestores(await expectIntact(committed), completeId);
          // Only this iteration's fresh bytes are new, and the killed run uploaded some of them
          // in whole packs. Reused, those packs and what this run stored add up to the fresh
          // bytes plus the packs' headers; stored again, they would count twice.
          const uploadedBytes = uploaded.reduce((n, [, size]) => n + size, 0);
          const beyondFresh = stats.storedBytes + uploadedBytes - freshBytes;
          if (beyondFresh < 0 || beyondFresh > uploaded.length * MAX_PACK_HEADER) {
            throw new Error(
              `the complete run stored ${stats.storedBytes} bytes after the killed one uploaded ${uploaded.length} packs (${uploadedBytes} bytes) of ${freshBytes} new bytes: ${beyondFresh} bytes beyond them`,
            );
          }
        }

        if (iteration === 4) {
          // Kill a prune right after it wrote its new index, while it deletes old indexes and packs.
          for (const id of committed) {
            if (id === latest) continue;
            await repository.deleteBackup(id);
            committed.delete(id);
          }
          context += '; then a prune killed after its new index';
          const prune = await killAt(startChild(['prune', repoDir]), { after: 'a new index file' });
          if (prune.signal !== 'SIGKILL') throw new Error(`the prune was not killed: it ended with code ${prune.code}\n${prune.stderr}`);
          await expectIntact(committed);
        }
      } catch (error) {
        throw new Error(`${context}: ${(error as Error).message}`, { cause: error });
      }
    }

    // A later prune finishes the job: nothing is left for another prune, and the kept backups restore.
    await runToEnd(['prune', repoDir]);
    const repository = await expectIntact(committed);
    const again = await repository.prune({ dryRun: true });
    expect({ deleted: again.packsDeleted, repacked: again.packsRepacked }).toEqual({ deleted: 0, repacked: 0 });
    await expectRestores(repository, latest);
  }, 170_000);
});
