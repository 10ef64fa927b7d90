import type { ArtifactSource, TreeSummary } from '@chainvault/plugin-sdk';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationKind, type DestinationEntity } from '../catalog/entities';
import type { ChainvaultConfig } from '../config/chainvault-config';
import type { DestinationService } from '../destinations/destination.service';
import { ChainvaultErrorCode } from '../errors/chainvault.errors';
import { RestoreRoots, configLocations } from './restore-roots';

let work: string;
let dataDir: string;
let extraRoot: string;
let outside: string;
let destinations: Partial<DestinationEntity>[];

beforeEach(async () => {
  // Real, so expected locations compare equal where the tmp dir is itself behind a link.
  work = await realpath(await mkdtemp(join(tmpdir(), 'chainvault-roots-')));
  dataDir = join(work, 'data');
  extraRoot = join(work, 'restore-here');
  outside = join(work, 'outside');
  await mkdir(join(dataDir, 'plugins', 'node_modules'), { recursive: true });
  await writeFile(join(dataDir, 'secret.key'), 'key\n');
  await mkdir(extraRoot);
  await mkdir(outside);
  destinations = [{ name: 'local', kind: DestinationKind.LOCAL, config: { path: join(dataDir, 'repository') } }];
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function rootsWith(config: Partial<ChainvaultConfig> = {}): RestoreRoots {
  const list = async () => destinations as DestinationEntity[];
  return new RestoreRoots({ dataDir, pluginPaths: [], restoreRoots: [extraRoot], ...config } as ChainvaultConfig, { list } as unknown as DestinationService);
}

const forbidden = (...patterns: RegExp[]) => ({
  code: ChainvaultErrorCode.FORBIDDEN,
  message: expect.stringMatching(new RegExp(patterns.map((p) => `(?=[\\s\\S]*${p.source})`).join(''))),
});

describe('a restore or export target', () => {
  it('is accepted inside the default root and inside an extra root, as its real location', async () => {
    const roots = rootsWith();
    await expect(roots.check(join(dataDir, 'restores', 'node-1'), 'the export path')).resolves.toBe(join(dataDir, 'restores', 'node-1'));
    await expect(roots.check(join(extraRoot, 'a', 'b'), 'the export path')).resolves.toBe(join(extraRoot, 'a', 'b'));
    await expect(roots.check(extraRoot, 'the export path')).resolves.toBe(extraRoot);
  });

  it('is refused outside the roots, with a message naming the path, the roots and how to add one', async () => {
    const target = join(outside, 'x');
    await expect(rootsWith().check(target, 'the export path')).rejects.toMatchObject(
      forbidden(/the export path \S*outside\/x is outside the restore roots/, new RegExp(`${join(dataDir, 'restores')}, ${extraRoot}`), /CHAINVAULT_RESTORE_ROOTS/, /restoreRoots/),
    );
    await expect(rootsWith({ restoreRoots: undefined }).check(join(extraRoot, 'x'), 'the export path')).rejects.toMatchObject(forbidden(/outside the restore roots/));
    await expect(rootsWith().check('/etc/cron.d', 'targetConfig.path')).rejects.toMatchObject(forbidden(/targetConfig\.path \/etc\/cron\.d is outside/));
  });

  it.each([
    ['an installed plugin', () => join(dataDir, 'plugins', 'node_modules', 'evil')],
    ['the secret key', () => join(dataDir, 'secret.key')],
    ['the catalog', () => join(dataDir, 'catalog.sqlite')],
    ['the default repository', () => join(dataDir, 'repository', 'data')],
    ['a new folder of the data directory', () => join(dataDir, 'new')],
  ])('is refused on %s, even when an extra root is / or holds the data directory', async (_what, target) => {
    for (const root of ['/', work]) {
      await expect(rootsWith({ restoreRoots: [root] }).check(target(), 'the export path')).rejects.toMatchObject(
        forbidden(/is inside the data directory/, /plant a plugin/, /only its restores folder/),
      );
    }
  });

  it('is refused when it is or contains the data directory, and / is refused', async () => {
    const roots = rootsWith({ restoreRoots: ['/'] });
    await expect(roots.check(dataDir, 'the export path')).rejects.toMatchObject(forbidden(/ is the data directory /));
    await expect(roots.check(work, 'the export path')).rejects.toMatchObject(forbidden(/ contains the data directory /, /that does not contain it/));
    await expect(roots.check('/', 'the export path')).rejects.toMatchObject(forbidden(/ contains /));
    // The data directory's own restores folder is still a root.
    await expect(roots.check(join(dataDir, 'restores', 'x'), 'the export path')).resolves.toBe(join(dataDir, 'restores', 'x'));
  });

  it('is refused in a local destination’s repository, or around it; other kinds have none here', async () => {
    const repo = join(extraRoot, 'offsite-repo');
    destinations.push({ name: 'offsite', kind: DestinationKind.LOCAL, config: { path: repo } }, { name: 'bucket', kind: DestinationKind.S3, config: { bucket: 'b', path: extraRoot } });
    const roots = rootsWith();
    await expect(roots.check(join(repo, 'packs'), 'the export path')).rejects.toMatchObject(forbidden(/is inside the repository of destination "offsite"/, /damage the backups/));
    await expect(roots.check(repo, 'the export path')).rejects.toMatchObject(forbidden(/ is the repository of destination "offsite"/));
    await expect(roots.check(extraRoot, 'the export path')).rejects.toMatchObject(forbidden(/ contains the repository of destination "offsite"/));
    await expect(roots.check(join(extraRoot, 'beside'), 'the export path')).resolves.toBe(join(extraRoot, 'beside'));
  });

  it('is refused in a relative local repository, taken from the data directory, and in a plugin folder', async () => {
    await mkdir(join(dataDir, 'restores'));
    destinations.push({ name: 'in-restores', kind: DestinationKind.LOCAL, config: { path: 'restores/repo' } });
    const plugins = join(extraRoot, 'my-plugins');
    const roots = rootsWith({ pluginPaths: [plugins] });
    await expect(roots.check(join(dataDir, 'restores', 'repo', 'x'), 'the export path')).rejects.toMatchObject(forbidden(/repository of destination "in-restores"/));
    await expect(roots.check(join(plugins, 'evil'), 'the export path')).rejects.toMatchObject(forbidden(/is inside the plugin folder/, /run as a plugin/));
  });

  it('is refused in a kernel folder, even under the root /', async () => {
    await expect(rootsWith({ restoreRoots: ['/'] }).check('/proc/sys/kernel/x', 'the export path')).rejects.toMatchObject(forbidden(/is inside \/proc/));
  });

  it('is judged where its links lead: a link out of a root is refused, a link within one is followed', async () => {
    await symlink('/etc', join(extraRoot, 'etc'));
    await symlink(dataDir, join(extraRoot, 'data'));
    await symlink(join(extraRoot, 'real'), join(extraRoot, 'alias'));
    const roots = rootsWith();
    await expect(roots.check(join(extraRoot, 'etc'), 'the export path')).rejects.toMatchObject(forbidden(/etc \(which leads to \/etc\) is outside the restore roots/));
    await expect(roots.check(join(extraRoot, 'etc', 'new', 'deeper'), 'the export path')).rejects.toMatchObject(forbidden(/which leads to \/etc\/new\/deeper/));
    await expect(roots.check(join(extraRoot, 'data', 'plugins', 'node_modules', 'evil'), 'the export path')).rejects.toMatchObject(forbidden(/is inside the data directory/));
    await expect(roots.check(join(extraRoot, 'alias', 'x'), 'the export path')).resolves.toBe(join(extraRoot, 'real', 'x'));
  });

  it('is judged where a dangling link would create it', async () => {
    await symlink(join(outside, 'not-yet'), join(extraRoot, 'dangling'));
    await expect(rootsWith().check(join(extraRoot, 'dangling'), 'the export path')).rejects.toMatchObject(forbidden(/which leads to \S*outside\/not-yet\) is outside/));
    await expect(rootsWith().check(join(extraRoot, 'dangling', 'x'), 'the export path')).rejects.toMatchObject(forbidden(/outside\/not-yet\/x\) is outside/));
  });

  it('is refused when `..` climbs out of a root, lexically or after a link', async () => {
    await mkdir(join(outside, 'deep'));
    await symlink(join(outside, 'deep'), join(extraRoot, 'link'));
    const roots = rootsWith();
    await expect(roots.check(`${extraRoot}/../outside/x`, 'the export path')).rejects.toMatchObject(forbidden(/outside the restore roots/));
    await expect(roots.check(`${dataDir}/restores/../plugins/node_modules/evil`, 'the export path')).rejects.toMatchObject(forbidden(/inside the data directory/));
    // Read as text this is <root>/x; the kernel takes `..` from where the link leads: <outside>/x.
    await expect(roots.check(`${extraRoot}/link/../x`, 'the export path')).rejects.toMatchObject(forbidden(new RegExp(`which leads to ${join(outside, 'x')}\\) is outside`)));
  });

  it('must be absolute (a relative path is bad input, named as given)', async () => {
    await expect(rootsWith().check('restores/x', 'the export path')).rejects.toMatchObject({
      code: ChainvaultErrorCode.BAD_USER_INPUT,
      message: 'the export path must be absolute, got "restores/x"',
    });
  });

  it('is checked for every `path` and `…Path` field of a target config', async () => {
    const roots = rootsWith();
    await expect(roots.checkTarget({ path: join(extraRoot, 'ok'), restorePath: join(outside, 'x'), rpcUrl: 'http://x' }, 'targetConfig')).rejects.toMatchObject(
      forbidden(/targetConfig\.restorePath \S+ is outside/),
    );
    await expect(roots.checkTarget({ path: join(extraRoot, 'ok'), restorePath: join(extraRoot, 'x'), importCommand: ['/usr/bin/geth'] }, 'targetConfig')).resolves.toBeUndefined();
  });
});

