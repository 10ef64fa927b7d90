/**
 * The console's overview on a large catalog: 1,000 policies and 100,000 backups (with failed
 * jobs among them), seeded straight into the SQLite catalog of a server process started as
 * `npm start` starts it, render in Chromium in under a second from navigation, failing
 * policies first. The policies' last success and last failure come from grouped queries, not
 * one per policy.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { DataSource } from 'typeorm';
import { launchChromium, screenshot, signedInPage } from './support/console-browser';
import { createDirectoryPolicy } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';

jest.setTimeout(300_000);

const POLICIES = 1_000;
const BACKUPS_PER_POLICY = 100;
const FAILING = 25;

/** Copies the one policy made through the API into `POLICIES` policies with their backups and failures, in three statements. */
async function seed(catalogFile: string): Promise<void> {
  const catalog = await new DataSource({ type: 'sqlite', database: catalogFile }).initialize();
  try {
    const columns = async (table: string) => ((await catalog.query(`PRAGMA table_info(${table})`)) as { name: string }[]).map((c) => c.name);
    const uuid = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";
    const numbers = (count: number) => `n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})`;
    const copy = async (table: string, replaced: Record<string, string>, from: string, prefix = '') => {
      const names = await columns(table);
      const unknown = Object.keys(replaced).filter((k) => !names.includes(k));
      if (unknown.length) throw new Error(`the ${table} table has no column ${unknown.join(', ')}`);
      await catalog.query(`${prefix} INSERT INTO ${table} (${names.join(', ')}) SELECT ${names.map((c) => replaced[c] ?? `t.${c}`).join(', ')} ${from}`);
    };
    // 29 February at 04:00 in four time zones: due far from any test run, so the scheduler leaves them alone.
    await catalog.query("UPDATE policy SET retention = '{}'");
    await copy('policy', {
      id: uuid,
      name: "printf('policy-%04d', n.i)",
      // No retention rules: every seeded backup stays while the test runs.
      retention: "'{}'",
      schedule: "json_object('cron', '0 4 29 2 *', 'timeZone', CASE n.i % 4 WHEN 0 THEN 'UTC' WHEN 1 THEN 'Europe/Berlin' WHEN 2 THEN 'America/New_York' ELSE 'Asia/Tokyo' END)",
    }, 'FROM policy t CROSS JOIN n', `WITH RECURSIVE ${numbers(POLICIES - 1)}`);
    // The API's first backup is the template of every backup: one an hour through 2026, each policy a second apart.
    const at = "strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + n.i * 3600 + p.rank, 'unixepoch')";
    await copy('backup', { id: uuid, policy_id: 'p.id', created_at: at, started_at: at, job_id: 'NULL' },
      'FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY name) AS rank FROM policy) p CROSS JOIN n CROSS JOIN (SELECT * FROM backup LIMIT 1) t',
      `WITH RECURSIVE ${numbers(BACKUPS_PER_POLICY)}`);
    // The last FAILING policies by name failed after their newest backup.
    await copy('job', { id: uuid, policy_id: 'p.id', backup_id: 'NULL', status: "'FAILED'", error: "'UNREACHABLE: ' || p.name || ' did not answer'", finished_at: "'2027-01-02T00:00:00.000Z'", scheduled_for: 'NULL' },
      `FROM (SELECT id, name FROM policy ORDER BY name DESC LIMIT ${FAILING}) p CROSS JOIN (SELECT * FROM job WHERE kind = 'BACKUP' LIMIT 1) t`);
  } finally {
    await catalog.destroy();
  }
}

describe('the console overview of a large catalog', () => {
  let server: ServerProcess;
  let browser: Browser;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-console-scale-'));
    const dataDir = join(work, 'data');
    // A first start makes the catalog, a network, a node, a destination, a policy and its first backup through the API.
    const first = await spawnServer({ dataDir });
    const source = join(work, 'source');
    await mkdir(source);
    await writeFile(join(source, 'ledger.txt'), 'block 1\n');
    const { policyId } = await createDirectoryPolicy(first.client, 'fleet', source, join(work, 'repository'));
    const { runBackup } = await first.client.ok(`mutation ($id: ID!) { runBackup(policyId: $id) { id } }`, { id: policyId });
    expect((await first.client.waitForJob(runBackup.id)).status).toBe('COMPLETED');
    first.child.kill('SIGTERM');
    await first.exited;
    await seed(join(dataDir, 'catalog.sqlite'));
    // Nothing is due among these policies: the scheduler's scan of them every 15 s is kept out of the timing.
    server = await spawnServer({ dataDir, extra: { CHAINVAULT_SCHEDULER_TICK_MS: '3600000' } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
    await server?.exited;
    await rm(work, { recursive: true, force: true });
  });

  it('renders every policy in under a second, the failing ones first', async () => {
    // The seeded backups, and the real one they were copied from.
    expect((await server.client.ok('{ backups(first: 1) { totalCount } }')).backups.totalCount).toBe(POLICIES * BACKUPS_PER_POLICY + 1);
    expect((await server.client.ok('{ policies { id } }')).policies).toHaveLength(POLICIES);
    const { page, context, problems } = await signedInPage(browser, server.client.token);
    // A first visit loads the scripts into the cache, as an operator's browser has them.
    await page.goto(`${server.url}/#/overview`);
    await page.locator('.orow[data-policy]').nth(POLICIES - 1).waitFor({ state: 'attached', timeout: 30_000 });

    const timings: number[] = [];
    // The best of five: other work on a shared machine can only make a run slower, never faster.
    for (let run = 0; run < 5; run++) {
      await page.reload();
      await page.locator('.orow[data-policy]').nth(POLICIES - 1).waitFor({ state: 'attached', timeout: 30_000 });
      // From the start of navigation: the answer arrived, then every row is in the page and painted.
      const [data, rendered] = await page.evaluate(() => ['overview-data', 'overview-rendered'].map((name) => performance.getEntriesByName(name)[0]?.startTime ?? Infinity));
      const request = await page.evaluate(() => (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((r) => r.name.endsWith('/graphql')).map((r) => Math.round(r.responseEnd - r.requestStart)));
      console.log(`overview of ${POLICIES} policies and ${POLICIES * BACKUPS_PER_POLICY} backups: answer at ${Math.round(data)} ms (its request ${request.join(', ')} ms), rendered at ${Math.round(rendered)} ms`);
      timings.push(rendered);
    }
    expect(Math.min(...timings)).toBeLessThan(1_000);

    const rows = await page.locator('.orow[data-policy]').evaluateAll((all) => all.map((row) => [row.getAttribute('data-policy'), row.getAttribute('data-health')]));
    expect(rows).toHaveLength(POLICIES);
    const failing = rows.slice(0, FAILING);
    expect(failing.every(([, health]) => health === 'red')).toBe(true);
    expect(rows.slice(FAILING).every(([, health]) => health === 'green')).toBe(true);
    await page.locator(`.orow[data-policy="${failing[0][0]}"] .failure-text`).getByText(`UNREACHABLE: ${failing[0][0]} did not answer`).waitFor();
    expect(await page.getByTestId('health-summary').textContent()).toContain(`${FAILING} failing`);
    // The destination's card follows, summing every backup it holds.
    await page.locator('[data-destination="fleet-repo"]').getByText(`${POLICIES * BACKUPS_PER_POLICY + 1} backups,`).waitFor();
    await screenshot(page, 'overview-1000-policies');
    expect(problems).toEqual([]);
    await context.close();
  });
});
