/** `chainvault policies …`: what to back up, how, when (schedule and windows), where, and for how long. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError } from './api-client';
import { collect, parseJson, wholeNumber } from './cli-input';
import { example, type CommandKit } from './command-kit';
import {
  PRESETS,
  describeRetention,
  describeSchedule,
  describeWindow,
  formatInZone,
  mergeRetention,
  parsePreset,
  parseRuleCount,
  parseRuleDuration,
  parseWindow,
  retentionChanges,
  scheduleInput,
  type RuleChange,
  type ScheduleOptions,
  type WindowInput,
} from './policy-input';

const POLICY_FIELDS =
  'id name networkId nodeId plugin method options enabled destinationIds createdAt schedule { preset cron timeZone jitterSeconds outsideWindow } maintenanceWindows { days start end } retention { keepLast keepHourly keepDaily keepWeekly keepMonthly keepYearly keepWithin } webhook { url on }';

interface PolicyFlags extends ScheduleOptions {
  name?: string;
  window?: WindowInput[] | false;
  destination?: string[];
  options?: string;
  enabled?: boolean;
  disabled?: boolean;
  keepLast?: RuleChange;
  keepHourly?: RuleChange;
  keepDaily?: RuleChange;
  keepWeekly?: RuleChange;
  keepMonthly?: RuleChange;
  keepYearly?: RuleChange;
  keepWithin?: RuleChange;
}

const WINDOW_HELP = 'a maintenance window, "DAYS HH:MM-HH:MM" in the time zone: DAYS is MON…SUN, ranges (MON-FRI) and lists (SAT,SUN), or * for every day; an end at or before the start runs past midnight. Repeat for several; jobs start only inside one';

/** The flags create and update share: schedule, windows, retention, destinations, options, enabled. */
function policyOptions(command: Command): Command {
  return command
    .addOption(new Option('--preset <preset>', `a schedule preset: ${PRESETS.join(', ')}`).argParser(parsePreset))
    .option('--cron <expression>', 'a schedule as a 5-field cron expression, e.g. "30 2 * * *" (02:30 every day)')
    .option('--time-zone <zone>', 'IANA time zone of the schedule and windows, e.g. Europe/Berlin (default UTC)')
    .option('--jitter <seconds>', 'start each run up to this many seconds late, spread per run', wholeNumber(0))
    .option('--outside-window <rule>', 'a run due outside every window: WAIT for the next window (default) or SKIP it', (value: string) => {
      if (!['WAIT', 'SKIP'].includes(value.toUpperCase())) throw new InvalidArgumentError(`takes WAIT or SKIP, got "${value}"`);
      return value.toUpperCase();
    })
    .option('--window <spec>', WINDOW_HELP, (value: string, previous: WindowInput[] | undefined) => [...(previous ?? []), parseWindow(value)])
    .option('--keep-last <n>', 'retention: keep the last n backups', parseRuleCount)
    .option('--keep-hourly <n>', 'retention: keep the last backup of each of the last n hours', parseRuleCount)
    .option('--keep-daily <n>', 'retention: ... of each of the last n days', parseRuleCount)
    .option('--keep-weekly <n>', 'retention: ... of each of the last n weeks', parseRuleCount)
    .option('--keep-monthly <n>', 'retention: ... of each of the last n months', parseRuleCount)
    .option('--keep-yearly <n>', 'retention: ... of each of the last n years', parseRuleCount)
    .option('--keep-within <duration>', 'retention: keep every backup this close to the newest: 12h, 30d, 8w, 6m (months), 1y', parseRuleDuration)
    .option('--destination <destination>', 'a destination (name or id) it writes to; repeat for several, the first is the primary', collect)
    .option('--options <json>', "the method's options as JSON")
    .option('--enabled', 'scheduled runs happen (the default for a new policy)')
    .addOption(new Option('--disabled', 'created or left paused: no scheduled runs').conflicts('enabled'));
}

function describePolicy(p: any, destinationNames: Map<string, string>): string[] {
  const zone = p.schedule?.timeZone ?? 'UTC';
  return [
    `policy ${p.name} ${p.id}${p.enabled ? '' : ' (paused)'}`,
    `  backs up   ${p.nodeId ? `node ${p.nodeId}` : `network ${p.networkId}`} with ${p.plugin}/${p.method}${p.options && Object.keys(p.options).length ? ` ${JSON.stringify(p.options)}` : ''}`,
    `  schedule   ${describeSchedule(p.schedule)}`,
    `  windows    ${p.maintenanceWindows.length ? p.maintenanceWindows.map(describeWindow).join('; ') : 'any time'}`,
    `  retention  ${describeRetention(p.retention)}`,
    `  writes to  ${p.destinationIds.map((id: string) => destinationNames.get(id) ?? id).join(', ')}`,
    ...(p.webhook ? [`  webhook    ${p.webhook.url} on ${p.webhook.on.join(', ')}`] : []),
    ...(p.schedule
      ? [`  next runs${p.enabled ? '' : ' (when resumed)'}:`, ...(p.nextFireTimes ?? []).map((at: string) => `    ${formatInZone(new Date(at), zone)}`)]
      : []),
  ];
}