describe('configLocations', () => {
  it('names the top-level strings named like folders, and nothing else', () => {
    expect(configLocations({ path: '/a', restorePath: '/b', genesisFile: '/c', xpath: '/d', nested: { path: '/e' }, countPath: 3, rpcUrl: 'http://f', dir: '/g', dataDir: '/h' })).toEqual([
      { field: 'path', path: '/a' },
      { field: 'restorePath', path: '/b' },
      { field: 'dir', path: '/g' },
      { field: 'dataDir', path: '/h' },
    ]);
  });

  it('with files, also the absolute ones named like files (a node reads them)', () => {
    expect(configLocations({ genesisFile: '/data/secret.key', snapshotFile: 'latest.snap', file: '/f', profile: '/p' }, { files: true })).toEqual([
      { field: 'genesisFile', path: '/data/secret.key' },
      { field: 'file', path: '/f' },
    ]);
  });
});

describe('a guarded backup handed to a plugin', () => {
  function fakeSource(): ArtifactSource & { extracted: string[] } {
    const extracted: string[] = [];
    const summary: TreeSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
    return {
      extracted,
      list: async () => [],
      read: () => {
        throw new Error('not read here');
      },
      extractTree: async (target) => {
        extracted.push(target);
        return summary;
      },
    };
  }

  it('extracts only into a checked target, at its real location', async () => {
    await symlink(join(extraRoot, 'real'), join(extraRoot, 'alias'));
    const source = fakeSource();
    const guarded = rootsWith().guard(source, 'the folder plugin "directory" extracts into');
    await guarded.extractTree(join(extraRoot, 'alias', 'x'));
    await expect(guarded.extractTree(join(dataDir, 'plugins', 'node_modules', 'evil'))).rejects.toMatchObject(
      forbidden(/the folder plugin "directory" extracts into \S+evil is inside the data directory/),
    );
    await expect(guarded.extractTree('/root/.ssh')).rejects.toMatchObject(forbidden(/outside the restore roots/));
    expect(source.extracted).toEqual([join(extraRoot, 'real', 'x')]);
  });

  it("also extracts into the job's scratch folder, though it lies in the data directory, and nowhere else there", async () => {
    const scratch = join(dataDir, 'tmp', 'job-1');
    await mkdir(scratch, { recursive: true });
    const source = fakeSource();
    const guarded = rootsWith().guard(source, 'the folder plugin "directory" extracts into', scratch);
    await guarded.extractTree(join(scratch, 'staging'));
    await expect(guarded.extractTree(join(scratch, '..', 'job-2'))).rejects.toMatchObject(forbidden(/is inside the data directory/));
    await expect(guarded.extractTree(join(dataDir, 'plugins', 'node_modules', 'evil'))).rejects.toMatchObject(forbidden(/is inside the data directory/));
    expect(source.extracted).toEqual([join(scratch, 'staging')]);
  });
});

