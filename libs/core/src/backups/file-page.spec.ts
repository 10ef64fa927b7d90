import type { ArtifactEntry } from '@chainvault/plugin-sdk';
import { ChainvaultError } from '../errors/chainvault.errors';
import { pageOfFiles } from './file-page';

const entry = (path: string) => ({ path, type: 'file', size: 1, mode: 0o644, mtime: new Date(0) }) as unknown as ArtifactEntry;
const paths = (entries: ArtifactEntry[]) => entries.map((e) => e.path);

describe('pageOfFiles', () => {
  const entries = ['b/2', 'a', 'b', 'B', 'b/1', 'é', 'c'].map(entry);

  it('pages in path order after the last path of the previous page, each entry once', () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = pageOfFiles(entries, 3, after); page.length; page = pageOfFiles(entries, 3, after)) {
      seen.push(...paths(page));
      after = page[page.length - 1].path;
    }
    expect(seen).toEqual(['B', 'a', 'b', 'b/1', 'b/2', 'c', 'é']);
  });

  it('starts after a path that is not in the backup where it would be', () => {
    expect(paths(pageOfFiles(entries, 2, 'b/10'))).toEqual(['b/2', 'c']);
  });

  it('refuses a page size out of range, naming the range', () => {
    for (const first of [0, 1001, 2.5]) {
      let refusal: unknown;
      try {
        pageOfFiles(entries, first);
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(ChainvaultError);
      expect(refusal).toMatchObject({ code: 'BAD_USER_INPUT', message: `first must be between 1 and 1000, got ${first}` });
    }
  });
});
