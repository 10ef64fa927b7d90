/**
 * The README's runnable blocks, as a user runs them: every shell block marked
 * `<!-- tested: <name> -->` is taken from README.md unchanged and run with bash against a
 * fresh server process, from a folder laid out as the checkout is after `npm start`
 * (`data/admin.token` beside the script, the workspace's packages for `npx chainvault`).
 */
import { compareTrees } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, type ServerProcess } from './support/server-process';

const CHECKOUT = join(__dirname, '..', '..', '..');
/** A user would give up long before: the scripts take seconds on an idle machine. */
const SCRIPT_TIMEOUT_MS = 240_000;

interface RunnableBlock {
  name: string;
  script: string;
}

/** The fenced shell blocks that follow a `<!-- tested: name … -->` marker, in README order. */
function runnableBlocks(markdown: string): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  const marker = /<!--\s*tested:\s*([\w-]+)[^>]*-->\s*\n```(?:sh|bash)\n([\s\S]*?)\n```/g;
  for (const match of markdown.matchAll(marker)) blocks.push({ name: match[1], script: `${match[2]}\n` });
  const markers = markdown.match(/<!--\s*tested:/g)?.length ?? 0;
  if (markers !== blocks.length) throw new Error(`README.md has ${markers} "tested" markers but ${blocks.length} of them stand right before a sh or bash block`);
  return blocks;
}

interface ScriptRun {
  /** The exit code, or the signal that ended it (a run past the time limit is killed). */
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a script with bash in `cwd`, with none of the test run's chainvault settings. */
function runBash(file: string, cwd: string, env: Record<string, string>): Promise<ScriptRun> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CHAINVAULT_')));
  return new Promise((resolve) => {
    execFile('bash', [file], { cwd, env: { ...inherited, ...env }, timeout: SCRIPT_TIMEOUT_MS }, (error, stdout, stderr) => {
      const failed = error as (Error & { code?: number | null; signal?: string | null }) | null;
      resolve({ code: failed ? (failed.signal ? `${failed.signal} after ${SCRIPT_TIMEOUT_MS / 1000} s` : (failed.code ?? 1)) : 0, stdout, stderr });
    });
  });
}

const BLOCKS = runnableBlocks(readFileSync(join(CHECKOUT, 'README.md'), 'utf8'));

describe("the README's runnable blocks", () => {
  it('include the first backup in GraphQL and with the CLI', () => {
    expect(BLOCKS.map((b) => b.name)).toEqual(expect.arrayContaining(['first-backup', 'first-backup-cli']));
  });

  describe.each(BLOCKS.map((b) => [b.name, b] as const))('%s', (name, block) => {
    let work: string;
    let server: ServerProcess | undefined;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), `chainvault-readme-${name}-`));
      // As in the checkout: `npx chainvault` finds the workspace's CLI, the server's data is ./data.
      await symlink(join(CHECKOUT, 'node_modules'), join(work, 'node_modules'));
      server = await spawnServer({ dataDir: join(work, 'data') });
    });

    afterAll(async () => {
      if (server && server.child.exitCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      await rm(work, { recursive: true, force: true });
    });

    it('runs unchanged, restores the folder as it was, and leaves the backup VERIFIED', async () => {
      const file = join(work, `${name}.sh`);
      await writeFile(file, block.script);
      const run = await runBash(file, work, {
        CHAINVAULT_URL: server!.url,
        // The scripts make their sample folder under $TMPDIR: here, the test's own folder.
        TMPDIR: work,
        // `npx chainvault` must find the workspace's CLI, never fetch a package of that name.
        npm_config_yes: 'false',
        npm_config_offline: 'true',
      });
      if (run.code !== 0) {
        throw new Error(`the README's ${name} block ended with ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}\n--- server (last lines)\n${server!.output().split('\n').slice(-30).join('\n')}`);
      }

      if (!name.startsWith('first-backup')) return;
      const source = join(work, 'chainvault-demo');
      expect(await readFile(join(source, 'hello.txt'), 'utf8')).toBe('hello\n');
      expect(await compareTrees(source, join(work, 'data', 'restores', 'demo'))).toEqual([]);
      expect(run.stdout).toMatch(/verification"?:? "?VERIFIED/);

      const { backups } = await server!.client.ok(`{ backups { totalCount nodes { status verification fileCount } } }`);
      expect(backups.totalCount).toBe(1);
      expect(backups.nodes[0]).toEqual({ status: 'COMPLETED', verification: 'VERIFIED', fileCount: 1 });
    }, 300_000);
  });
});
