/**
 * `chainvault destinations …`: where backups are stored (a local directory, S3, SFTP). Secrets
 * (the S3 secret key, the SSH key, passphrases) are read from files or a prompt, never taken
 * as argument values, so they stay out of shell history and `ps`.
 */
import { Option, type Command } from 'commander';
import { CliError } from './api-client';
import { absolutePath, readSecret, wholeNumber } from './cli-input';
import { example, JOB_FIELDS, type CommandKit } from './command-kit';

const DESTINATION_FIELDS = 'id name kind config secretFields createdAt';
const KINDS = ['local', 's3', 'sftp'] as const;
type Kind = (typeof KINDS)[number];

export interface DestinationOptions {
  name?: string;
  kind?: Kind;
  path?: string;
  bucket?: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretKeyFile?: string;
  host?: string;
  port?: number;
  user?: string;
  privateKeyFile?: string;
  privateKeyPassphraseFile?: string;
  hostKeySha256?: string;
  passphraseFile?: string;
  compression?: string;
}

/** The options of each kind (the passphrase and compression are every kind's), with their flags. */
const KIND_OPTIONS: Record<Kind, (keyof DestinationOptions)[]> = {
  local: ['path'],
  s3: ['bucket', 'prefix', 'region', 'endpoint', 'forcePathStyle', 'accessKeyId', 'secretKeyFile'],
  sftp: ['host', 'port', 'user', 'path', 'privateKeyFile', 'privateKeyPassphraseFile', 'hostKeySha256'],
};
const FLAG: Partial<Record<keyof DestinationOptions, string>> = {
  path: '--path',
  bucket: '--bucket',
  prefix: '--prefix',
  region: '--region',
  endpoint: '--endpoint',
  forcePathStyle: '--force-path-style',
  accessKeyId: '--access-key-id',
  secretKeyFile: '--secret-key-file',
  host: '--host',
  port: '--port',
  user: '--user',
  privateKeyFile: '--private-key-file',
  privateKeyPassphraseFile: '--private-key-passphrase-file',
  hostKeySha256: '--host-key-sha256',
};

/**
 * The config fields the options give for a destination of `kind`, secrets read from their
 * files (or stdin for `-`); an option of another kind is refused by name.
 */
export async function destinationConfig(kind: Kind, o: DestinationOptions, { creating }: { creating: boolean }): Promise<Record<string, unknown>> {
  for (const [key, flag] of Object.entries(FLAG) as [keyof DestinationOptions, string][]) {
    if (o[key] !== undefined && !KIND_OPTIONS[kind].includes(key)) {
      const owners = KINDS.filter((k) => KIND_OPTIONS[k].includes(key)).join(' or ');
      throw new CliError(`${flag} is for ${owners} destinations, not ${kind}`);
    }
  }
  const fromStdin = [o.secretKeyFile, o.privateKeyFile, o.privateKeyPassphraseFile, o.passphraseFile].filter((f) => f === '-').length;
  if (fromStdin > 1 && !process.stdin.isTTY) throw new CliError('only one secret can be piped in on stdin; read the others from files');
  const config: Record<string, unknown> = {};
  if (o.path !== undefined) config.path = kind === 'local' ? absolutePath(o.path) : o.path;
  if (o.bucket !== undefined) config.bucket = o.bucket;
  if (o.prefix !== undefined) config.prefix = o.prefix;
  if (o.region !== undefined) config.region = o.region;
  if (o.endpoint !== undefined) config.endpoint = o.endpoint;
  if (o.forcePathStyle !== undefined) config.forcePathStyle = o.forcePathStyle;
  if (o.accessKeyId !== undefined) config.accessKeyId = o.accessKeyId;
  if (o.host !== undefined) config.host = o.host;
  if (o.port !== undefined) config.port = o.port;
  if (o.user !== undefined) config.username = o.user;
  if (o.hostKeySha256 !== undefined) config.hostKeySha256 = o.hostKeySha256;
  if (o.compression !== undefined) config.compression = o.compression;
  // An access key id typed at a terminal without its secret: asked for, as ssh asks for a password.
  const askSecretKey = creating && kind === 's3' && o.accessKeyId !== undefined;
  const secretAccessKey = await readSecret(o.secretKeyFile, '--secret-key-file', 'S3 secret access key: ', { askWhenTty: askSecretKey });
  if (secretAccessKey !== undefined) config.secretAccessKey = secretAccessKey;
  else if (askSecretKey) throw new CliError('--access-key-id needs its secret: --secret-key-file <file>, or --secret-key-file - to read it from stdin (it is never taken on the command line)');
  const privateKey = await readSecret(o.privateKeyFile, '--private-key-file', 'SSH private key: ', { wholeFile: true });
  if (privateKey !== undefined) config.privateKey = privateKey;
  const privateKeyPassphrase = await readSecret(o.privateKeyPassphraseFile, '--private-key-passphrase-file', 'SSH key passphrase: ');
  if (privateKeyPassphrase !== undefined) config.privateKeyPassphrase = privateKeyPassphrase;
  const passphrase = await readSecret(o.passphraseFile, '--passphrase-file', 'Repository passphrase: ');
  if (passphrase !== undefined) config.passphrase = passphrase;
  return config;
}

