// Restore of a chain-export backup: the segment files covering the requested blocks (taken from this backup and the
// earlier ones it continues) and the genesis file, written into a target directory; then, when the target gives one,
// the client's own import command, with its output in the job log.
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { PluginError, type ArtifactSource, type RestoreContext, type RestoreOutcome, type RestoreTargetCheck } from '@chainvault/plugin-sdk';
import { GENESIS_FILE, type ChainExportMetadata, type HistoryEntry } from './chain-export';
import { checkImportCommand, type ChainRestoreOptions, type EthereumNodeConfig } from './config';

type TargetConfig = Partial<EthereumNodeConfig> & { path?: string };

function targetPath(config: TargetConfig): string {
  const path = config.path ?? config.restorePath;
  if (!path) throw new PluginError('INVALID_TARGET', 'the restore target needs a path (or, for a registered node, a restorePath) for the segment files');
  if (!isAbsolute(path)) throw new PluginError('INVALID_TARGET', `the restore target path must be absolute, got "${path}"`);
  return path;
}

export async function checkChainRestoreTarget({ target }: RestoreTargetCheck<TargetConfig, ChainRestoreOptions>): Promise<void> {
  const path = targetPath(target.config);
  if (target.config.importCommand) checkImportCommand(target.config.importCommand, 'INVALID_TARGET');
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new PluginError('INVALID_TARGET', `the restore target ${path} cannot be read (${error.code ?? error.message})`);
  });
  if (!info) return;
  if (!info.isDirectory()) throw new PluginError('INVALID_TARGET', `the restore target ${path} is a file, not a directory`);
  const existing = await readdir(path);
  if (existing.length > 0) throw new PluginError('INVALID_TARGET', `the restore target ${path} is not empty (${existing.length} entries): choose an empty or new directory`);
}

interface Segment {
  entry: HistoryEntry;
  open(): Promise<ArtifactSource>;
}

export async function chainRestore(ctx: RestoreContext<TargetConfig, ChainRestoreOptions>): Promise<RestoreOutcome> {
  await checkChainRestoreTarget({ sources: ctx.sources, target: ctx.target, options: ctx.options });
  const path = targetPath(ctx.target.config);
  const metadata = ctx.backup.metadata as unknown as ChainExportMetadata;
  const chain = [...ctx.earlier.map((e) => ({ metadata: e.backup.metadata as unknown as ChainExportMetadata, open: e.open })), { metadata, open: async () => ctx.artifacts }];
  const endBlock = metadata.endBlock;
  if (endBlock === null) throw new PluginError('INVALID_OPTIONS', `backup ${ctx.backup.id} holds no blocks yet`);
  const from = ctx.options.fromBlock ?? 0;
  const to = ctx.options.toBlock ?? endBlock;
  if (from > to) throw new PluginError('INVALID_OPTIONS', `fromBlock ${from} is above toBlock ${to}`);
  if (to > endBlock) throw new PluginError('INVALID_OPTIONS', `toBlock ${to} is beyond block ${endBlock}, where this backup ends; restore a later backup`);

  // Each backup is opened once, however many of its files are needed.
  const opened = new Map<number, Promise<ArtifactSource>>();
  const segments: Segment[] = chain.flatMap((backup, i) =>
    (backup.metadata.history ?? [])
      .filter((entry) => entry.end_block.block >= from && entry.start_block.block <= to)
      .map((entry) => ({
        entry,
        open: () => {
          if (!opened.has(i)) opened.set(i, backup.open());
          return opened.get(i)!;
        },
      })),
  );
  const covered = segments.length > 0 && segments[0].entry.start_block.block <= from && segments[segments.length - 1].entry.end_block.block >= to;
  if (!covered) throw new PluginError('INCONSISTENT', `the backups available do not cover blocks ${from}-${to}: an earlier segment is missing from the chain`);

  await mkdir(path, { recursive: true });
  const written: string[] = [];
  const genesis = from === 0 ? chain.find((b) => b.metadata.genesis) : undefined;
  if (genesis) {
    const source = await (genesis === chain[chain.length - 1] ? ctx.artifacts : genesis.open());
    await materialise(source, GENESIS_FILE, path);
    ctx.log.info(`wrote ${GENESIS_FILE}: initialise the node with it before importing (geth init / besu --genesis-file)`);
  }
  for (const [i, segment] of segments.entries()) {
    ctx.signal.throwIfAborted();
    ctx.progress.update({ unit: 'files', done: i, total: segments.length, message: `writing ${segment.entry.file}` });
    await materialise(await segment.open(), segment.entry.file, path);
    written.push(segment.entry.file);
  }
  ctx.progress.update({ unit: 'files', done: segments.length, total: segments.length });
  ctx.log.info(`wrote ${written.length} segment file(s) with blocks ${segments[0].entry.start_block.block}-${segments[segments.length - 1].entry.end_block.block} to ${path}`);

  const command = ctx.target.config.importCommand;
  if (command) await runImport(ctx, command, written.map((f) => join(path, f)));
  return {
    details: {
      path,
      files: written.length,
      fromBlock: segments[0].entry.start_block.block,
      toBlock: segments[segments.length - 1].entry.end_block.block,
      genesis: Boolean(genesis),
      imported: Boolean(command),
    },
  };
}

/** Writes one stored file into the directory, under a temporary name until it is complete. */
async function materialise(source: ArtifactSource, file: string, directory: string): Promise<void> {
  const partial = join(directory, `.${file}.partial`);
  await pipeline(Readable.from(source.read(file)), createWriteStream(partial, { flags: 'wx' }));
  await rename(partial, join(directory, file));
}

async function runImport(ctx: RestoreContext<TargetConfig, ChainRestoreOptions>, commandLine: string[], files: string[]): Promise<void> {
  const perFile = commandLine.some((arg) => arg.includes('{file}'));
  const runs = perFile ? files.map((file) => commandLine.map((arg) => arg.replaceAll('{file}', file))) : [commandLine.flatMap((arg) => (arg === '{files}' ? files : [arg]))];
  for (const [i, [program, ...args]] of runs.entries()) {
    ctx.progress.update({ unit: 'steps', done: i, total: runs.length, message: `importing: ${program} ${args.join(' ')}` });
    ctx.log.info(`running ${program} ${args.join(' ')}`);
    const result = await ctx.commands.run(program, args, { timeoutMs: 24 * 60 * 60 * 1000 }).catch((error: PluginError) => {
      throw new PluginError(error.code, `the import command failed: ${error.message}`, { details: error.details });
    });
    // Clients log to standard error (geth) or standard output (besu): both go to the job log.
    for (const line of `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => l.trim() !== '')) ctx.log.info(`import: ${line}`);
  }
  ctx.progress.update({ unit: 'steps', done: runs.length, total: runs.length });
}
