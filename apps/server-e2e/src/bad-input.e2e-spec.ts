/**
 * Every wrong input gets a clear error with a stable code, and changes nothing (DESIGN §6, §10):
 * the catalog lists read the same afterwards, and no file is created or touched.
 */
import { RestoreEntity } from '@chainvault/core';
import { getIntrospectionQuery } from 'graphql';
import { createHash, randomUUID } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { GraphqlError } from './support/graphql-client';
import { BACKUP, CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, RUN_BACKUP, VERIFY, backupNow, createDirectoryPolicy, type DirectoryPolicy } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const CATALOG = `{
  networks { id name protocol }
  nodes { id networkId name plugin config }
  destinations { id name kind config }
  policies { id name nodeId networkId destinationIds enabled options retention { keepLast keepWithin } schedule { preset cron timeZone } }
  jobs { id kind status }
  backups(filter: { status: [RUNNING, COMPLETED, PARTIAL, FAILED, DELETED] }) { totalCount nodes { id status pinned } }
}`;
const DELETE = `mutation ($id: ID!) { deleteBackup(id: $id) }`;
const PIN = `mutation ($id: ID!, $pinned: Boolean!) { pinBackup(id: $id, pinned: $pinned) { id pinned status } }`;
const CANCEL = `mutation ($id: ID!) { cancelJob(id: $id) { id status error } }`;