describe('a node location', () => {
  it('is accepted in an ordinary folder', async () => {
    await expect(rootsWith().checkNodeLocation(outside, 'config.path')).resolves.toBe(outside);
    await expect(rootsWith().checkNodeLocation('/srv/chain', 'config.path')).resolves.toBe('/srv/chain');
  });

  it('is refused inside, at or around the data directory, so / is refused', async () => {
    const roots = rootsWith();
    await expect(roots.checkNodeLocation(join(dataDir, 'x'), 'config.path')).rejects.toMatchObject(forbidden(/config\.path \S+x is inside the data directory/, /Register the node's own folder/));
    await expect(roots.checkNodeLocation(join(dataDir, 'restores', 'x'), 'config.path')).rejects.toMatchObject(forbidden(/is inside the data directory/));
    await expect(roots.checkNodeLocation(dataDir, 'config.path')).rejects.toMatchObject(forbidden(/ is the data directory/));
    await expect(roots.checkNodeLocation('/', 'config.path')).rejects.toMatchObject(forbidden(/config\.path \/ contains the data directory/));
  });

  it('is refused through a link into the data directory', async () => {
    await symlink(dataDir, join(outside, 'data-link'));
    await expect(rootsWith().checkNodeLocation(join(outside, 'data-link', 'secret.key'), 'config.path')).rejects.toMatchObject(forbidden(/which leads to \S+secret\.key\) is inside the data directory/));
  });

  it.each(['/proc/1', '/sys/kernel', '/dev/sda'])('is refused in the kernel folder of %s', async (path) => {
    await expect(rootsWith().checkNodeLocation(path, 'config.path')).rejects.toMatchObject(forbidden(/a folder of the kernel's/));
  });

  it('is checked for every `path` and `…Path` field of a node config', async () => {
    await expect(rootsWith().checkNodeConfig({ rpcUrl: 'http://x', restorePath: '/' }, 'config')).rejects.toMatchObject(forbidden(/config\.restorePath \/ contains/));
    await expect(rootsWith().checkNodeConfig({ path: 'srv/x' }, 'config')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: 'config.path must be absolute, got "srv/x"' });
  });
});
