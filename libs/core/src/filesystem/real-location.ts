/** Where a path really leads, as the kernel would follow it, even when its end does not exist yet. */
import { lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';

/** Links followed while resolving one path before it counts as a loop (Linux's own limit). */
const MAX_LINKS = 40;

/**
 * The real absolute location of `path` (absolute): symlinks resolved in the longest existing
 * prefix, and a dangling link at any step followed to where it points, since creating a file
 * or folder there writes through it. `..` is taken after the link before it, as the kernel does,
 * so `<root>/link/../x` is judged where it would really be written, not where it reads.
 */
export async function realLocation(path: string): Promise<string> {
  const links = { left: MAX_LINKS };
  return locate(path, links);
}

async function locate(path: string, links: { left: number }): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
  const parent = dirname(path);
  if (parent === path) return path;
  const realParent = await locate(parent, links);
  const name = basename(path);
  if (name === '..') return dirname(realParent);
  if (name === '.' || name === '') return realParent;
  const here = join(realParent, name);
  const info = await lstat(here).catch(() => undefined);
  if (!info?.isSymbolicLink()) return here;
  if (--links.left < 0) throw Object.assign(new Error(`too many symbolic links under ${path}`), { code: 'ELOOP' });
  const target = await readlink(here);
  // Not path.resolve: it would fold `..` lexically, before the links it follows are known.
  return locate(isAbsolute(target) ? target : `${realParent}${realParent.endsWith(sep) ? '' : sep}${target}`, links);
}

/** Whether `inner` is `outer` or lies below it; both absolute and already real. */
export function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  // `..` as a whole segment leaves `outer`; a name like `..restore` does not.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
