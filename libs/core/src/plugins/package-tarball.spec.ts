import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readTarballManifest, sha512Integrity } from './package-tarball';

const run = promisify(execFile);

describe('package tarballs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chainvault-tarball-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A gzipped tar of `top/` (with a big file before package.json) in the given GNU tar format. */
  async function tarball(format: string, top: string, manifest: string): Promise<string> {
    const root = join(dir, format);
    await mkdir(join(root, top), { recursive: true });
    await writeFile(join(root, top, 'a-large-file.bin'), Buffer.alloc(70_001, 7));
    await writeFile(join(root, top, 'package.json'), manifest);
    await writeFile(join(root, top, 'z-package.json'), '{"name":"not-this-one"}');
    const file = join(dir, `${format}.tgz`);
    await run('tar', ['-czf', file, `--format=${format}`, '-C', root, `${top}/a-large-file.bin`, `${top}/package.json`, `${top}/z-package.json`]);
    return file;
  }

  it.each([
    ['gnu', 'package/, as npm packs', 'package'],
    ['gnu', 'a long name (GNU long-name entry)', 'a-top-folder-whose-name-is-longer-than-the-hundred-bytes-a-tar-header-has-room-for-'.repeat(2)],
    ['pax', 'a long name (pax extended header)', 'another-top-folder-whose-name-is-longer-than-the-hundred-bytes-a-tar-header-has-room-for'.repeat(2)],
    ['ustar', 'a name split into prefix and name', 'a-top-folder-that-ustar-splits-into-prefix-and-name-'.repeat(2)],
  ])('reads package.json from a %s archive, its top folder %s', async (format, _what, top) => {
    const file = await tarball(format, top, '{ "name": "chainvault-plugin-x", "version": "1.0.0", "chainvault": { "plugin": {} } }');
    expect(await readTarballManifest(file)).toEqual({ name: 'chainvault-plugin-x', version: '1.0.0', chainvault: { plugin: {} } });
  });

  it('says what is wrong with something that is not a package', async () => {
    const text = join(dir, 'text.tgz');
    await writeFile(text, 'plain text');
    await expect(readTarballManifest(text)).rejects.toThrow('it is not a gzipped tar archive');
    const empty = join(dir, 'empty.tgz');
    await writeFile(empty, gzipSync(Buffer.alloc(1024)));
    await expect(readTarballManifest(empty)).rejects.toThrow('it holds no package.json');
    await expect(readTarballManifest(await tarball('gnu', 'broken', '{ not json'))).rejects.toThrow('its package.json is not valid JSON');
    await expect(readTarballManifest(await tarball('pax', 'list', '[1, 2]'))).rejects.toThrow('its package.json is not a JSON object');
  });

  it('refuses a tarball whose package.json npm would take from another folder than the one checked', async () => {
    const root = join(dir, 'two-tops');
    for (const [top, name] of [['a', 'cv-good-plugin'], ['package', 'zzz-not-a-plugin']]) {
      await mkdir(join(root, top), { recursive: true });
      await writeFile(join(root, top, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
    }
    const file = join(dir, 'two-tops.tgz');
    await run('tar', ['-czf', file, '-C', root, 'a/package.json', 'package/package.json']);
    await expect(readTarballManifest(file)).rejects.toThrow('it holds 2 top folders (a, package), where a package has one');
    // The same path twice, with other content the second time: tar extracts the last one.
    const plain = join(dir, 'twice.tar');
    await run('tar', ['-cf', plain, '-C', root, 'package/package.json']);
    await writeFile(join(root, 'package', 'package.json'), JSON.stringify({ name: 'cv-good-plugin', version: '2.0.0' }));
    await run('tar', ['-rf', plain, '-C', root, 'package/package.json']);
    const twice = join(dir, 'twice.tgz');
    await writeFile(twice, gzipSync(await readFile(plain)));
    await expect(readTarballManifest(twice)).rejects.toThrow('it holds 2 package.json files at its top');
  });

  it('writes integrity as npm does: sha512, base64, with its prefix', async () => {
    const file = join(dir, 'bytes.bin');
    await writeFile(file, Buffer.alloc(200_000, 'chainvault plugin bytes'));
    expect(await sha512Integrity(file)).toBe(`sha512-${createHash('sha512').update(await readFile(file)).digest('base64')}`);
    const abc = join(dir, 'abc.txt');
    await writeFile(abc, 'abc');
    // The FIPS 180-2 test vector for "abc", in base64.
    expect(await sha512Integrity(abc)).toBe('sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==');
  });
});
