/**
 * A small zip reader for test fixtures (stored and deflated entries, which is all the upstream
 * sample archives use): fixtures are unpacked into a temporary directory, never into the project.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/** Extracts a zip archive into `target`. */
export async function unzip(zipPath: string, target: string): Promise<string[]> {
  const zip = await readFile(zipPath);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipPath}: no end of central directory record`);
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const written: string[] = [];
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry ${n}`);
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const localHeader = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLength).toString('utf8');
    p += 46 + nameLength + extraLength + commentLength;

    const path = normalize(join(target, name));
    if (!path.startsWith(normalize(target) + sep)) throw new Error(`${zipPath}: entry ${name} escapes the target`);
    if (name.endsWith('/')) {
      await mkdir(path, { recursive: true });
      continue;
    }
    if (zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error(`${zipPath}: bad local header for ${name}`);
    const start = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const raw = zip.subarray(start, start + compressedSize);
    let content: Buffer;
    if (method === 0) content = raw;
    else if (method === 8) content = inflateRawSync(raw);
    else throw new Error(`${zipPath}: ${name} uses compression method ${method}`);
    if (content.length !== size) throw new Error(`${zipPath}: ${name} inflated to ${content.length} bytes, expected ${size}`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    written.push(name);
  }
  return written;
}
