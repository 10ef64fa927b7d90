/**
 * Reads what the host needs from a package tarball before npm installs it: its package.json
 * (is it a plugin, what is it called) and its sha512, as npm writes integrity strings.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

const BLOCK = 512;
const MAX_MANIFEST_BYTES = 1024 * 1024;

/** `sha512-<base64>`, the Subresource Integrity form npm records in lockfiles and prints from `npm pack`. */
export async function sha512Integrity(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

/**
 * The package.json of a gzipped tar package: the entry `<top folder>/package.json`, whatever
 * the top folder is called (npm strips it). A tarball with several top folders or several such
 * entries is refused: npm would install one the host did not check. Throws an Error saying
 * what is wrong otherwise.
 */
export async function readTarballManifest(file: string): Promise<Record<string, unknown>> {
  const { found, topFolders } = await scanEntries(file, (path) => {
    const parts = path.replace(/^\.\//, '').split('/');
    return parts.length === 2 && parts[1] === 'package.json';
  });
  if (topFolders.size > 1) throw new Error(`it holds ${topFolders.size} top folders (${[...topFolders].slice(0, 5).join(', ')}), where a package has one`);
  if (found.length > 1) throw new Error(`it holds ${found.length} package.json files at its top, where a package has one`);
  const text = found[0] ?? null;
  if (text === null) throw new Error('it holds no package.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(text.toString('utf8'));
  } catch (error) {
    throw new Error(`its package.json is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new Error('its package.json is not a JSON object');
  return manifest as Record<string, unknown>;
}

/** The bytes of every regular file whose path `wanted` accepts, and the top folders of all entries. */
async function scanEntries(file: string, wanted: (path: string) => boolean): Promise<{ found: Buffer[]; topFolders: Set<string> }> {
  const found: Buffer[] = [];
  const topFolders = new Set<string>();
  const stream = createReadStream(file).pipe(createGunzip());
  let pending: Buffer = Buffer.alloc(0);
  // The entry being read: its data is collected when `keep` is set, skipped otherwise.
  let entry: { type: string; path: string; size: number; keep: boolean; data: Buffer[]; left: number } | null = null;
  let padding = 0;
  let paxPath: string | null = null;
  let longPath: string | null = null;
  try {
    for await (const chunk of stream) {
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      for (;;) {
        if (padding > 0) {
          const skipped = Math.min(padding, pending.length);
          padding -= skipped;
          pending = pending.subarray(skipped);
          if (padding > 0) break;
        }
        if (entry) {
          const taken = Math.min(entry.left, pending.length);
          if (entry.keep) entry.data.push(pending.subarray(0, taken));
          entry.left -= taken;
          pending = pending.subarray(taken);
          if (entry.left > 0) break;
          const done: typeof entry = entry;
          entry = null;
          padding = (BLOCK - (done.size % BLOCK)) % BLOCK;
          const data: Buffer | null = done.keep ? Buffer.concat(done.data) : null;
          if (done.type === 'x' && data) paxPath = paxRecord(data, 'path');
          else if (done.type === 'L' && data) longPath = data.toString('utf8').replace(/\0.*$/s, '');
          else if (data) found.push(data);
          continue;
        }
        if (pending.length < BLOCK) break;
        const header = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        if (header.every((byte) => byte === 0)) return { found, topFolders };
        const type = String.fromCharCode(header[156]) === '\0' ? '0' : String.fromCharCode(header[156]);
        const size = readSize(header.subarray(124, 136));
        let path: string = longPath ?? paxPath ?? headerPath(header);
        if (type === 'x' || type === 'L' || type === 'g') path = '';
        else {
          paxPath = null;
          longPath = null;
        }
        if (path) topFolders.add(path.replace(/^\.\//, '').split('/')[0]);
        const metadata = type === 'x' || type === 'L';
        const keep = metadata || (type === '0' && wanted(path));
        if (keep && size > MAX_MANIFEST_BYTES) throw new Error(`${path || 'a header'} is larger than ${MAX_MANIFEST_BYTES} bytes`);
        entry = { type, path, size, keep, data: [], left: size };
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new Error('it is not a gzipped tar archive');
    throw error;
  } finally {
    stream.destroy();
  }
  return { found, topFolders };
}

function field(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

function headerPath(header: Buffer): string {
  const name = field(header.subarray(0, 100));
  const ustar = field(header.subarray(257, 263)).startsWith('ustar');
  const prefix = ustar ? field(header.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function readSize(bytes: Buffer): number {
  // GNU base-256 for sizes past 8 GiB: far beyond any manifest, but still skipped correctly.
  if (bytes[0] & 0x80) {
    let size = 0;
    for (let i = 1; i < bytes.length; i++) size = size * 256 + bytes[i];
    return size;
  }
  const size = parseInt(field(bytes).trim() || '0', 8);
  if (Number.isNaN(size)) throw new Error('it is not a tar archive (a header has no size)');
  return size;
}

function paxRecord(data: Buffer, key: string): string | null {
  // Records are `<length> <key>=<value>\n`.
  for (let at = 0; at < data.length; ) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = parseInt(data.subarray(at, space).toString('ascii'), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === key) return record.slice(eq + 1);
    at += length;
  }
  return null;
}
