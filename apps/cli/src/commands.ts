/**
 * The `chainvault` commands. Everything but `serve` talks to a running server through the
 * GraphQL API; names are accepted wherever ids are, so a first backup needs no copying of ids.
 */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { addAccessCommands } from './access.commands';
import { addCatalogCommands } from './catalog.commands';
import { addTemplateCommands } from './template.commands';
import { ApiClient, CliError, serverUrl } from './api-client';

type Print = (line: string) => void;

const JOB_FIELDS = 'id kind status error result backupId restoreId progress { unit done total message } log { at level message }';

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} must be JSON, for example '{"path": "/srv/data"}'; got: ${text}`);
  }
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function buildProgram(print: Print = (line) => console.log(line)): Command {
  const program = new Command('chainvault')
    .description('Back up and restore blockchain nodes. Talks to the server at CHAINVAULT_URL (default http://127.0.0.1:4800).')
    .option('--json', 'print results as JSON')
    .showHelpAfterError();
  const api = () => new ApiClient(serverUrl());
  const json = () => Boolean(program.opts().json);
  const show = (value: unknown, human: () => string[]) => {
    if (json()) print(JSON.stringify(value, null, 2));
    else for (const line of human()) print(line);
  };

  /** Resolves a name or id among `items`. */
  const pick = <T extends { id: string; name: string }>(items: T[], ref: string, what: string): T => {
    const found = items.filter((i) => i.id === ref || i.name === ref);
    if (found.length === 1) return found[0];
    if (found.length === 0) throw new CliError(`no ${what} named or with id "${ref}"; known: ${items.map((i) => i.name).join(', ') || 'none'}`);
    throw new CliError(`"${ref}" names several ${what}s; use its id`);
  };
  const networkRef = async (ref: string) => pick((await api().request(`{ networks { id name } }`)).networks, ref, 'network');
  const nodeRef = async (ref: string) => pick((await api().request(`{ nodes { id name } }`)).nodes, ref, 'node');
  const policyRef = async (ref: string) => pick((await api().request(`{ policies { id name } }`)).policies, ref, 'policy');
  const destinationRef = async (ref: string) => pick((await api().request(`{ destinations { id name } }`)).destinations, ref, 'destination');

  const waitForJob = async (id: string): Promise<Record<string, any>> => {
    let lastMessage = '';
    for (;;) {
      const { job } = await api().request(`query ($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id });
      if (!json() && job.progress) {
        const line = `  ${job.status.toLowerCase()}: ${job.progress.unit === 'bytes' ? formatBytes(job.progress.done) : `${job.progress.done} ${job.progress.unit}`}${job.progress.message ? ` (${job.progress.message})` : ''}`;
        if (line !== lastMessage) process.stderr.write(`${line}\n`);
        lastMessage = line;
      }
      if (!['QUEUED', 'RUNNING'].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const reportJob = async (job: Record<string, any>, wait: boolean) => {
    const final = wait ? await waitForJob(job.id) : job;
    show(final, () => [
      `job ${final.id} (${final.kind}) ${final.status}`,
      ...(final.backupId ? [`backup ${final.backupId}`] : []),
      ...(final.kind === 'EXPORT' && final.status === 'COMPLETED' ? [`${final.result.files} files (${formatBytes(final.result.bytes)}) in ${final.result.path}`] : []),
      ...(final.error ? [`error: ${final.error}`] : []),
    ]);
    if (wait && final.status !== 'COMPLETED') process.exitCode = 1;
  };

  program
    .command('serve')
    .description('start the server (configuration from CHAINVAULT_* variables and CHAINVAULT_CONFIG)')
    .action(async () => {
      const { serve } = await import('@chainvault/server');
      await serve();
    });

  const plugins = program.command('plugins').description('list and install protocol plugins');
  plugins
    .command('list')
    .description('every plugin the server found, with its status')
    .action(async () => {
      const { plugins: list } = await api().request(`{ plugins { id packageName version apiVersion status error source integrity protocols methods { name scope } } }`);
      show(list, () =>
        list.map(
          (p: any) =>
            `${p.id.padEnd(16)} ${p.version.padEnd(9)} ${p.status.padEnd(7)} ${p.source.padEnd(9)} ${p.protocols.join(',')}  methods: ${p.methods.map((m: any) => `${m.name}(${m.scope})`).join(', ')}${p.integrity ? `\n  integrity: ${p.integrity}` : ''}${p.error ? `\n  error: ${p.error}` : ''}`,
        ),
      );
    });
  plugins
    .command('install <spec>')
    .description('install a plugin (a registry name such as name@1.2.0, or a tarball or folder on the server) into the data directory without running its scripts, and load it')
    .action(async (spec: string) => {
      const looksLocal = /^[./]/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec);
      const { installPlugin } = await api().request(`mutation ($spec: String!) { installPlugin(spec: $spec) { id version status error integrity } }`, {
        spec: looksLocal ? resolve(spec) : spec,
      });
      show(installPlugin, () => [`${installPlugin.id} ${installPlugin.version}: ${installPlugin.status}${installPlugin.error ? ` (${installPlugin.error})` : ''}`, `integrity ${installPlugin.integrity}`]);
      if (installPlugin.status !== 'LOADED') process.exitCode = 1;
    });

  const networks = program.command('networks').description('groups of nodes backed up together');
  networks.command('list').action(async () => {
    const { networks: list } = await api().request(`{ networks { id name protocol } }`);
    show(list, () => list.map((n: any) => `${n.id}  ${n.name}  (${n.protocol})`));
  });
  networks
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--protocol <protocol>', 'e.g. directory, geth, besu, fabric')
    .action(async (o: { name: string; protocol: string }) => {
      const { createNetwork } = await api().request(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id name protocol } }`, { input: o });
      show(createNetwork, () => [`network ${createNetwork.name} ${createNetwork.id}`]);
    });

  networks
    .command('update <network>')
    .description('rename a network or replace its labels, e.g. `networks update lab --name lab-2 --labels \'{"env":"test"}\'`')
    .option('--name <name>', 'the new name')
    .option('--labels <json>', 'every label, as a JSON object of strings')
    .action(async (ref: string, o: { name?: string; labels?: string }) => {
      const network = await networkRef(ref);
      const input = { name: o.name, labels: o.labels ? parseJson(o.labels, '--labels') : undefined };
      const { updateNetwork } = await api().request(`mutation ($id: ID!, $input: UpdateNetworkInput!) { updateNetwork(id: $id, input: $input) { id name protocol labels } }`, { id: network.id, input });
      show(updateNetwork, () => [`network ${updateNetwork.name} ${updateNetwork.id} updated`]);
    });
  networks
    .command('delete <network>')
    .description('remove a network with no nodes and no policies, e.g. `networks delete lab`')
    .action(async (ref: string) => {
      const network = await networkRef(ref);
      const { deleteNetwork } = await api().request(`mutation ($id: ID!) { deleteNetwork(id: $id) { id name } }`, { id: network.id });
      show(deleteNetwork, () => [`network ${deleteNetwork.name} deleted`]);
    });

  const nodes = program.command('nodes').description('the nodes of a network');
  nodes.command('list').action(async () => {
    const { nodes: list } = await api().request(`{ nodes { id name plugin role networkId config secretFields } }`);
    show(list, () => list.map((n: any) => `${n.id}  ${n.name}  ${n.plugin}/${n.role}  ${JSON.stringify(n.config)}`));
  });
  nodes
    .command('register')
    .requiredOption('--network <network>', 'network name or id')
    .requiredOption('--name <name>')
    .requiredOption('--plugin <plugin>', 'plugin id')
    .requiredOption('--config <json>', 'node config as JSON')
    .addOption(new Option('--role <role>').default('node'))
    .action(async (o: { network: string; name: string; plugin: string; config: string; role: string }) => {
      const network = await networkRef(o.network);
      const { registerNode } = await api().request(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id name plugin role secretFields } }`, {
        input: { networkId: network.id, name: o.name, plugin: o.plugin, role: o.role, config: parseJson(o.config, '--config') },
      });
      show(registerNode, () => [`node ${registerNode.name} ${registerNode.id}`]);
    });

  nodes
    .command('update <node>')
    .description('rename a node, change its role or its whole config (secret fields not given again are kept), e.g. `nodes update files --config \'{"path": "/srv/data"}\'`')
    .option('--name <name>', 'the new name')
    .option('--role <role>', 'the new role')
    .option('--config <json>', 'the whole new config as JSON')
    .action(async (ref: string, o: { name?: string; role?: string; config?: string }) => {
      const node = await nodeRef(ref);
      const input = { name: o.name, role: o.role, config: o.config ? parseJson(o.config, '--config') : undefined };
      const { updateNode } = await api().request(`mutation ($id: ID!, $input: UpdateNodeInput!) { updateNode(id: $id, input: $input) { id name plugin role config secretFields } }`, { id: node.id, input });
      show(updateNode, () => [`node ${updateNode.name} ${updateNode.id} updated`]);
    });

  const restores = program.command('restores').description('restores made, newest first');
  restores
    .command('list')
    .description('restores, of one backup with --backup, e.g. `restores list --backup <backup id>`')
    .option('--backup <id>', 'only the restores of this backup')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(async (o: { backup?: string; limit?: string }) => {
      const { restores: list } = await api().request(`query ($backupId: ID, $first: Int) { restores(backupId: $backupId, first: $first) { id backupId targetNodeId targetNodeIds status error createdAt finishedAt } }`, {
        backupId: o.backup,
        first: o.limit ? Number(o.limit) : undefined,
      });
      show(list, () => (list.length ? list.map((r: any) => `${r.id}  ${r.createdAt}  ${r.status.padEnd(9)} backup ${r.backupId}  ${r.targetNodeIds ? `${r.targetNodeIds.length} nodes` : (r.targetNodeId ?? 'ad-hoc target')}${r.error ? `  ${r.error}` : ''}`) : ['no restores']));
    });
  restores
    .command('show <id>')
    .description('one restore with what the plugin reported, e.g. `restores show <restore id>`')
    .action(async (id: string) => {
      const { restore } = await api().request(`query ($id: ID!) { restore(id: $id) { id backupId targetNodeId targetNodeIds targetConfig options status details error createdAt finishedAt } }`, { id });
      if (!restore) throw new CliError(`no restore with id ${id}`);
      show(restore, () => [`${restore.id}  ${restore.status}  backup ${restore.backupId}`, JSON.stringify(restore.details ?? {}, null, 2), ...(restore.error ? [restore.error] : [])]);
    });

  const checkpoints = program.command('checkpoints').description("a node's checkpoints: on its disk and in destinations");
  checkpoints
    .command('status <node>')
    .description("list the node's checkpoints (name or id): on the node, with block id, size and age, then those backed up")
    .action(async (ref: string) => {
      const node = await nodeRef(ref);
      const { checkpoints: list } = await api().request(
        `query ($id: ID!) { checkpoints(nodeId: $id) { location id lastBlockId sizeBytes ageSeconds complete path backupId destinationId } }`,
        { id: node.id },
      );
      show(list, () =>
        list.length === 0
          ? [`node ${node.name} has no checkpoints`]
          : list.map((c: any) => `${c.location.padEnd(11)} ${c.id.padStart(12)}  block ${c.lastBlockId ?? '-'}  ${c.sizeBytes === null ? '-' : formatBytes(c.sizeBytes)}  ${c.ageSeconds ?? '-'} s old  ${c.complete ? '' : 'PARTIAL '}${c.path ?? c.backupId ?? ''}`),
      );
    });
  checkpoints
    .command('create <node>')
    .description("make and ship a checkpoint of the node now, with its checkpoint policy (through the node's operator command when it has one)")
    .option('--wait', 'wait for the job to end and exit non-zero if it fails')
    .action(async (ref: string, o: { wait?: boolean }) => {
      const node = await nodeRef(ref);
      const { createCheckpoint } = await api().request(`mutation ($id: ID!) { createCheckpoint(nodeId: $id) { ${JOB_FIELDS} } }`, { id: node.id });
      await reportJob(createCheckpoint, Boolean(o.wait));
    });

  const destinations = program.command('destinations').description('where backups are stored');
  destinations.command('list').action(async () => {
    const { destinations: list } = await api().request(`{ destinations { id name kind config } }`);
    show(list, () => list.map((d: any) => `${d.id}  ${d.name}  ${d.kind}  ${JSON.stringify(d.config)}`));
  });
  destinations
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--path <dir>', 'repository directory')
    .action(async (o: { name: string; path: string }) => {
      const { createDestination } = await api().request(`mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { id name config } }`, {
        input: { name: o.name, kind: 'LOCAL', config: { path: resolve(o.path) } },
      });
      show(createDestination, () => [`destination ${createDestination.name} ${createDestination.id}`]);
    });

  destinations
    .command('prune <destination>')
    .description('remove the data no backup in the destination uses any more (after deletions)')
    .option('--dry-run', 'only report what would be removed')
    .option('--wait', 'wait for the job to end and exit non-zero if it fails')
    .action(async (ref: string, o: { dryRun?: boolean; wait?: boolean }) => {
      const destination = await destinationRef(ref);
      const { pruneDestination } = await api().request(`mutation ($d: ID!, $dry: Boolean) { pruneDestination(destinationId: $d, dryRun: $dry) { ${JOB_FIELDS} } }`, {
        d: destination.id,
        dry: Boolean(o.dryRun),
      });
      await reportJob(pruneDestination, Boolean(o.wait));
    });

  destinations
    .command('check <destination>')
    .description('check every backup in the destination, reading each pack once; names the backups and files damage hurts')
    .option('--structure-only', 'check the index and that packs exist, without reading the data')
    .option('--wait', 'wait for the job to end and exit non-zero if anything is damaged')
    .action(async (ref: string, o: { structureOnly?: boolean; wait?: boolean }) => {
      const destination = await destinationRef(ref);
      const { checkDestination } = await api().request(`mutation ($d: ID!, $r: Boolean) { checkDestination(destinationId: $d, readData: $r) { ${JOB_FIELDS} } }`, {
        d: destination.id,
        r: !o.structureOnly,
      });
      await reportJob(checkDestination, Boolean(o.wait));
    });

  const policies = program.command('policies').description('what to back up, how, and where');
  policies.command('list').action(async () => {
    const { policies: list } = await api().request(`{ policies { id name plugin method nodeId networkId enabled } }`);
    show(list, () => list.map((p: any) => `${p.id}  ${p.name}  ${p.plugin}/${p.method}${p.enabled ? '' : ' (paused)'}`));
  });
  policies
    .command('create')
    .requiredOption('--name <name>')
    .option('--node <node>', 'node name or id (node-scope methods)')
    .option('--network <network>', 'network name or id (network-scope methods)')
    .requiredOption('--method <method>', 'e.g. snapshot')
    .addOption(new Option('--destination <destination>', 'destination name or id').default('local'))
    .option('--options <json>', 'method options as JSON')
    .option('--keep-last <n>', 'keep the last n backups', (v) => Number(v))
    .action(async (o: { name: string; node?: string; network?: string; method: string; destination: string; options?: string; keepLast?: number }) => {
      const input = {
        name: o.name,
        method: o.method,
        nodeId: o.node ? (await nodeRef(o.node)).id : undefined,
        networkId: o.network ? (await networkRef(o.network)).id : undefined,
        destinationIds: [(await destinationRef(o.destination)).id],
        options: o.options ? parseJson(o.options, '--options') : undefined,
        retention: o.keepLast !== undefined ? { keepLast: o.keepLast } : undefined,
      };
      const { createPolicy } = await api().request(`mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id name } }`, { input });
      show(createPolicy, () => [`policy ${createPolicy.name} ${createPolicy.id}`]);
    });

  policies
    .command('add-destination <policy> <destination>')
    .description('write the policy to a further destination too; every earlier backup is copied there')
    .action(async (policyRef_: string, destinationRef_: string) => {
      const policy = await policyRef(policyRef_);
      const destination = await destinationRef(destinationRef_);
      const { addPolicyDestination } = await api().request(`mutation ($p: ID!, $d: ID!) { addPolicyDestination(policyId: $p, destinationId: $d) { id name destinationIds } }`, {
        p: policy.id,
        d: destination.id,
      });
      show(addPolicyDestination, () => [`policy ${addPolicyDestination.name} writes to ${addPolicyDestination.destinationIds.length} destinations; earlier backups are being copied to ${destination.name}`]);
    });

  const backups = program.command('backups').description('run, list and inspect backups');
  backups
    .command('run <policy>')
    .description('back up now with a policy (name or id)')
    .option('--wait', 'wait for the job to end and exit non-zero if it fails')
    .action(async (ref: string, o: { wait?: boolean }) => {
      const policy = await policyRef(ref);
      const { runBackup } = await api().request(`mutation ($id: ID!) { runBackup(policyId: $id) { ${JOB_FIELDS} } }`, { id: policy.id });
      await reportJob(runBackup, Boolean(o.wait));
    });
  backups
    .command('list')
    .option('--policy <policy>', 'only this policy (name or id)')
    .option('--first <n>', 'how many', (v) => Number(v), 50)
    .action(async (o: { policy?: string; first: number }) => {
      const filter = o.policy ? { policyId: (await policyRef(o.policy)).id } : undefined;
      const { backups: page } = await api().request(
        `query ($filter: BackupFilter, $first: Int) { backups(filter: $filter, first: $first) { totalCount nodes { id createdAt status plugin method fileCount logicalSize storedSize verification } } }`,
        { filter, first: o.first },
      );
      show(page, () => [
        ...page.nodes.map((b: any) => `${b.id}  ${b.createdAt}  ${b.status}  ${b.plugin}/${b.method}  ${b.fileCount} files  ${formatBytes(b.logicalSize)} (+${formatBytes(b.storedSize)} stored)  ${b.verification}`),
        `${page.totalCount} backups`,
      ]);
    });
  backups
    .command('show <id>')
    .option('--files', 'list the files too')
    .action(async (id: string, o: { files?: boolean }) => {
      const { backup } = await api().request(
        `query ($id: ID!) { backup(id: $id) { id status plugin method createdAt fileCount filesRead filesUnchanged logicalSize storedSize bytesRead verification verifiedAt metadata pinned ${o.files ? 'files { path type size mode }' : ''} } }`,
        { id },
      );
      if (!backup) throw new CliError(`backup ${id} does not exist`);
      show(backup, () => [
        `backup ${backup.id} ${backup.status} (${backup.plugin}/${backup.method}) at ${backup.createdAt}`,
        `  ${backup.fileCount} files, ${formatBytes(backup.logicalSize)}; read ${backup.filesRead} files (${formatBytes(backup.bytesRead)}), ${backup.filesUnchanged} unchanged; stored ${formatBytes(backup.storedSize)} new`,
        `  verification ${backup.verification}${backup.verifiedAt ? ` at ${backup.verifiedAt}` : ''}${backup.pinned ? ', pinned' : ''}`,
        ...(backup.files ?? []).map((f: any) => `  ${f.type.padEnd(9)} ${f.mode.toString(8).padStart(4, '0')} ${String(f.size).padStart(12)} ${f.path}`),
      ]);
    });
  backups
    .command('export <id> <dir>')
    .description('write the files of a backup, as stored, into a new or empty directory on the server')
    .option('--wait', 'wait for the job to end and exit non-zero if it fails')
    .action(async (id: string, dir: string, o: { wait?: boolean }) => {
      const { exportBackup } = await api().request(`mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { ${JOB_FIELDS} } }`, {
        id,
        path: resolve(dir),
      });
      await reportJob(exportBackup, Boolean(o.wait));
    });
  backups.command('delete <id>').action(async (id: string) => {
    await api().request(`mutation ($id: ID!) { deleteBackup(id: $id) }`, { id });
    show({ deleted: id }, () => [`backup ${id} deleted`]);
  });

  program
    .command('restore <backupId>')
    .description('restore a backup to a registered node, several nodes at once (a restore set), an ad-hoc target, or as a stored template says')
    .option('--template <template>', 'a stored template (name or id): its target nodes and options; --options add to them')
    .option('--target-node <node>', 'node name or id')
    .option('--target-nodes <nodes>', 'a restore set: node names or ids, comma-separated; the plugin orders them in phases')
    .option('--target-config <json>', 'target config as JSON, e.g. {"path": "/restore/here"}')
    .option('--options <json>', 'restore options as JSON')
    .option('--from <destination>', "restore from this destination's copy (name or id)")
    .option('--wait', 'wait for the job to end and exit non-zero if it fails')
    .action(async (backupId: string, o: { template?: string; targetNode?: string; targetNodes?: string; targetConfig?: string; options?: string; from?: string; wait?: boolean }) => {
      const setRefs = o.targetNodes ? o.targetNodes.split(',').map((s) => s.trim()).filter(Boolean) : [];
      const input = {
        backupId,
        fromDestinationId: o.from ? (await destinationRef(o.from)).id : undefined,
        targetNodeId: o.targetNode ? (await nodeRef(o.targetNode)).id : undefined,
        targetNodeIds: setRefs.length ? await Promise.all(setRefs.map(async (ref) => (await nodeRef(ref)).id)) : undefined,
        targetConfig: o.targetConfig ? parseJson(o.targetConfig, '--target-config') : undefined,
        options: o.options ? parseJson(o.options, '--options') : undefined,
        templateId: o.template,
      };
      const { restoreBackup } = await api().request(`mutation ($input: RestoreInput!) { restoreBackup(input: $input) { ${JOB_FIELDS} } }`, { input });
      await reportJob(restoreBackup, Boolean(o.wait));
    });

  program
    .command('verify <backupId>')
    .description('re-hash a backup and prove it against its protocol')
    .option('--structure-only', 'check the structure without reading the data')
    .option('--wait', 'wait for the job to end and exit non-zero if the backup is corrupt')
    .action(async (backupId: string, o: { structureOnly?: boolean; wait?: boolean }) => {
      const { verifyBackup } = await api().request(`mutation ($id: ID!, $readData: Boolean) { verifyBackup(backupId: $id, readData: $readData) { ${JOB_FIELDS} } }`, {
        id: backupId,
        readData: !o.structureOnly,
      });
      await reportJob(verifyBackup, Boolean(o.wait));
    });

  const jobs = program.command('jobs').description('inspect and cancel jobs');
  jobs.command('list').action(async () => {
    const { jobs: list } = await api().request(`{ jobs { id kind status createdAt error } }`);
    show(list, () => list.map((j: any) => `${j.id}  ${j.kind.padEnd(7)} ${j.status.padEnd(9)} ${j.createdAt}${j.error ? `  ${j.error}` : ''}`));
  });
  jobs.command('show <id>').action(async (id: string) => {
    const { job } = await api().request(`query ($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id });
    if (!job) throw new CliError(`job ${id} does not exist`);
    show(job, () => [`job ${job.id} (${job.kind}) ${job.status}`, ...(job.error ? [`error: ${job.error}`] : []), ...job.log.map((l: any) => `  ${l.at} ${l.level} ${l.message}`)]);
  });
  jobs.command('cancel <id>').action(async (id: string) => {
    const { cancelJob } = await api().request(`mutation ($id: ID!) { cancelJob(id: $id) { id status } }`, { id });
    show(cancelJob, () => [`job ${cancelJob.id} ${cancelJob.status}`]);
  });

  addAccessCommands(program, { api, show });
  addCatalogCommands(program, { show });
  addTemplateCommands(program, { api, show, nodeRef });

  return program;
}
