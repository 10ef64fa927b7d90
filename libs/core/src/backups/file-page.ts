/** A backup's entries a page at a time, in path order, so a client can read a backup of any size. */
import type { ArtifactEntry } from '@chainvault/plugin-sdk';
import { ChainvaultError } from '../errors/chainvault.errors';

export const FILE_PAGE_MAX = 1000;

/**
 * The first `first` entries whose path comes after `after` (the last path of the previous page),
 * ordered by path code unit by code unit: the same on every server whatever its locale.
 */
export function pageOfFiles(entries: readonly ArtifactEntry[], first: number, after?: string | null): ArtifactEntry[] {
  if (!Number.isInteger(first) || first < 1 || first > FILE_PAGE_MAX) throw ChainvaultError.badInput(`first must be between 1 and ${FILE_PAGE_MAX}, got ${first}`);
  const later = after === undefined || after === null ? [...entries] : entries.filter((e) => e.path > after);
  return later.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).slice(0, first);
}
