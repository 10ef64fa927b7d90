/** Helpers shared by this library's specs. Test-only: excluded from the build. */
import type { FileEntry, Manifest } from './manifest';

export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

export function fileEntry(manifest: Manifest, path: string): FileEntry {
  const entry = manifest.entries.find((e) => e.path === path);
  if (entry?.type !== 'file') throw new Error(`the manifest has no file "${path}"`);
  return entry;
}
