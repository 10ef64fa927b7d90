/** A job's log on a real SQLite catalog: lines added, never rewritten; continued by the next holder; trimmed to the newest. */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { catalogOptions } from '../catalog/catalog-options';
import { JobLogLineEntity } from '../catalog/entities';
import { JobLogStore, MAX_LOG_LINES } from './job-log';

describe('JobLogStore', () => {
  let dataDir: string;
  let dataSource: DataSource;
  let store: JobLogStore;
  const statements: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chainvault-job-log-'));
    dataSource = new DataSource(catalogOptions({ dataDir }));
    await dataSource.initialize();
    const logger = dataSource.logger;
    const logQuery = logger.logQuery.bind(logger);
    logger.logQuery = (query, parameters, runner) => {
      statements.push(query);
      return logQuery(query, parameters, runner);
    };
    store = new JobLogStore(dataSource.getRepository(JobLogLineEntity));
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  const messages = async (jobId: string) => (await store.forJob(jobId)).map((l) => l.message);

  it('writes only the lines added since the last flush, and nothing when none were', async () => {
    const jobId = randomUUID();
    const writer = await store.open(jobId);
    writer.add('info', 'one');
    writer.add('warn', 'two');
    await writer.flush();
    statements.length = 0;
    writer.add('error', 'three');
    await writer.flush();
    await writer.flush();
    const writes = statements.filter((q) => /^(INSERT|UPDATE|DELETE)/.test(q));
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^INSERT INTO "job_log"/);
    expect(await store.forJob(jobId)).toEqual([
      { at: expect.any(String), level: 'info', message: 'one' },
      { at: expect.any(String), level: 'warn', message: 'two' },
      { at: expect.any(String), level: 'error', message: 'three' },
    ]);
  });

  it('lets the next attempt or another instance continue the log after its last line', async () => {
    const jobId = randomUUID();
    const first = await store.open(jobId);
    first.add('info', 'attempt 1');
    await first.flush();
    const second = await store.open(jobId);
    expect(second.lastLine?.message).toBe('attempt 1');
    second.add('info', 'attempt 2');
    await second.flush();
    await store.append(jobId, { at: new Date().toISOString(), level: 'warn', message: 'taken over' });
    expect(await messages(jobId)).toEqual(['attempt 1', 'attempt 2', 'taken over']);
  });

  it('takes back an attempt\'s own lines, flushed or not, leaving the earlier ones', async () => {
    const jobId = randomUUID();
    await store.append(jobId, { at: new Date().toISOString(), level: 'info', message: 'waiting for the lock' });
    const attempt = await store.open(jobId);
    attempt.add('info', 'started');
    await attempt.flush();
    attempt.add('info', 'not flushed');
    await attempt.discardOwn();
    expect(attempt.lastLine?.message).toBe('waiting for the lock');
    await attempt.flush();
    expect(await messages(jobId)).toEqual(['waiting for the lock']);
  });

  it(`keeps the newest ${MAX_LOG_LINES} lines, in order`, async () => {
    const jobId = randomUUID();
    const writer = await store.open(jobId);
    for (let i = 1; i <= MAX_LOG_LINES + 250; i += 1) {
      writer.add('info', `line ${i}`);
      if (i % 400 === 0) await writer.flush();
    }
    await writer.flush();
    const kept = await messages(jobId);
    expect(kept).toHaveLength(MAX_LOG_LINES);
    expect(kept[0]).toBe('line 251');
    expect(kept[kept.length - 1]).toBe(`line ${MAX_LOG_LINES + 250}`);
  });

  it('reads the logs of many jobs in one query', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries()) await store.append(id, { at: new Date().toISOString(), level: 'info', message: `job ${i}` });
    statements.length = 0;
    const logs = await store.forJobs([...ids, randomUUID()]);
    expect(statements.filter((q) => /FROM "job_log"/.test(q))).toHaveLength(1);
    expect(ids.map((id) => logs.get(id)?.map((l) => l.message))).toEqual([['job 0'], ['job 1'], ['job 2']]);
    expect(logs.size).toBe(3);
  });
});
