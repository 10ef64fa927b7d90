/** A policy's next fire times, visible in GraphQL and computed in its time zone. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREATE_DESTINATION, CREATE_NETWORK, REGISTER_NODE } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

describe('policy schedules in GraphQL', () => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-schedule-'));
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('shows the next fire times of a preset in the policy time zone, and none without a schedule', async () => {
    const { client } = server;
    const source = join(work, 'source');
    await mkdir(source);
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'scheduled', protocol: 'directory' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'n', plugin: 'directory', role: 'node', config: { path: source } } });
    const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name: 'd', kind: 'LOCAL', config: { path: join(work, 'repo') } } });
    const create = `mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id schedule { preset cron timeZone } nextFireTimes(count: 4) } }`;
    const base = { nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id] };

    const { createPolicy } = await client.ok(create, { input: { ...base, name: 'four-a-day', schedule: { preset: 'FOUR_TIMES_DAILY', timeZone: 'Asia/Kolkata' } } });
    expect(createPolicy.schedule).toEqual({ preset: 'FOUR_TIMES_DAILY', cron: null, timeZone: 'Asia/Kolkata' });
    const times = createPolicy.nextFireTimes.map((t: string) => new Date(t));
    expect(times).toHaveLength(4);
    // 00:00, 06:00, 12:00 and 18:00 in Kolkata (UTC+05:30) are 18:30, 00:30, 06:30 and 12:30 UTC.
    for (const t of times) expect([18, 0, 6, 12]).toContain(t.getUTCHours());
    for (const t of times) expect(t.getUTCMinutes()).toBe(30);
    expect(times.every((t: Date, i: number) => i === 0 || t.getTime() - times[i - 1].getTime() === 6 * 3600_000)).toBe(true);
    expect(times[0].getTime()).toBeGreaterThan(Date.now());

    const unscheduled = await client.ok(create, { input: { ...base, name: 'on-demand' } });
    expect(unscheduled.createPolicy.nextFireTimes).toEqual([]);

    const never = await client.fails(create, { input: { ...base, name: 'never', schedule: { cron: '0 0 31 2 *' } } });
    expect(never.extensions?.code).toBe('BAD_USER_INPUT');
    expect(never.message).toMatch(/never fires/);
  });
});
