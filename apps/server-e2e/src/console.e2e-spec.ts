/**
 * The web console in the machine's Chromium against the real server, as an operator uses it:
 * sign in (a wrong token is refused with a clear message), create a network and register a
 * directory node through the form made from the plugin's schema (an empty path is refused with
 * the schema's message under the field), create a policy with a cron in Europe/Berlin and see
 * its preview with the daylight-saving change, run it and watch the progress reach 100%,
 * restore through the wizard into a new folder (compared with the source), and see a failed
 * job on the overview with its error. Each page's screenshot goes to docs/console.
 */
import { compareTrees, startHardhatNode, startSshd, writeSampleTree } from '@chainvault/testing';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { printSchema } from 'graphql';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { copyWritable, fixtureLedger } from '../test-support/fabric/network';
import { launchChromium, screenshot, signedInPage } from './support/console-browser';
import { TEST_PLUGINS, labNodeConfig, sshMachine } from './support/lab-nodes';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, backupNow } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

jest.setTimeout(180_000);

/** The console's operation generator (apps/console/codegen), loaded by path: the console is no library to import. */
const codegen = require(join(__dirname, '..', '..', 'console', 'codegen', 'graphql-types.cjs')) as { generateFor: (sdl: string) => string; OUTPUT: string };

describe('the web console', () => {
  let server: TestServer;
  let browser: Browser;
  let work: string;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-console-'));
    // One attempt per job: the failed backup below fails at once instead of waiting for retries.
    server = await startTestServer({ config: { jobMaxAttempts: 1 } });
    browser = await launchChromium();
    ({ page, problems } = await signedInPage(browser, null));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('keeps its typed operations generated from the schema the server serves', async () => {
    const generated = codegen.generateFor(printSchema(server.app.get(GraphQLSchemaHost).schema));
    // After changing an operation or the API, write the file again with
    // CHAINVAULT_WRITE_CONSOLE_TYPES=1 npx jest apps/server-e2e/src/console.e2e-spec.ts -t typed
    // (or `node apps/console/codegen/graphql-types.cjs` from the committed libs/api/schema.graphql).
    if (process.env.CHAINVAULT_WRITE_CONSOLE_TYPES === '1') await writeFile(codegen.OUTPUT, generated);
    expect(await readFile(codegen.OUTPUT, 'utf8')).toBe(generated);
  });

  it('serves the page and its assets without a token, under a strict Content-Security-Policy', async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await response.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(html).not.toMatch(/https?:\/\//);
    const asset = await fetch(`${server.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${server.url}/assets/..%2Fpackage.json`)).status).toBe(404);
    // The API itself still needs a token, and a foreign Host is still refused, console or not.
    expect((await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ policies { id } }"}' })).status).toBe(401);
    expect(await statusWithHost(`${server.url}/`, 'evil.example')).toBe(403);
    expect(await statusWithHost(`${server.url}${script}`, 'evil.example')).toBe(403);
  });

  it('refuses a wrong token with a clear message, then signs in', async () => {
    await page.goto(`${server.url}/`);
    await page.getByLabel('API token').fill('cvt_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert'), 'The server refused this token: the token is not valid.');
    await screenshot(page, 'sign-in');
    await page.getByLabel('API token').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('chainvault-token'))).toBe(server.token);
  });

  it('registers a directory node through the form made from its schema, refusing an empty path with the schema message in place', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 8 * 1024 * 1024 });
    await page.getByRole('navigation').getByRole('link', { name: 'Networks & nodes' }).click();
    await page.getByRole('button', { name: 'New network' }).click();
    await page.getByLabel('Name').fill('lab');
    await page.getByLabel('Protocol').selectOption('directory');
    await page.getByRole('button', { name: 'Create network' }).click();
    await page.getByRole('heading', { name: 'lab · directory' }).waitFor();

    await page.getByRole('button', { name: 'Register node' }).click();
    const form = page.getByRole('form', { name: 'Register a node' });
    await form.getByLabel('Name').fill('files');
    await form.getByLabel('Role').fill('node');
    // The path field comes from the plugin's nodeConfigSchema, with its description.
    await expectText(form.locator('.field', { has: page.locator('#node-config-path') }), 'Absolute path of the directory.');
    await form.getByRole('button', { name: 'Register node' }).click();
    const pathError = form.locator('#node-config-path-error');
    await expectText(pathError, 'must NOT have fewer than 1 characters');
    await screenshot(page, 'node-form-error');
    expect((await server.client.ok('{ nodes { id } }')).nodes).toEqual([]);

    await form.locator('#node-config-path').fill(source);
    await form.getByRole('button', { name: 'Register node' }).click();
    await page.locator('tr[data-node="files"]').waitFor();
    await expectText(page.locator('tr[data-node="files"]'), source);
    await screenshot(page, 'networks-and-nodes');
  });

  let policyId: string;

  it('creates a policy on a cron in Europe/Berlin, previewing its fires with the daylight-saving change', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('link', { name: 'New policy' }).first().click();
    const form = page.getByRole('form', { name: 'New policy' });
    await form.getByLabel('Name').fill('nightly-files');
    await form.getByLabel('Method').selectOption('snapshot');
    await expectText(form, 'Copies the whole tree');
    // 03:00 on the last days of March and October: the fires cross a daylight-saving change whatever today is.
    await form.getByLabel('Cron').fill('0 3 25-31 3,10 *');
    await form.getByLabel('Time zone').fill('Europe/Berlin');
    const preview = form.getByTestId('schedule-preview');
    await expectText(preview.locator('li').first(), '03:00');
    await preview.locator('.dst').first().waitFor();
    const dst = (await preview.locator('.dst').first().textContent()) ?? '';
    expect(dst).toMatch(/daylight-saving change: GMT\+(1 → GMT\+2|2 → GMT\+1)/);
    for (const line of await preview.locator('li').allTextContents()) expect(line).toContain('03:00');
    await form.getByLabel('keep last').fill('5');
    await screenshot(page, 'policy-form');
    await form.getByRole('button', { name: 'Create policy' }).click();
    await page.locator('tr[data-policy="nightly-files"]').waitFor();
    const { policies } = await server.client.ok('{ policies { id name schedule { cron timeZone } retention { keepLast } destinationIds } }');
    expect(policies).toEqual([expect.objectContaining({ name: 'nightly-files', schedule: { cron: '0 3 25-31 3,10 *', timeZone: 'Europe/Berlin' }, retention: { keepLast: 5 } })]);
    expect(policies[0].destinationIds).toHaveLength(1);
    policyId = policies[0].id;
    await screenshot(page, 'policies');
  });

  it('runs the policy now and shows the job live until its progress reaches 100%', async () => {
    await page.locator('tr[data-policy="nightly-files"]').getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/);
    await expectText(page.getByTestId('job-status'), 'COMPLETED', 60_000);
    await page.locator('[role=progressbar][aria-valuenow="100"]').waitFor();
    await expectText(page.locator('.log'), 'snapshot');
    await screenshot(page, 'job');
    const { jobs } = await server.client.ok(`query ($p: ID) { jobs(policyId: $p) { id status progress { done total } } }`, { p: policyId });
    expect(jobs).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);
  });

  it('restores the backup through the wizard into a new folder, ending on the live job; the folder equals the source', async () => {
    const target = join(work, 'restored');
    await page.getByRole('navigation').getByRole('link', { name: 'Backups' }).click();
    await page.locator('table a').first().click();
    await page.getByRole('heading', { name: /^Backup / }).waitFor();
    await expectText(page.locator('dl.facts'), 'COMPLETED');
    await screenshot(page, 'backup');
    await page.getByRole('link', { name: 'Restore…' }).click();
    const wizard = page.getByLabel('Restore wizard');
    await expectText(wizard, 'Version: the backup of');
    await wizard.getByRole('button', { name: 'Next' }).click();
    await wizard.locator('#restore-target-path').fill(target);
    await wizard.getByRole('button', { name: 'Next' }).click();
    await wizard.getByRole('button', { name: 'Next' }).click();
    await expectText(wizard, target);
    await screenshot(page, 'restore-wizard');
    await wizard.getByRole('button', { name: 'Start restore' }).click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/);
    await expectText(page.getByRole('heading', { level: 2 }), 'restore job');
    await expectText(page.getByTestId('job-status'), 'COMPLETED', 60_000);
    expect(await compareTrees(join(work, 'source'), target)).toEqual([]);
  });

  it('pauses and resumes the policy, previews its retention, and pins and verifies its backup', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Policies' }).click();
    const row = page.locator('tr[data-policy="nightly-files"]');
    await row.getByRole('button', { name: 'Pause' }).click();
    await expectText(row, 'paused');
    expect((await server.client.ok('{ policies { enabled } }')).policies).toEqual([{ enabled: false }]);
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByRole('button', { name: 'Pause' }).waitFor();
    expect((await server.client.ok('{ policies { enabled } }')).policies).toEqual([{ enabled: true }]);
    // Edited in the same form: the schedule moves to 05:00, the rest stays.
    await row.getByRole('link', { name: 'nightly-files' }).click();
    const form = page.getByRole('form', { name: 'Edit policy nightly-files' });
    await form.getByLabel('Cron').fill('0 5 25-31 3,10 *');
    await expectText(form.getByTestId('schedule-preview').locator('li').first(), '05:00');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await expectText(page.getByRole('status'), 'Policy saved.');
    expect((await server.client.ok('{ policies { name schedule { cron timeZone } retention { keepLast } } }')).policies).toEqual([
      { name: 'nightly-files', schedule: { cron: '0 5 25-31 3,10 *', timeZone: 'Europe/Berlin' }, retention: { keepLast: 5 } },
    ]);
    // A maintenance window, added and removed in the same form.
    const WINDOWS = '{ policies { maintenanceWindows { days start end } schedule { outsideWindow } } }';
    await row.getByRole('link', { name: 'nightly-files' }).click();
    await form.getByRole('button', { name: 'Add a window' }).click();
    const window1 = form.getByRole('group', { name: 'Maintenance window 1' });
    await window1.getByLabel('SAT').uncheck();
    await window1.getByLabel('From').fill('23:30');
    await window1.getByLabel('To').fill('02:00');
    await form.getByLabel('A run due outside every window').selectOption('SKIP');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await expectText(page.getByRole('status'), 'Policy saved.');
    expect((await server.client.ok(WINDOWS)).policies).toEqual([{ maintenanceWindows: [{ days: ['SUN'], start: '23:30', end: '02:00' }], schedule: { outsideWindow: 'SKIP' } }]);
    await expectText(row, 'in SUN 23:30–02:00, else skipped');
    await row.getByRole('link', { name: 'nightly-files' }).click();
    await form.getByRole('button', { name: 'Remove window 1' }).click();
    await form.getByRole('button', { name: 'Save policy' }).click();
    await expectText(page.getByRole('status'), 'Policy saved.');
    expect((await server.client.ok(WINDOWS)).policies[0].maintenanceWindows).toEqual([]);
    await row.getByRole('button', { name: 'Retention dry run' }).click();
    await expectText(page.getByTestId('retention-preview'), 'Retention dry run: 1 kept, 0 would be deleted');
    expect((await server.client.ok('{ backups(first: 5) { totalCount } }')).backups.totalCount).toBe(1);

    await page.getByRole('navigation').getByRole('link', { name: 'Backups' }).click();
    await page.locator('table a').first().click();
    await page.getByRole('button', { name: 'Pin' }).click();
    await page.getByRole('button', { name: 'Unpin' }).waitFor();
    expect((await server.client.ok('{ backups(first: 1) { nodes { pinned } } }')).backups.nodes).toEqual([{ pinned: true }]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/);
    await expectText(page.getByRole('heading', { level: 2 }), 'verify job');
    await expectText(page.getByTestId('job-status'), 'COMPLETED', 60_000);
    expect((await server.client.ok('{ backups(first: 1) { nodes { verification } } }')).backups.nodes).toEqual([{ verification: 'VERIFIED' }]);
  });

  it('shows a failed job on the overview, failing policies first, with its error', async () => {
    // A node whose folder went away after registration: its backup fails.
    const gone = await mkdtemp(join(work, 'gone-'));
    const { networks } = await server.client.ok('{ networks { id name } }');
    const { registerNode } = await server.client.ok(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id } }`, {
      input: { networkId: networks[0].id, name: 'vanishing', plugin: 'directory', role: 'node', config: { path: gone } },
    });
    const { destinations } = await server.client.ok('{ destinations { id } }');
    const { createPolicy } = await server.client.ok(`mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }`, {
      input: { name: 'a-broken-one', nodeId: registerNode.id, method: 'snapshot', destinationIds: [destinations[0].id] },
    });
    await rm(gone, { recursive: true });
    const { runBackup } = await server.client.ok(`mutation ($id: ID!) { runBackup(policyId: $id) { id } }`, { id: createPolicy.id });
    const failed = await server.client.waitForJob(runBackup.id);
    expect(failed.status).toBe('FAILED');

    await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click();
    const rows = page.locator('.orow[data-policy]');
    await rows.first().waitFor();
    // Failures first: the broken policy leads, red, with its error; the healthy one follows, green.
    expect(await rows.evaluateAll((all) => all.map((row) => [row.getAttribute('data-policy'), row.getAttribute('data-health')]))).toEqual([
      ['a-broken-one', 'red'],
      ['nightly-files', 'green'],
    ]);
    await expectText(rows.first().locator('.failure-text'), failed.error as string);
    await expectText(page.getByTestId('health-summary'), '1 failing');
    await expectText(page.locator('[data-destination="local"]'), '1 backup,');
    await expectText(page.locator('[data-destination="local"]'), 'never checked');
    await screenshot(page, 'overview');
  });

  it('lists jobs, audit events and plugins, and stays usable at a phone width and by keyboard', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).click();
    await expectText(page.locator('table'), 'restore');
    await screenshot(page, 'jobs');
    await page.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
    await expectText(page.locator('table'), 'node.register');
    await screenshot(page, 'audit');
    await page.getByRole('navigation').getByRole('link', { name: 'Plugins' }).click();
    await expectText(page.locator('main'), 'directory');
    await expectText(page.locator('main'), 'Copies the whole tree');
    // Install a plugin from a folder, as from a package name or a tarball; a URL is refused, saying why.
    const spec = page.locator('#plugin-spec');
    await spec.fill('https://example.invalid/chainvault-plugin-mirror.tgz');
    await page.getByRole('button', { name: 'Install' }).click();
    const refused = await page.getByRole('alert').textContent();
    expect(refused).toContain('BAD_USER_INPUT');
    await spec.fill(join(__dirname, '..', 'test-plugins', 'mirror'));
    await page.getByRole('button', { name: 'Install' }).click();
    await expectText(page.getByRole('status'), 'mirror 1.0.0 installed (LOADED).');
    await page.getByRole('heading', { name: /^mirror / }).waitFor();
    expect((await server.client.ok('{ plugins { id source } }')).plugins).toContainEqual({ id: 'mirror', source: 'installed' });
    await screenshot(page, 'plugins');
    // Turned off and on again from its card.
    const card = page.locator('article', { has: page.getByRole('heading', { name: /^mirror / }) });
    await card.getByRole('button', { name: 'Disable' }).click();
    await expectText(card.locator('h3'), 'DISABLED');
    await card.getByRole('button', { name: 'Enable' }).click();
    await expectText(card.locator('h3'), 'LOADED');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('article', { has: page.getByRole('heading', { name: /^mirror / }) }).getByRole('button', { name: 'Uninstall' }).click();
    await page.getByRole('heading', { name: /^mirror / }).waitFor({ state: 'detached' });
    expect((await server.client.ok('{ plugins { id } }')).plugins.map((p: { id: string }) => p.id)).not.toContain('mirror');

    // The keyboard reaches the navigation: Tab to the skip link, then the pages.
    await page.goto(`${server.url}/#/overview`);
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to the page');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Networks & nodes');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Networks & nodes' }).waitFor();

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/#/overview`);
    await page.locator('.orow[data-policy]').first().waitFor();
    // Nothing but the tables' own scrolling boxes is wider than the phone's screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, 'overview-phone');
    expect(problems).toEqual([]);
  });

  it("finds backups by block height and date, shows an Ethereum backup's chain history and a Fabric network's versions by resource", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const { client } = server;
    const repository = (await client.ok(CREATE_DESTINATION, { input: { name: 'chains', kind: 'LOCAL', config: { path: join(work, 'chains-repository') } } })).createDestination.id;

    // Ethereum: a dev node from npm, two chain-export runs in files of 20 blocks.
    const chain = await startHardhatNode();
    const exports: Record<string, any>[] = [];
    try {
      const mine = (count: number) =>
        fetch(chain.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Array.from({ length: count }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'evm_mine', params: [] }))) });
      await mine(45);
      const genesis = join(work, 'genesis.json');
      await writeFile(genesis, JSON.stringify({ config: { chainId: 31337, pragueTime: 0 }, alloc: {} }));
      const devnet = (await client.ok(CREATE_NETWORK, { input: { name: 'devnet', protocol: 'geth' } })).createNetwork.id;
      await client.ok(REGISTER_NODE, { input: { networkId: devnet, name: 'monitor', plugin: 'ethereum', role: 'monitor', config: { rpcUrl: chain.url, client: 'geth', consensus: 'pos', genesisFile: genesis } } });
      const policyId = (await client.ok(CREATE_POLICY, { input: { name: 'chain-data', networkId: devnet, method: 'chain-export', destinationIds: [repository], options: { blocksPerFile: 20, batchSize: 10 } } })).createPolicy.id;
      exports.push(await backupNow(client, policyId));
      await mine(10);
      exports.push(await backupNow(client, policyId));
    } finally {
      await chain.stop();
    }
    expect(exports.map((j) => j.status)).toEqual(['COMPLETED', 'COMPLETED']);
    const ranges = (await client.ok(`{ backups(filter: { status: [COMPLETED] }, first: 10) { nodes { id firstBlock lastBlock } } }`)).backups.nodes.filter((b: { lastBlock: number | null }) => b.lastBlock !== null);
    const [second, first] = ranges as { id: string; firstBlock: number; lastBlock: number }[];
    expect(second.firstBlock).toBe(first.lastBlock + 1);

    await page.goto(`${server.url}/#/backups`);
    await page.locator('#filter-network').selectOption({ label: 'devnet' });
    const rows = page.locator('table tbody tr');
    await eventually(() => rows.count(), 2);
    // Holding a block of the second run only: one row, with its range.
    await page.locator('#filter-block').fill(String(first.lastBlock + 1));
    await page.locator('#filter-block').press('Tab');
    await eventually(() => rows.count(), 1);
    await expectText(rows.first(), `${second.firstBlock}–${second.lastBlock}`);
    await page.locator('#filter-block').fill('not a height');
    await page.locator('#filter-block').press('Tab');
    await expectText(page.locator('#filter-block-error'), 'a block height is a whole number from 0');
    await page.locator('#filter-block').fill('');
    await page.locator('#filter-block').press('Tab');
    // By date, in the browser's time zone: today holds both; from tomorrow, none.
    const [today, tomorrow] = await page.evaluate(() => {
      const day = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      const now = new Date();
      return [day(now), day(new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1))];
    });
    await page.locator('#filter-from').fill(today);
    await page.locator('#filter-to').fill(today);
    await eventually(() => rows.count(), 2);
    await page.locator('#filter-from').fill(tomorrow);
    await eventually(() => rows.count(), 0);
    await page.locator('#filter-from').fill('');
    await page.locator('#filter-to').fill('');
    await eventually(() => rows.count(), 2);
    await screenshot(page, 'backups-filtered');
    // The first run's chain history: its files as a timeline of block ranges.
    await page.goto(`${server.url}/#/backups/${first.id}`);
    await expectText(page.getByRole('heading', { name: /^Chain history/ }), `Chain history: blocks 0 to ${first.lastBlock} in 3 files`);
    expect(await page.getByRole('img', { name: /^blocks 0 to/ }).getAttribute('aria-label')).toBe(`blocks 0 to ${first.lastBlock}: 0–19, 20–39, 40–${first.lastBlock}`);
    await screenshot(page, 'backup-chain-history');

    // Fabric: two peers from the real fixture ledgers; peer0 backed up twice, peer1 once.
    const org1 = (await client.ok(CREATE_NETWORK, { input: { name: 'org1', protocol: 'fabric' } })).createNetwork.id;
    const versions: Record<string, string[]> = {};
    for (const [name, ledger, runs] of [['peer0', 'sample_prod', 2], ['peer1', 'sample_ledger_from_snapshot', 1]] as const) {
      await copyWritable(fixtureLedger(ledger), join(work, 'fabric', name, 'ledgersData'));
      const nodeId = (await client.ok(REGISTER_NODE, { input: { networkId: org1, name, plugin: 'fabric', role: 'peer', config: { path: join(work, 'fabric', name) } } })).registerNode.id;
      const policyId = (await client.ok(CREATE_POLICY, { input: { name: `${name}-resource`, nodeId, method: 'resource', destinationIds: [repository] } })).createPolicy.id;
      versions[name] = [];
      for (let i = 0; i < runs; i++) {
        const job = await backupNow(client, policyId);
        expect(job.status).toBe('COMPLETED');
        versions[name].unshift(job.backupId);
      }
    }
    // Loaded again: the console reads the list of networks when it opens.
    await page.goto(`${server.url}/#/backups`);
    await page.reload();
    await page.locator('#filter-network').selectOption({ label: 'org1' });
    const table = page.getByRole('table', { name: 'Versions by resource' });
    for (const [name, ids] of Object.entries(versions)) {
      const row = table.locator('tr', { has: page.getByRole('cell', { name, exact: true }) });
      await eventually(() => row.locator('li').count(), ids.length);
      // Newest first, each a link to its backup and to the restore wizard.
      expect(await row.locator('li a:first-child').evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual(ids.map((id) => `#/backups/${id}`));
      await expectText(row, 'peer');
    }
    await screenshot(page, 'backups-fabric-versions');
    await table.locator('tr', { has: page.getByRole('cell', { name: 'peer0', exact: true }) }).getByRole('link', { name: 'restore' }).first().click();
    await page.getByRole('heading', { name: `Restore backup ${versions.peer0[0].slice(0, 8)}` }).waitFor();
    expect(problems).toEqual([]);
  });

  it('shows a network as its nodes on their machines, and restores a set of nodes in the phases the plugin orders', async () => {
    const { client } = server;
    // A third party's plugin whose nodes live on machines (this server, or SSH) and restore in phases by role.
    expect((await client.ok(`mutation ($s: String!) { installPlugin(spec: $s) { status } }`, { s: join(TEST_PLUGINS, 'lab') })).installPlugin.status).toBe('LOADED');
    const sshd = await startSshd();
    try {
      const lab = (await client.ok(CREATE_NETWORK, { input: { name: 'lab-net', protocol: 'lab' } })).createNetwork.id;
      const configs: Record<string, Awaited<ReturnType<typeof labNodeConfig>>> = {};
      const ids: Record<string, string> = {};
      for (const [name, role, remote] of [['ca0', 'ca', false], ['orderer0', 'orderer', true], ['peer0', 'peer', true]] as const) {
        configs[name] = await labNodeConfig(join(work, 'lab'), name, remote ? sshMachine(sshd) : undefined);
        await writeFile(join(configs[name].dataDir, 'state.txt'), `${name} as backed up\n`);
        const secret = name === 'ca0' ? { apiKey: 'ca0-key-never-shown' } : {};
        ids[name] = (await client.ok(REGISTER_NODE, { input: { networkId: lab, name, plugin: 'lab', role, config: { ...configs[name], ...secret } } })).registerNode.id;
      }
      const repository = (await client.ok('{ destinations { id name } }')).destinations.find((d: { name: string }) => d.name === 'chains').id;
      const policyId = (await client.ok(CREATE_POLICY, { input: { name: 'lab-survey', networkId: lab, method: 'survey', destinationIds: [repository] } })).createPolicy.id;
      const backup = await backupNow(client, policyId);
      expect(backup.status).toBe('COMPLETED');

      await page.goto(`${server.url}/#/nodes`);
      await page.reload();
      const machines = page.getByRole('list', { name: 'Machines of lab-net' });
      await expectText(machines, 'this server: ca0 (ca)');
      await expectText(machines, `${sshd.username}@${sshd.host}:${sshd.port}: orderer0 (orderer), peer0 (peer)`);
      expect(await machines.textContent()).not.toContain('privateKey');
      await screenshot(page, 'networks-machines');
      // Editing a node with a secret: the field is empty, says the value is kept, and the page never holds it.
      await page.locator('tr[data-node="ca0"]').getByRole('button', { name: 'Edit' }).click();
      const edit = page.getByRole('form', { name: 'Edit node ca0' });
      const apiKey = edit.locator('#node-config-apiKey');
      expect(await apiKey.inputValue()).toBe('');
      expect(await apiKey.getAttribute('type')).toBe('password');
      expect(await apiKey.getAttribute('placeholder')).toBe('set (kept unless you type a new one)');
      expect(await page.content()).not.toContain('ca0-key-never-shown');
      await edit.getByLabel('Role').selectOption('ca');
      await edit.getByRole('button', { name: 'Save node' }).click();
      await edit.waitFor({ state: 'detached' });
      const nodesNow = (await client.ok('{ nodes { name secretFields config } }')).nodes as { name: string; secretFields: string[]; config: Record<string, unknown> }[];
      expect(nodesNow.find((n) => n.name === 'ca0')).toMatchObject({ secretFields: ['apiKey'], config: { dataDir: configs.ca0.dataDir } });
      expect(JSON.stringify(nodesNow)).not.toContain('ca0-key-never-shown');
      // The machine's private key of an SSH node is a secret too: kept out of the page.
      expect(await page.content()).not.toContain(sshd.privateKey.trim().split('\n')[1]);

      for (const name of Object.keys(configs)) await writeFile(join(configs[name].dataDir, 'state.txt'), `${name} changed since\n`);
      await page.goto(`${server.url}/#/restore/${backup.backupId}`);
      const wizard = page.getByLabel('Restore wizard');
      await wizard.getByRole('button', { name: 'Next' }).click();
      await wizard.getByLabel('several registered nodes (a restore set, in phases)').check();
      // Chosen out of order: the plugin orders them.
      for (const name of ['peer0', 'ca0', 'orderer0']) await wizard.getByRole('checkbox', { name: new RegExp(`^${name} `) }).check();
      await wizard.getByRole('button', { name: 'Next' }).click();
      await wizard.getByRole('button', { name: 'Next' }).click();
      const phases = wizard.getByRole('list', { name: 'Restore phases' });
      await phases.waitFor();
      expect(await phases.locator('li').allTextContents()).toEqual(['cas: ca0', 'orderers: orderer0', 'peers: peer0']);
      await screenshot(page, 'restore-set-phases');
      await wizard.getByRole('button', { name: 'Start restore' }).click();
      await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/);
      await expectText(page.getByTestId('job-status'), 'COMPLETED', 60_000);
      for (const name of Object.keys(configs)) expect(await readFile(join(configs[name].dataDir, 'state.txt'), 'utf8')).toBe(`${name} as backed up\n`);
      const restore = (await client.ok(`{ restores(first: 1) { targetNodeIds status } }`)).restores[0];
      expect(restore).toEqual({ targetNodeIds: [ids.peer0, ids.ca0, ids.orderer0], status: 'COMPLETED' });
    } finally {
      await sshd.stop();
    }
    expect(problems).toEqual([]);
  });
});

/** The status of a GET naming another Host (fetch may not set Host itself). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
  });
}

/** Waits until the element's text contains `text`. */
async function expectText(locator: import('playwright-core').Locator, text: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let seen = '';
  while (Date.now() < deadline) {
    seen = (await locator.first().textContent({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => '')) ?? '';
    if (seen.includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected ${String(locator)} to contain ${JSON.stringify(text)}, saw ${JSON.stringify(seen)}`);
}

/** Waits until `read` gives `expected` (the page updates after a query answers), failing with the last value. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let last = await read();
  while (last !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  expect(last).toBe(expected);
}
