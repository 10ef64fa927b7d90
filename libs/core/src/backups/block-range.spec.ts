import { blockRangeOf } from './block-range';

describe('the blocks a backup holds, from its metadata', () => {
  it('reads a range said outright, an export range and a snapshot height', () => {
    expect(blockRangeOf({ blocks: { first: 10, last: 20 }, endBlock: 99 })).toEqual({ first: 10, last: 20 });
    expect(blockRangeOf({ startBlock: 1001, endBlock: 2000, exportedWith: 'debug_getRawBlock' })).toEqual({ first: 1001, last: 2000 });
    expect(blockRangeOf({ checkpointId: 7, lastBlockId: 4242 })).toEqual({ first: 0, last: 4242 });
    expect(blockRangeOf({ blockId: 12, replicas: [] })).toEqual({ first: 0, last: 12 });
  });

  it('finds none where there is none, or where the numbers are not block heights', () => {
    expect(blockRangeOf({ path: '/srv', files: 3 })).toBeNull();
    expect(blockRangeOf({ resources: [{ kind: 'peer' }] })).toBeNull();
    expect(blockRangeOf(null)).toBeNull();
    expect(blockRangeOf({ startBlock: 5, endBlock: 4 })).toBeNull();
    expect(blockRangeOf({ startBlock: -1, endBlock: 4 })).toBeNull();
    expect(blockRangeOf({ startBlock: null, endBlock: null })).toBeNull();
    expect(blockRangeOf({ blocks: { first: '1', last: 2 } })).toBeNull();
    expect(blockRangeOf({ lastBlockId: 1.5 })).toBeNull();
  });
});