/** The options that set a destination's config, shared by create and update. */
function configOptions(command: Command): Command {
  return command
    .option('--path <dir>', 'local: the repository directory, relative to the current directory; sftp: the directory on the SSH server (absolute, or relative to the login directory)')
    .option('--bucket <bucket>', 's3: the bucket (it must exist)')
    .option('--prefix <prefix>', 's3: folder inside the bucket for the repository')
    .option('--region <region>', "s3: the bucket's region")
    .option('--endpoint <url>', 's3: URL of an S3-compatible service (MinIO, Ceph, Garage…); default AWS')
    .option('--force-path-style', 's3: address the bucket as endpoint/bucket (the default with --endpoint)')
    .option('--access-key-id <id>', 's3: the access key id; its secret comes from --secret-key-file or a prompt')
    .option('--secret-key-file <file>', 's3: file holding the secret access key ("-": read it from stdin, or a hidden prompt on a terminal)')
    .option('--host <host>', 'sftp: the SSH server')
    .option('--port <port>', 'sftp: its port (default 22)', wholeNumber(1))
    .option('--user <user>', 'sftp: the login name')
    .option('--private-key-file <file>', 'sftp: the private key file (OpenSSH or PEM)')
    .option('--private-key-passphrase-file <file>', 'sftp: file holding the passphrase of an encrypted private key ("-": stdin or prompt)')
    .option('--host-key-sha256 <fingerprint>', "sftp: pin the server's host key, SHA256:… as ssh-keygen -lf prints it")
    .option('--passphrase-file <file>', 'encrypt the repository with the passphrase in this file ("-": stdin or prompt); set when the repository is created')
    .addOption(new Option('--compression <mode>', 'compression of a new repository').choices(['brotli', 'none']));
}

function describe(d: any): string {
  return `${d.id}  ${d.name}  ${d.kind}  ${JSON.stringify(d.config)}${d.secretFields?.length ? `  secrets set: ${d.secretFields.join(', ')}` : ''}`;
}

