/**
 * A catalog that cannot be opened stops the start at once, with one message that names it, the
 * error and what to do, and no stack trace; `chainvault catalog check` reads the same catalog
 * without starting the server and says whether it is healthy (exit 0) or not (exit 1).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase, type TestDatabase } from './support/catalog-database';
import { freePort, spawnServer } from './support/server-process';

const MAIN = join(__dirname, '..', '..', 'server', 'dist', 'main.js');
const BIN = join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js');
const STACK_LINE = /^\s+at /m;

interface Run {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a script with the given chainvault settings only; a start that hangs is stopped after 30 s. */
function run(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  const { CHAINVAULT_DATA_DIR: _d, CHAINVAULT_DATABASE_URL: _u, CHAINVAULT_CONFIG: _c, CHAINVAULT_TOKEN: _t, ...rest } = process.env;
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { ...rest, CHAINVAULT_HOST: '127.0.0.1', ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, output: `${stdout}${stderr}`, ms: Date.now() - started }),
    );
  });
}

/** A data directory of a server that started once and stopped. */
async function usedDataDir(databaseUrl?: string): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chainvault-catalog-start-'));
  const server = await spawnServer({ dataDir, databaseUrl });
  server.child.kill('SIGTERM');
  await server.exited;
  return dataDir;
}

describe('a SQLite catalog that cannot be opened', () => {
  let healthy: string;
  let damaged: string;
  let catalogFile: string;

  beforeAll(async () => {
    healthy = await usedDataDir();
    // Only the catalog, cut in half: nothing else a server would need, so a start that got past the catalog would show.
    damaged = await mkdtemp(join(tmpdir(), 'chainvault-catalog-damaged-'));
    catalogFile = join(damaged, 'catalog.sqlite');
    await copyFile(join(healthy, 'catalog.sqlite'), catalogFile);
    await truncate(catalogFile, Math.floor((await stat(catalogFile)).size / 2));
  });

  afterAll(async () => {
    for (const dir of [healthy, damaged]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stops the start in under 2 s with one message: the file, the SQLite error, both remedies, no stack', async () => {
    // The fastest of up to three starts: other test suites running beside this one only ever add time.
    const times: number[] = [];
    for (let attempt = 0; attempt < 3 && !(Math.min(...times) < 2_000); attempt++) {
      const started = await run(MAIN, [], { CHAINVAULT_DATA_DIR: damaged, CHAINVAULT_PORT: String(await freePort()) });
      expect(started.code).toBe(1);
      expect(started.output.trim().split('\n')).toEqual([
        `chainvault could not open its catalog ${catalogFile}: SQLITE_CORRUPT: database disk image is malformed. ` +
          'Restore the catalog from its backup, or run "chainvault catalog check" to see what is damaged.',
      ]);
      expect(started.output).not.toMatch(STACK_LINE);
      times.push(started.ms);
    }
    expect(Math.min(...times)).toBeLessThan(2_000);
  });

  it('`catalog check` says the catalog is damaged and what to do, exits 1, and starts no server', async () => {
    const checked = await run(BIN, ['catalog', 'check'], { CHAINVAULT_DATA_DIR: damaged });

    expect(checked.code).toBe(1);
    expect(checked.output).toContain(`catalog ${catalogFile} (SQLite): damaged`);
    expect(checked.output).toContain('SQLITE_CORRUPT: database disk image is malformed');
    expect(checked.output).toContain('restore the catalog from its backup');
    expect(checked.output).not.toMatch(STACK_LINE);
    // A server would have written its token and key, and made the default repository.
    expect(await readdir(damaged)).not.toEqual(expect.arrayContaining(['admin.token']));
    expect(await readdir(damaged)).not.toEqual(expect.arrayContaining(['secret.key']));
  });

  it('`catalog check` finds a healthy catalog healthy and exits 0', async () => {
    const checked = await run(BIN, ['catalog', 'check'], { CHAINVAULT_DATA_DIR: healthy });

    expect(checked).toMatchObject({ code: 0 });
    expect(checked.output).toContain(`catalog ${join(healthy, 'catalog.sqlite')} (SQLite): healthy`);
    expect(checked.output).toContain('integrity check: ok');
    expect(checked.output).toMatch(/schema: all \d+ migrations applied/);
  });

  it('`catalog check` lists what the integrity check finds in a catalog that still opens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chainvault-catalog-orphans-'));
    try {
      // Two pages that no table or free list owns: the header's page count says they belong to the file.
      const file = join(dir, 'catalog.sqlite');
      const bytes = await readFile(join(healthy, 'catalog.sqlite'));
      const pageSize = bytes.readUInt16BE(16) === 1 ? 65_536 : bytes.readUInt16BE(16);
      const pages = bytes.length / pageSize;
      const grown = Buffer.concat([bytes, Buffer.alloc(2 * pageSize)]);
      grown.writeUInt32BE(pages + 2, 28);
      await writeFile(file, grown);

      const checked = await run(BIN, ['catalog', 'check'], { CHAINVAULT_DATA_DIR: dir });
      expect(checked.code).toBe(1);
      expect(checked.output).toContain('(SQLite): damaged');
      expect(checked.output).toContain('integrity check: 2 problem(s)');
      expect(checked.output).toContain(`Page ${pages + 1}: never used`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('`catalog check` on a data directory without a catalog exits 1 and creates nothing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'chainvault-catalog-empty-'));
    try {
      const checked = await run(BIN, ['catalog', 'check'], { CHAINVAULT_DATA_DIR: empty });
      expect(checked.code).toBe(1);
      expect(checked.output).toContain('(SQLite): missing');
      expect(await readdir(empty)).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('a PostgreSQL catalog', () => {
  let database: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    dataDir = await usedDataDir(database.url);
  });

  afterAll(async () => {
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('`catalog check` reports the migrations of a healthy one and exits 0', async () => {
    const checked = await run(BIN, ['catalog', 'check'], { CHAINVAULT_DATA_DIR: dataDir, CHAINVAULT_DATABASE_URL: database.url });

    expect(checked).toMatchObject({ code: 0 });
    expect(checked.output).toContain(`catalog ${database.url} (PostgreSQL): healthy`);
    expect(checked.output).toMatch(/schema: all \d+ migrations applied/);
  });

  it('one that cannot be reached stops the start after a short wait, naming host and database but never the password', async () => {
    const port = await freePort();
    const url = `postgres://chainvault:hunter2-secret@127.0.0.1:${port}/vault`;
    const started = await run(MAIN, [], { CHAINVAULT_DATA_DIR: dataDir, CHAINVAULT_DATABASE_URL: url, CHAINVAULT_PORT: String(await freePort()) });

    expect(started.code).toBe(1);
    expect(started.ms).toBeLessThan(15_000);
    const lines = started.output.trim().split('\n');
    expect(lines[lines.length - 1]).toBe(
      `chainvault could not open its catalog postgres://chainvault@127.0.0.1:${port}/vault: connect ECONNREFUSED 127.0.0.1:${port}. Check that PostgreSQL runs and is reachable at that address.`,
    );
    expect(started.output).not.toContain('hunter2');
    expect(started.output).not.toMatch(STACK_LINE);

    const checked = await run(BIN, ['catalog', 'check'], { CHAINVAULT_DATA_DIR: dataDir, CHAINVAULT_DATABASE_URL: url });
    expect(checked.code).toBe(1);
    expect(checked.output).toContain('(PostgreSQL): unreachable');
    expect(checked.output).not.toContain('hunter2');
    expect(checked.ms).toBeLessThan(5_000);
  });
});
