import { RestoreStatus, type RestoreEntity } from '../catalog/entities';
import { interruptedInto } from './interrupted-restores';

const restore = (status: RestoreStatus, roots: string[]): RestoreEntity =>
  ({ status, details: { extracts: roots.map((root) => ({ root, backupId: 'b', from: null })) } }) as unknown as RestoreEntity;

describe('interruptedInto', () => {
  it('takes the failed and cancelled restores into a folder since the last one that completed there', () => {
    const newestFirst = [
      restore(RestoreStatus.FAILED, ['/r/a']),
      restore(RestoreStatus.COMPLETED, ['/r/b']),
      restore(RestoreStatus.CANCELLED, ['/r/a']),
      restore(RestoreStatus.COMPLETED, ['/r/a']),
      restore(RestoreStatus.FAILED, ['/r/a']),
    ];
    expect(interruptedInto('/r/a', newestFirst)).toHaveLength(2);
    expect(interruptedInto('/r/b', newestFirst)).toEqual([]);
    expect(interruptedInto('/r/c', newestFirst)).toEqual([]);
  });

  it('never clears a folder a restore is still writing into', () => {
    expect(interruptedInto('/r/a', [restore(RestoreStatus.RUNNING, ['/r/a']), restore(RestoreStatus.FAILED, ['/r/a'])])).toEqual([]);
  });
});