export function addDestinationCommands(program: Command, { api, show, destinationRef, reportJob }: CommandKit): void {
  const destinations = example(program.command('destinations').description('where backups are stored: a local directory, an S3 bucket or an SFTP server'), 'destinations list');
  example(destinations.command('list').description('every destination with its config; secret values are never shown, only which are set'), 'destinations list', '--json destinations list').action(
    async () => {
      const { destinations: list } = await api().request(`{ destinations { ${DESTINATION_FIELDS} } }`);
      show(list, () => (list.length ? list.map(describe) : ['no destinations']));
    },
  );

  example(
    configOptions(
      destinations
        .command('create [name]')
        .description('add a destination; its repository is opened (or created) at once, so a wrong location or credential is refused now')
        .option('--name <name>', 'the name (or give it as the argument)')
        .addOption(new Option('--kind <kind>', 'where the repository lives').choices(KINDS).default('local')),
    ),
    'destinations create nightly --path /srv/backups',
    'destinations create offsite --kind s3 --endpoint https://s3.example.com --bucket backups --region eu-west-1 --access-key-id AKIA… --secret-key-file ~/.s3-secret',
    'destinations create vault --kind sftp --host backup.example.com --user chainvault --path backups --private-key-file ~/.ssh/id_ed25519 --passphrase-file ./repo.pass',
  ).action(async (argName: string | undefined, o: DestinationOptions & { kind: Kind }) => {
    const name = argName ?? o.name;
    if (!name) throw new CliError('give the destination a name: destinations create <name> …');
    if (argName && o.name && argName !== o.name) throw new CliError(`two names given: "${argName}" and --name "${o.name}"`);
    const config = await destinationConfig(o.kind, o, { creating: true });
    const { createDestination } = await api().request(`mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { ${DESTINATION_FIELDS} } }`, {
      input: { name, kind: o.kind.toUpperCase(), config },
    });
    show(createDestination, () => [`destination ${createDestination.name} ${createDestination.id}`]);
  });

  example(
    configOptions(destinations.command('update <destination>').description('rename a destination (name or id) or change its config, e.g. rotate its credentials; the options given replace those fields, the rest is kept (secrets too), and the new config is checked by connecting before it is saved').option('--name <name>', 'the new name')),
    'destinations update offsite --secret-key-file ./new-secret',
    'destinations update vault --private-key-file ~/.ssh/id_new --host backup2.example.com',
  ).action(async (ref: string, o: DestinationOptions) => {
    const current = await destinationRef(ref, DESTINATION_FIELDS);
    const changes = await destinationConfig(current.kind.toLowerCase() as Kind, o, { creating: false });
    const input: Record<string, unknown> = { name: o.name };
    if (Object.keys(changes).length) input.config = { ...(current.config as object), ...changes };
    if (input.name === undefined && input.config === undefined) throw new CliError('give --name or an option of the config to change; see destinations update --help');
    const { updateDestination } = await api().request(`mutation ($id: ID!, $input: UpdateDestinationInput!) { updateDestination(id: $id, input: $input) { ${DESTINATION_FIELDS} } }`, { id: current.id, input });
    show(updateDestination, () => [`destination ${updateDestination.name} ${updateDestination.id} updated`]);
  });

  example(
    destinations.command('delete <destination>').description('remove a destination (name or id) from the catalog; refused while it holds backups or a policy writes to it. The repository itself is left where it is'),
    'destinations delete old-disk',
  ).action(async (ref: string) => {
    const destination = await destinationRef(ref);
    const { deleteDestination } = await api().request(`mutation ($id: ID!) { deleteDestination(id: $id) { id name } }`, { id: destination.id });
    show(deleteDestination, () => [`destination ${deleteDestination.name} deleted`]);
  });

  example(
    destinations
      .command('prune <destination>')
      .description('remove the data no backup in the destination uses any more (after deletions)')
      .option('--dry-run', 'only report what would be removed')
      .option('--wait', 'wait for the job to end, with its progress, and exit non-zero if it fails'),
    'destinations prune local --dry-run --wait',
  ).action(async (ref: string, o: { dryRun?: boolean; wait?: boolean }) => {
    const destination = await destinationRef(ref);
    const { pruneDestination } = await api().request(`mutation ($d: ID!, $dry: Boolean) { pruneDestination(destinationId: $d, dryRun: $dry) { ${JOB_FIELDS} } }`, {
      d: destination.id,
      dry: Boolean(o.dryRun),
    });
    await reportJob(pruneDestination, Boolean(o.wait));
  });

  example(
    destinations
      .command('check <destination>')
      .description('check every backup in the destination, reading each pack once; names the backups and files damage hurts')
      .option('--structure-only', 'check the index and that packs exist, without reading the data')
      .option('--wait', 'wait for the job to end and exit non-zero if anything is damaged'),
    'destinations check local --wait',
  ).action(async (ref: string, o: { structureOnly?: boolean; wait?: boolean }) => {
    const destination = await destinationRef(ref);
    const { checkDestination } = await api().request(`mutation ($d: ID!, $r: Boolean) { checkDestination(destinationId: $d, readData: $r) { ${JOB_FIELDS} } }`, {
      d: destination.id,
      r: !o.structureOnly,
    });
    await reportJob(checkDestination, Boolean(o.wait));
  });
}