/** Every entry under `dir` with its type, mode, size, mtime and content hash: equal snapshots mean nothing was touched. */
async function snapshotTree(dir: string): Promise<Record<string, string> | 'missing'> {
  const entries: Record<string, string> = {};
  const visit = async (full: string, path: string): Promise<void> => {
    const info = await lstat(full);
    const content = info.isFile() ? createHash('sha256').update(await readFile(full)).digest('hex') : '';
    entries[path] = `${info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other'} ${info.mode.toString(8)} ${info.size} ${info.mtimeMs} ${content}`;
    if (info.isDirectory()) for (const name of (await readdir(full)).sort()) await visit(join(full, name), `${path}/${name}`);
  };
  try {
    await visit(dir, '.');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  return entries;
}

describe('bad input through GraphQL: a clear error, and nothing changed', () => {
  let server: TestServer;
  let work: string;
  let source: string;
  let setup: DirectoryPolicy;
  let backupId: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-bad-input-'));
    source = join(work, 'source');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'a.txt'), 'alpha\n');
    await writeFile(join(source, 'sub', 'b.txt'), 'beta\n');
    server = await startTestServer();
    setup = await createDirectoryPolicy(server.client, 'good', source, join(work, 'repository'));
    const job = await backupNow(server.client, setup.policyId);
    expect(job.status).toBe('COMPLETED');
    backupId = job.backupId;
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  const catalog = () => server.client.ok(CATALOG);

  /**
   * Sends an operation that must be refused with `code`, checks the message says what is wrong
   * (every pattern matches), carries no stack trace, and that the catalog is the same afterwards.
   */
  async function refused(query: string, variables: Record<string, unknown>, code: string, ...patterns: RegExp[]): Promise<GraphqlError> {
    const before = await catalog();
    const error = await server.client.fails(query, variables);
    expect({ code: error.extensions?.code, message: error.message }).toEqual({ code, message: expect.any(String) });
    for (const pattern of patterns) expect(error.message).toMatch(pattern);
    expect(JSON.stringify(error)).not.toMatch(/stacktrace|\n\s+at /);
    expect(await catalog()).toEqual(before);
    return error;
  }

  describe('networks and nodes', () => {
    const node = (config: unknown, overrides: Record<string, unknown> = {}) => ({
      input: { networkId: setup.networkId, name: 'another', plugin: 'directory', role: 'node', config, ...overrides },
    });

    it('refuses an unknown plugin, naming it and listing the loaded ones', async () => {
      await refused(REGISTER_NODE, node({ path: '/srv/x' }, { plugin: 'etherium' }), 'BAD_USER_INPUT', /unknown plugin "etherium"/, /loaded plugins: .*directory/);
    });

    it('refuses a plugin that does not serve the network protocol', async () => {
      const { createNetwork } = await server.client.ok(CREATE_NETWORK, { input: { name: 'eth-net', protocol: 'geth' } });
      await refused(REGISTER_NODE, node({ path: '/srv/x' }, { networkId: createNetwork.id }), 'BAD_USER_INPUT', /plugin "directory" serves directory/, /"eth-net" is geth/);
    });

    it.each([
      ['a missing path', {}, [/config: missing required field "path"/]],
      ['a path that is not a string', { path: 42 }, [/config\.path: must be string/]],
      ['an unknown field', { path: '/srv/x', extra: 1 }, [/config: unknown field "extra"/]],
      ['a relative path', { path: 'srv/x' }, [/path must be absolute/, /"srv\/x"/]],
      ['a config that is not an object', 'srv/x', [/config must be a JSON object/]],
    ])('refuses a node config with %s, naming the field', async (_what, config, patterns) => {
      await refused(REGISTER_NODE, node(config), 'BAD_USER_INPUT', ...patterns);
    });

    it('refuses a node of a network that does not exist', async () => {
      const networkId = randomUUID();
      await refused(REGISTER_NODE, node({ path: '/srv/x' }, { networkId }), 'NOT_FOUND', new RegExp(`network ${networkId} does not exist`));
    });

    it('refuses a second node with the same name in a network', async () => {
      await refused(REGISTER_NODE, node({ path: '/srv/other' }, { name: 'good-files' }), 'CONFLICT', /network "good" already has a node named "good-files"/);
    });

    it('refuses a second network with the same name', async () => {
      await refused(CREATE_NETWORK, { input: { name: 'good', protocol: 'directory' } }, 'CONFLICT', /a network named "good" already exists/);
    });

    it('refuses a name that is empty or made of symbols', async () => {
      await refused(CREATE_NETWORK, { input: { name: '  ', protocol: 'directory' } }, 'BAD_USER_INPUT', /name must be 1-200 letters/);
      await refused(REGISTER_NODE, node({ path: '/srv/x' }, { name: '../etc' }), 'BAD_USER_INPUT', /name must be 1-200 letters/, /"\.\.\/etc"/);
    });
  });

  describe('policies', () => {
    const policy = (overrides: Record<string, unknown>) => ({
      input: { name: 'new-policy', nodeId: setup.nodeId, method: 'snapshot', destinationIds: [setup.destinationId], ...overrides },
    });

    it('refuses a destination that does not exist', async () => {
      const missing = randomUUID();
      await refused(CREATE_POLICY, policy({ destinationIds: [missing] }), 'NOT_FOUND', new RegExp(`destination ${missing} does not exist`));
    });

    it('refuses a policy without destinations', async () => {
      await refused(CREATE_POLICY, policy({ destinationIds: [] }), 'BAD_USER_INPUT', /destinationIds: give at least one destination/);
    });

    it('refuses both a node and a network, or neither', async () => {
      await refused(CREATE_POLICY, policy({ networkId: setup.networkId }), 'BAD_USER_INPUT', /either nodeId .* or networkId/);
      await refused(CREATE_POLICY, policy({ nodeId: null }), 'BAD_USER_INPUT', /either nodeId .* or networkId/);
    });

    it('refuses a node that does not exist and a method the plugin does not have', async () => {
      const missing = randomUUID();
      await refused(CREATE_POLICY, policy({ nodeId: missing }), 'NOT_FOUND', new RegExp(`node ${missing} does not exist`));
      await refused(CREATE_POLICY, policy({ method: 'snapshots' }), 'BAD_USER_INPUT', /plugin "directory" has no method "snapshots"/, /its methods: snapshot/);
    });

    it.each([
      ['words', 'every night at two', /schedule\.cron: "every night at two" is not a cron expression/],
      ['too few fields', '0 2 * *', /schedule\.cron: "0 2 \* \*" is not a cron expression/],
      ['five words', 'at two every night please', /schedule\.cron: .* minute "at" is not in 0-59/],
      ['an hour that does not exist', '0 25 * * *', /schedule\.cron: "0 25 \* \* \*" is not a cron expression: hour "25" is not in 0-23/],
      ['a minute that does not exist', '61 * * * *', /minute "61" is not in 0-59/],
      ['a month name that does not exist', '0 2 1 JAN,FOO *', /month "FOO" is not in 1-12 or a name/],
      ['a backwards range', '0 2 * * 5-1', /day of week range "5-1" runs backwards/],
      ['a step of zero', '*/0 * * * *', /minute step "\/0" must be 1 or more/],
      ['a second that does not exist', '60 0 2 * * *', /second "60" is not in 0-59/],
    ])('refuses a cron schedule with %s', async (_what, cron, pattern) => {
      await refused(CREATE_POLICY, policy({ schedule: { cron } }), 'BAD_USER_INPUT', pattern);
    });

    it.each([
      ['every-6h', '0 */6 * * *'],
      ['weekdays', '30 2 * * mon-FRI'],
      ['twice-a-year', '0 0 1 JAN,7 *'],
      ['sundays', '0 3 * * 0,7'],
      ['seconds', '*/15 * 1-5 * * ?'],
    ])('still accepts the valid cron schedule %s: %s', async (name, cron) => {
      const { createPolicy } = await server.client.ok(CREATE_POLICY, policy({ name, schedule: { cron, timeZone: 'Europe/Berlin' }, enabled: false }));
      const { policies } = await server.client.ok(`{ policies { id schedule { cron timeZone } } }`);
      expect(policies.find((p: { id: string }) => p.id === createPolicy.id).schedule).toEqual({ cron, timeZone: 'Europe/Berlin' });
    });

    it('refuses a time zone that is not an IANA name, and a preset together with a cron', async () => {
      await refused(CREATE_POLICY, policy({ schedule: { preset: 'DAILY', timeZone: 'Mars/Olympus_Mons' } }), 'BAD_USER_INPUT', /schedule\.timeZone: "Mars\/Olympus_Mons" is not an IANA time zone/);
      await refused(CREATE_POLICY, policy({ schedule: { preset: 'DAILY', cron: '0 2 * * *' } }), 'BAD_USER_INPUT', /schedule: give either preset or cron/);
    });

    it('refuses negative or malformed retention rules', async () => {
      await refused(CREATE_POLICY, policy({ retention: { keepLast: -1 } }), 'BAD_USER_INPUT', /retention\.keepLast must be a whole number of 0 or more, got -1/);
      await refused(CREATE_POLICY, policy({ retention: { keepWithin: '30 days' } }), 'BAD_USER_INPUT', /retention\.keepWithin must be a duration/, /"30 days"/);
    });

    it('refuses options the method does not know, and a second policy with the same name', async () => {
      await refused(CREATE_POLICY, policy({ options: { compress: true } }), 'BAD_USER_INPUT', /options: unknown field "compress"/);
      await refused(CREATE_POLICY, policy({ name: 'good-policy' }), 'CONFLICT', /a policy named "good-policy" already exists/);
    });
  });

  describe('destinations', () => {
    it('refuses a LOCAL destination in a directory that holds other files, and leaves them alone', async () => {
      const dir = join(work, 'not-a-repository');
      await mkdir(join(dir, 'keep'), { recursive: true });
      await writeFile(join(dir, 'notes.txt'), 'my notes\n');
      await writeFile(join(dir, 'keep', 'config'), 'do not touch\n');
      const before = await snapshotTree(dir);
      await refused(CREATE_DESTINATION, { input: { name: 'elsewhere', kind: 'LOCAL', config: { path: dir } } }, 'BAD_USER_INPUT', /is not empty and holds no chainvault repository/, /choose an empty location/);
      expect(await snapshotTree(dir)).toEqual(before);
    });

    it('refuses a LOCAL destination that is a file', async () => {
      const file = join(work, 'a-file');
      await writeFile(file, 'data\n');
      const before = await snapshotTree(file);
      await refused(CREATE_DESTINATION, { input: { name: 'elsewhere', kind: 'LOCAL', config: { path: file } } }, 'BAD_USER_INPUT', /destination "elsewhere"/);
      expect(await snapshotTree(file)).toEqual(before);
    });

    it('refuses a LOCAL config without a path or with unknown fields', async () => {
      await refused(CREATE_DESTINATION, { input: { name: 'elsewhere', kind: 'LOCAL', config: {} } }, 'BAD_USER_INPUT', /config: missing required field "path"/);
      await refused(CREATE_DESTINATION, { input: { name: 'elsewhere', kind: 'LOCAL', config: { path: join(work, 'x'), bucket: 'b' } } }, 'BAD_USER_INPUT', /unknown field "bucket"/);
      expect(await snapshotTree(join(work, 'x'))).toBe('missing');
    });

    it('refuses S3 and SFTP configs that miss required fields or name a field of another kind', async () => {
      await refused(CREATE_DESTINATION, { input: { name: 'bucket', kind: 'S3', config: { prefix: 'backups' } } }, 'BAD_USER_INPUT', /config does not fit an S3 destination/, /config: missing required field "bucket"/);
      await refused(CREATE_DESTINATION, { input: { name: 'bucket', kind: 'S3', config: { bucket: 'backups', path: '/srv/x' } } }, 'BAD_USER_INPUT', /config: unknown field "path"/);
      await refused(CREATE_DESTINATION, { input: { name: 'bucket', kind: 'S3', config: { bucket: 'http://s3.example.com/backups' } } }, 'BAD_USER_INPUT', /S3 destination config: bucket must be a bucket name/);
      await refused(CREATE_DESTINATION, { input: { name: 'sftp', kind: 'SFTP', config: { host: 'x' } } }, 'BAD_USER_INPUT', /config does not fit an SFTP destination/, /missing required field "username"/, /missing required field "privateKey"/);
      await refused(CREATE_DESTINATION, { input: { name: 'sftp', kind: 'SFTP', config: { host: 'x', username: 'u', path: 'p', privateKey: 'k', port: 70000 } } }, 'BAD_USER_INPUT', /config\.port: must be <= 65535/);
    });

    it('refuses a second destination with the same name', async () => {
      await refused(CREATE_DESTINATION, { input: { name: 'good-repo', kind: 'LOCAL', config: { path: join(work, 'y') } } }, 'CONFLICT', /a destination named "good-repo" already exists/);
      expect(await snapshotTree(join(work, 'y'))).toBe('missing');
    });
  });

  describe('restores', () => {
    const restoreCount = () => server.app.get(DataSource).getRepository(RestoreEntity).count();

    /** A restore that must be refused without a job, a restore record, or a change to `watched`. */
    async function restoreRefused(input: Record<string, unknown>, watched: string, ...patterns: RegExp[]): Promise<void> {
      await restoreRefusedWith('BAD_USER_INPUT', input, watched, ...patterns);
    }

    async function restoreRefusedWith(code: string, input: Record<string, unknown>, watched: string, ...patterns: RegExp[]): Promise<void> {
      const [restoresBefore, treeBefore, sourceBefore] = [await restoreCount(), await snapshotTree(watched), await snapshotTree(source)];
      await refused(RESTORE, { input: { backupId, ...input } }, code, ...patterns);
      expect(await restoreCount()).toBe(restoresBefore);
      expect(await snapshotTree(watched)).toEqual(treeBefore);
      expect(await snapshotTree(source)).toEqual(sourceBefore);
    }

    it('refuses a target inside the backed-up directory, and creates nothing there', async () => {
      const inside = join(source, 'restored');
      await restoreRefused({ targetConfig: { path: inside } }, inside, /is inside the backed-up directory/, /choose a directory outside it/);
      expect(await snapshotTree(inside)).toBe('missing');
    });

    it('refuses a target that contains the backed-up directory', async () => {
      // `work` also holds the destination's repository, which no restore may cover.
      await restoreRefusedWith('FORBIDDEN', { targetConfig: { path: work } }, work, /contains the repository of destination/);
      await restoreRefused({ targetConfig: { path: `${source}/sub/..` } }, source, /inside the backed-up directory/);
    });

    it('refuses a target that is not empty, and leaves its files alone', async () => {
      const target = join(work, 'occupied');
      await mkdir(target);
      await writeFile(join(target, 'precious.db'), 'the only copy\n');
      await restoreRefused({ targetConfig: { path: target } }, target, /is not empty/, /nothing is overwritten/);
    });

    it('refuses a relative or missing target path, and both or neither kind of target', async () => {
      await restoreRefused({ targetConfig: { path: 'restored' } }, join(process.cwd(), 'restored'), /must be absolute/);
      await restoreRefused({ targetConfig: {} }, work, /targetConfig: missing required field "path"/);
      await restoreRefused({}, work, /one of targetNodeId .*targetNodeIds .* or targetConfig/);
      await restoreRefused({ targetNodeId: setup.nodeId, targetConfig: { path: join(work, 'new') } }, work, /one of targetNodeId .*targetNodeIds .* or targetConfig/);
    });
  });

  describe('ids that do not exist', () => {
    it.each([randomUUID(), 'not-an-id'])('answers NOT_FOUND for backup %s in every mutation, and null in queries', async (id) => {
      const pattern = new RegExp(`backup ${id} does not exist`);
      await refused(RESTORE, { input: { backupId: id, targetConfig: { path: join(work, 'never') } } }, 'NOT_FOUND', pattern);
      await refused(VERIFY, { id, readData: true }, 'NOT_FOUND', pattern);
      await refused(DELETE, { id }, 'NOT_FOUND', pattern);
      await refused(PIN, { id, pinned: true }, 'NOT_FOUND', pattern);
      expect(await snapshotTree(join(work, 'never'))).toBe('missing');
      expect(await server.client.ok(BACKUP, { id })).toEqual({ backup: null });
      expect(await server.client.ok(`query ($id: ID!) { job(id: $id) { id } }`, { id })).toEqual({ job: null });
    });

    it('answers NOT_FOUND for a policy, a job or a network that does not exist', async () => {
      const id = randomUUID();
      await refused(RUN_BACKUP, { policyId: id }, 'NOT_FOUND', new RegExp(`policy ${id} does not exist`));
      await refused(CANCEL, { id }, 'NOT_FOUND', new RegExp(`job ${id} does not exist`));
      await refused(`query ($id: ID!) { chainHistory(networkId: $id) }`, { id }, 'NOT_FOUND', new RegExp(`network ${id} does not exist`));
    });
  });

  describe('jobs', () => {
    it('refuses to cancel a job that already ended', async () => {
      const { jobs } = await server.client.ok(`{ jobs(status: [COMPLETED]) { id } }`);
      expect(jobs.length).toBeGreaterThan(0);
      const error = await refused(CANCEL, { id: jobs[0].id }, 'CONFLICT', /already ended \(COMPLETED\)/, /nothing to cancel/);
      expect(error.message).toContain(jobs[0].id);
    });

    describe('while a backup of a policy is queued or running', () => {
      let slow: DirectoryPolicy;
      const jobIds = async () => (await server.client.ok(`{ jobs { id } }`)).jobs.map((j: { id: string }) => j.id);

      beforeAll(async () => {
        // A large sparse file keeps a run busy for seconds, long after the next request arrived.
        const slowSource = join(work, 'slow-source');
        await mkdir(slowSource);
        await writeFile(join(slowSource, 'big.img'), '');
        await truncate(join(slowSource, 'big.img'), 1024 * 1024 * 1024);
        slow = await createDirectoryPolicy(server.client, 'slow', slowSource, join(work, 'slow-repository'));
      });

      /** Cancels the run and checks it ends CANCELLED without leaving a backup behind. */
      async function cancelRun(jobId: string): Promise<void> {
        const { cancelJob } = await server.client.ok(CANCEL, { id: jobId });
        expect(['RUNNING', 'CANCELLED']).toContain(cancelJob.status);
        expect((await server.client.waitForJob(jobId, 30_000)).status).toBe('CANCELLED');
        const { backups } = await server.client.ok(`query ($p: ID!) { backups(filter: { policyId: $p, status: [RUNNING, COMPLETED, PARTIAL, FAILED, DELETED] }) { totalCount } }`, { p: slow.policyId });
        expect(backups.totalCount).toBe(0);
      }

      it('refuses a second run, naming the job that is in the way', async () => {
        const { runBackup: first } = await server.client.ok(RUN_BACKUP, { policyId: slow.policyId });
        const jobsBefore = await jobIds();
        const error = await server.client.fails(RUN_BACKUP, { policyId: slow.policyId });
        expect(error.extensions).toEqual({ code: 'CONFLICT', jobId: first.id });
        expect(error.message).toMatch(new RegExp(`policy "slow-policy" already has a backup (queued|running) \\(job ${first.id}\\)`));
        expect(await jobIds()).toEqual(jobsBefore);

        await cancelRun(first.id);
        await refused(CANCEL, { id: first.id }, 'CONFLICT', /already ended \(CANCELLED\)/);
      });

      it('starts one run when two requests arrive at once', async () => {
        const jobsBefore = await jobIds();
        const results = await Promise.all([server.client.request(RUN_BACKUP, { policyId: slow.policyId }), server.client.request(RUN_BACKUP, { policyId: slow.policyId })]);
        const started = results.filter((r) => r.data?.runBackup).map((r) => r.data!.runBackup.id as string);
        expect(started).toHaveLength(1);
        expect(results.filter((r) => r.errors?.length).map((r) => r.errors![0].extensions)).toEqual([{ code: 'CONFLICT', jobId: started[0] }]);
        expect((await jobIds()).filter((id: string) => !jobsBefore.includes(id))).toEqual(started);
        await cancelRun(started[0]);
      });
    });
  });

  describe('pinned and deleted backups', () => {
    it('refuses to delete a pinned backup; once unpinned it is deleted, hidden by default, and cannot be used', async () => {
      const { pinBackup } = await server.client.ok(PIN, { id: backupId, pinned: true });
      expect(pinBackup).toEqual({ id: backupId, pinned: true, status: 'COMPLETED' });
      await refused(DELETE, { id: backupId }, 'CONFLICT', /is pinned; unpin it before deleting it/);
      expect((await server.client.ok(BACKUP, { id: backupId })).backup.status).toBe('COMPLETED');

      expect((await server.client.ok(PIN, { id: backupId, pinned: false })).pinBackup.pinned).toBe(false);
      expect(await server.client.ok(DELETE, { id: backupId })).toEqual({ deleteBackup: true });

      const list = (status?: string[]) =>
        server.client.ok(`query ($f: BackupFilter) { backups(filter: $f) { totalCount nodes { id status } } }`, { f: { policyId: setup.policyId, ...(status ? { status } : {}) } });
      expect((await list()).backups).toEqual({ totalCount: 0, nodes: [] });
      expect((await list(['DELETED'])).backups).toEqual({ totalCount: 1, nodes: [{ id: backupId, status: 'DELETED' }] });
      // The record of a deleted backup still reads, without the file list that went with it.
      const { backup } = await server.client.ok(BACKUP, { id: backupId });
      expect(backup).toMatchObject({ id: backupId, status: 'DELETED', fileCount: 2, files: [] });

      const target = join(work, 'from-deleted');
      await refused(RESTORE, { input: { backupId, targetConfig: { path: target } } }, 'CONFLICT', new RegExp(`backup ${backupId} is DELETED and cannot be used`));
      expect(await snapshotTree(target)).toBe('missing');
      await refused(VERIFY, { id: backupId, readData: true }, 'CONFLICT', /is DELETED and cannot be used/);
      await refused(PIN, { id: backupId, pinned: true }, 'CONFLICT', /was deleted/);
      await refused(DELETE, { id: backupId }, 'CONFLICT', /was already deleted/);
    });
  });

  describe('requests GraphQL itself refuses', () => {
    it.each([
      ['a missing required argument', `mutation { runBackup { id } }`, {}, [/argument "policyId" of type "ID!" is required/]],
      ['an unknown field', `{ networks { id colour } }`, {}, [/Cannot query field "colour" on type "Network"/]],
      ['a wrong argument type', `{ backups(first: "ten") { totalCount } }`, {}, [/Int cannot represent non-integer value: "ten"/]],
      ['a wrong variable type', `query ($n: Int) { backups(first: $n) { totalCount } }`, { n: 'ten' }, [/\$n/, /Int cannot represent non-integer value/]],
      ['an unknown enum value', `{ jobs(status: [DONE]) { id } }`, {}, [/"DONE" does not exist in "JobStatus"/]],
      ['a syntax error', `{ networks { id }`, {}, [/Syntax Error/]],
    ])('answers BAD_USER_INPUT to %s', async (_what, query, variables, patterns) => {
      await refused(query, variables, 'BAD_USER_INPUT', ...patterns);
    });

    /**
     * The schema has no recursive type yet, so a query deeper than the limit (10) can only be
     * built by selecting below a leaf; the depth rule still answers it, beside graphql-js's own.
     */
    const deep = (levels: number) => `{ backups { edges { node { files { path ${'{ x '.repeat(levels - 5)}${'}'.repeat(levels - 5)} } } } } }`;
    const depthError = (errors: GraphqlError[] | undefined) => errors?.find((e) => /levels deep/.test(e.message));

    it('refuses a query nested deeper than 10 levels, saying how deep it was', async () => {
      const before = await catalog();
      const result = await server.client.request(deep(11));
      expect(result.data).toBeUndefined();
      expect(depthError(result.errors)).toEqual({
        message: 'the query is 11 levels deep; at most 10 are allowed (maxQueryDepth, CHAINVAULT_MAX_QUERY_DEPTH)',
        locations: expect.any(Array),
        extensions: { code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED', limit: 'maxQueryDepth', value: 11, max: 10 },
      });
      // At exactly 10 levels only the selection below a leaf is wrong.
      const atLimit = await server.client.request(deep(10));
      expect(atLimit.errors?.length).toBeGreaterThan(0);
      expect(depthError(atLimit.errors)).toBeUndefined();
      expect(await catalog()).toEqual(before);
    });

    it('counts the levels inside fragments too', async () => {
      const query = `{ backups { ...page } } fragment page on BackupConnection { edges { node { ... on Backup { files { path { a { b { c { d { e { f { g } } } } } } } } } } } }`;
      const result = await server.client.request(query);
      expect(result.data).toBeUndefined();
      expect(depthError(result.errors)?.message).toBe('the query is 12 levels deep; at most 10 are allowed (maxQueryDepth, CHAINVAULT_MAX_QUERY_DEPTH)');
    });

    it('still answers the introspection query GraphiQL sends, 15 levels deep', async () => {
      const result = await server.client.request(getIntrospectionQuery());
      expect(result.errors).toBeUndefined();
      expect(result.data!.__schema.types.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['Backup', 'Job', 'Policy']));
    });

    it('refuses a page size or cursor it cannot use', async () => {
      await refused(`{ backups(first: 0) { totalCount } }`, {}, 'BAD_USER_INPUT', /first must be between 1 and 500, got 0/);
      await refused(`{ backups(after: "not a cursor") { totalCount } }`, {}, 'BAD_USER_INPUT', /after: "not a cursor" is not a cursor this API returned/);
    });
  });

  describe('internal errors', () => {
    it('hides the details of an unexpected failure behind a reference', async () => {
      const gone = join(work, 'vanishing-repository');
      const { policyId } = await createDirectoryPolicy(server.client, 'vanishing', source, gone);
      const job = await backupNow(server.client, policyId);
      expect(job.status).toBe('COMPLETED');
      // The repository disappears under the server (a disk unmounted, a directory removed by hand).
      await rm(gone, { recursive: true, force: true });
      const error = await server.client.fails(BACKUP, { id: job.backupId });
      expect(error.extensions?.code).toBe('INTERNAL');
      const reference = error.extensions?.reference as string;
      expect(reference).toMatch(/^[0-9a-f-]{36}$/);
      expect(error.message).toBe(`internal error; the server log has the details under ${reference}`);
      expect(JSON.stringify(error)).not.toMatch(/stacktrace|\n\s+at |vanishing-repository|ENOENT/);
    });
  });
});