export function addPolicyCommands(program: Command, kit: CommandKit): void {
  const { api, show, nodeRef, networkRef, policyRef, destinationRef } = kit;
  const policies = example(program.command('policies').description('what to back up, how, when (schedule and maintenance windows), where, and for how long (retention)'), 'policies list');
  const destinationIds = async (refs: string[]) => Promise.all(refs.map(async (ref) => (await destinationRef(ref)).id));
  const enabledFlag = (o: PolicyFlags) => (o.disabled ? false : o.enabled ? true : undefined);

  example(policies.command('list').description('every policy with its method, schedule and state'), 'policies list').action(async () => {
    const { policies: list } = await api().request(`{ policies { ${POLICY_FIELDS} } }`);
    show(list, () => (list.length ? list.map((p: any) => `${p.id}  ${p.name}  ${p.plugin}/${p.method}${p.enabled ? '' : ' (paused)'}  ${describeSchedule(p.schedule)}`) : ['no policies']));
  });

  example(
    policies.command('show <policy>').description("one policy (name or id): schedule, windows, retention, destinations, and its next runs in the policy's time zone"),
    'policies show files-nightly',
  ).action(async (ref: string) => {
    const found = await policyRef(ref);
    const [{ policies: list }, { destinations }] = await Promise.all([
      api().request(`{ policies { ${POLICY_FIELDS} nextFireTimes(count: 5) } }`),
      api().request(`{ destinations { id name } }`),
    ]);
    const policy = list.find((p: { id: string }) => p.id === found.id);
    if (!policy) throw new CliError(`policy ${ref} was deleted meanwhile`);
    show(policy, () => describePolicy(policy, new Map(destinations.map((d: { id: string; name: string }) => [d.id, d.name]))));
  });

  example(
    policyOptions(
      policies
        .command('create')
        .description('create a policy for a node (node-scope methods) or a network (network-scope methods)')
        .requiredOption('--name <name>', 'a name unique among policies')
        .option('--node <node>', 'node name or id (node-scope methods)')
        .option('--network <network>', 'network name or id (network-scope methods)')
        .requiredOption('--method <method>', "the plugin's backup method, e.g. snapshot"),
    ).addHelpText('after', '\nWithout --destination it writes to the destination named "local". Without --preset or --cron it runs only by hand (backups run).'),
    'policies create --name files-nightly --node files --method snapshot --keep-last 7',
    'policies create --name chain-nightly --node geth-1 --method snapshot --cron "30 1 * * *" --time-zone Europe/Berlin --window "MON-FRI 01:00-05:00" --window "SAT,SUN 00:00-08:00" --keep-daily 7 --keep-weekly 4 --keep-within 48h --destination local --destination offsite',
  ).action(async (o: PolicyFlags & { name: string; node?: string; network?: string; method: string }) => {
    const retention = mergeRetention(null, retentionChanges(o as unknown as Record<string, unknown>));
    const input = {
      name: o.name,
      method: o.method,
      nodeId: o.node ? (await nodeRef(o.node)).id : undefined,
      networkId: o.network ? (await networkRef(o.network)).id : undefined,
      destinationIds: await destinationIds(o.destination ?? ['local']),
      options: o.options ? parseJson(o.options, '--options') : undefined,
      schedule: scheduleInput(o),
      maintenanceWindows: o.window || undefined,
      retention: Object.keys(retention).length ? retention : undefined,
      enabled: enabledFlag(o),
    };
    const { createPolicy } = await api().request(`mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id name } }`, { input });
    show(createPolicy, () => [`policy ${createPolicy.name} ${createPolicy.id}`]);
  });

  example(
    policyOptions(
      policies
        .command('update <policy>')
        .description('change a policy (name or id): each flag changes one thing and the rest is kept')
        .option('--name <name>', 'the new name')
        .option('--no-schedule', 'remove the schedule: it runs only by hand'),
    )
      // After --window: defined first, --no-window would make every window list `true` by default.
      .option('--no-window', 'remove every maintenance window: jobs start any time')
      .addHelpText(
      'after',
      '\n--preset replaces a cron and --cron a preset; --window given replaces every window; a --keep-* flag sets that rule (or drops it with "none") and keeps the others; --destination given replaces the list.',
    ),
    'policies update files-nightly --cron "0 3 * * *" --time-zone America/New_York',
    'policies update files-nightly --window "MON-FRI 22:00-04:00" --keep-daily 14 --keep-last none',
    'policies update files-nightly --no-schedule',
  ).action(async (ref: string, o: PolicyFlags & { schedule?: boolean }) => {
    const current = await policyRef(ref, POLICY_FIELDS);
    const scheduleGiven = [o.preset, o.cron, o.timeZone, o.jitter, o.outsideWindow].some((v) => v !== undefined);
    if (o.schedule === false && scheduleGiven) throw new CliError('--no-schedule removes the schedule; it goes with none of --preset, --cron, --time-zone, --jitter, --outside-window');
    const changes = retentionChanges(o as unknown as Record<string, unknown>);
    const input: Record<string, unknown> = {
      name: o.name,
      options: o.options ? parseJson(o.options, '--options') : undefined,
      // Explicit null removes the schedule; left out keeps it.
      schedule: o.schedule === false ? null : scheduleInput(o, current.schedule),
      maintenanceWindows: o.window === false ? [] : o.window,
      retention: Object.keys(changes).length ? mergeRetention(current.retention, changes) : undefined,
      destinationIds: o.destination ? await destinationIds(o.destination) : undefined,
      enabled: enabledFlag(o),
    };
    for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
    if (!Object.keys(input).length) throw new CliError('nothing to change: give at least one flag (see policies update --help)');
    const { updatePolicy } = await api().request(`mutation ($id: ID!, $input: UpdatePolicyInput!) { updatePolicy(id: $id, input: $input) { ${POLICY_FIELDS} } }`, { id: current.id, input });
    show(updatePolicy, () => [`policy ${updatePolicy.name} ${updatePolicy.id} updated: ${describeSchedule(updatePolicy.schedule)}; retention ${describeRetention(updatePolicy.retention)}`]);
  });

  for (const [verb, mutation, description, done] of [
    ['pause', 'pausePolicy', 'stop scheduled runs of a policy (name or id); runs by hand still work', 'paused'],
    ['resume', 'resumePolicy', 'start scheduled runs of a paused policy again (name or id)', 'resumed'],
  ] as const) {
    example(policies.command(`${verb} <policy>`).description(description), `policies ${verb} files-nightly`).action(async (ref: string) => {
      const policy = await policyRef(ref);
      const result = (await api().request(`mutation ($id: ID!) { ${mutation}(id: $id) { id name enabled } }`, { id: policy.id }))[mutation];
      show(result, () => [`policy ${result.name} ${done}`]);
    });
  }

  example(
    policies
      .command('delete <policy>')
      .description('remove a policy (name or id); its backups are kept, their retention now by hand, unless --delete-backups')
      .option('--delete-backups', 'delete its backups too (their data is freed by the next prune)'),
    'policies delete files-nightly',
    'policies delete old-policy --delete-backups',
  ).action(async (ref: string, o: { deleteBackups?: boolean }) => {
    const policy = await policyRef(ref);
    const { deletePolicy } = await api().request(`mutation ($id: ID!, $d: Boolean) { deletePolicy(id: $id, deleteBackups: $d) { id name } }`, { id: policy.id, d: Boolean(o.deleteBackups) });
    show(deletePolicy, () => [`policy ${deletePolicy.name} deleted${o.deleteBackups ? ' with its backups' : '; its backups are kept'}`]);
  });

  example(
    policies
      .command('retention <policy>')
      .description("apply the policy's retention rules now (name or id): delete the backups no rule keeps, saying why each is kept or goes")
      .option('--dry-run', 'only say what would be deleted'),
    'policies retention files-nightly --dry-run',
  ).action(async (ref: string, o: { dryRun?: boolean }) => {
    const policy = await policyRef(ref);
    const { applyRetention: result } = await api().request(
      `mutation ($id: ID!, $dry: Boolean!) { applyRetention(policyId: $id, dryRun: $dry) { policyId dryRun evaluatedAt kept { backupId createdAt reasons error } deleted { backupId createdAt reasons error } pruneJobIds } }`,
      { id: policy.id, dry: Boolean(o.dryRun) },
    );
    show(result, () => [
      `${result.kept.length} kept, ${result.deleted.length} ${result.dryRun ? 'would be deleted (dry run)' : 'deleted'}`,
      ...result.kept.map((d: any) => `  keep    ${d.backupId}  ${d.createdAt}  ${d.reasons.join('; ')}${d.error ? `  (${d.error})` : ''}`),
      ...result.deleted.map((d: any) => `  ${result.dryRun ? 'would delete' : 'deleted'} ${d.backupId}  ${d.createdAt}  ${d.reasons.join('; ')}`),
    ]);
  });

  example(
    policies.command('add-destination <policy> <destination>').description('write the policy to a further destination too; every earlier backup is copied there'),
    'policies add-destination files-nightly offsite',
  ).action(async (policyArg: string, destinationArg: string) => {
    const policy = await policyRef(policyArg);
    const destination = await destinationRef(destinationArg);
    const { addPolicyDestination } = await api().request(`mutation ($p: ID!, $d: ID!) { addPolicyDestination(policyId: $p, destinationId: $d) { id name destinationIds } }`, {
      p: policy.id,
      d: destination.id,
    });
    show(addPolicyDestination, () => [`policy ${addPolicyDestination.name} writes to ${addPolicyDestination.destinationIds.length} destinations; earlier backups are being copied to ${destination.name}`]);
  });
}
