import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ChainvaultError } from '../errors/chainvault.errors';
import { ACCEPTED_PLUGIN_SPECS, classifyPluginSpec } from './plugin-spec';

describe('classifyPluginSpec', () => {
  it.each([
    'chainvault-plugin-notes',
    'chainvault-plugin-notes@1.2.3',
    'chainvault-plugin-notes@^1.2.0',
    'chainvault-plugin-notes@>=1.0.0 <2',
    'chainvault-plugin-notes@1.x || 2.x',
    'chainvault-plugin-notes@next',
    'chainvault-plugin-notes@1.0.0-rc.1',
    '@acme/chainvault-plugin-vmbc',
    '@acme/chainvault-plugin-vmbc@2.0.0',
    'JSONStream',
    '  chainvault-plugin-notes@latest  ',
  ])('takes %s as a registry spec', async (spec) => {
    expect(await classifyPluginSpec(spec)).toEqual({ kind: 'registry', spec: spec.trim() });
  });

  it.each([
    'http://127.0.0.1:1/x.tgz?x=1',
    'git+ssh://git@github.com/a/b.git',
    'github:a/b',
    'gitlab:a/b',
    'a/b',
    '@scope',
    '@scope/a/b',
    'file:x',
    'name@file:../x',
    'name@./x',
    'name@.',
    'name@npm:other',
    'name@git+https://x/y',
    'x.tar',
    'x.tar.gz@1.0.0',
    '-x',
    '.hidden',
    '_private',
    'a b',
    'name@1.0.0\n--registry=x',
    'C:\\plugins\\x.tgz',
  ])('refuses %j', async (spec) => {
    const error = await classifyPluginSpec(spec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainvaultError);
    expect((error as ChainvaultError).message).toBe(`"${spec.trim()}" is not a plugin spec chainvault accepts: ${ACCEPTED_PLUGIN_SPECS}`);
  });

  it('takes an absolute or ./ ../ path to a .tgz, .tar.gz or a folder with a package.json, resolved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chainvault-spec-'));
    try {
      await writeFile(join(dir, 'a-1.0.0.tgz'), '');
      await writeFile(join(dir, 'b-1.0.0.TAR.GZ'), '');
      await mkdir(join(dir, 'folder'));
      await writeFile(join(dir, 'folder', 'package.json'), '{}');
      expect(await classifyPluginSpec(join(dir, 'a-1.0.0.tgz'))).toEqual({ kind: 'tarball', path: join(dir, 'a-1.0.0.tgz') });
      expect(await classifyPluginSpec(join(dir, 'b-1.0.0.TAR.GZ'))).toEqual({ kind: 'tarball', path: join(dir, 'b-1.0.0.TAR.GZ') });
      expect(await classifyPluginSpec(`${dir}/folder/../folder/`)).toEqual({ kind: 'folder', path: join(dir, 'folder') });
      // Relative paths are resolved against the server's working directory.
      const up = `../${'../'.repeat(process.cwd().split('/').length)}${dir.slice(1)}/folder`;
      expect(await classifyPluginSpec(up)).toEqual({ kind: 'folder', path: join(dir, 'folder') });
      expect(resolve(up)).toBe(join(dir, 'folder'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
