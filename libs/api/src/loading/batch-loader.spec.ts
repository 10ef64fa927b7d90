import { BatchLoader, requestLoader } from './batch-loader';

describe('BatchLoader', () => {
  it('answers every key asked for in one turn with one batch, each key once, a missing key as null', async () => {
    const batches: string[][] = [];
    const loader = new BatchLoader(async (keys: string[]) => {
      batches.push(keys);
      return new Map(keys.filter((k) => k !== 'gone').map((k) => [k, k.toUpperCase()]));
    });
    // Resolvers reach the loader a few promise hops apart (guards, interceptors): still one batch.
    const late = Promise.resolve().then(() => Promise.resolve()).then(() => loader.load('c'));
    const answers = await Promise.all([loader.load('a'), loader.load('b'), loader.load('a'), loader.load('gone'), late]);
    expect(answers).toEqual(['A', 'B', 'A', null, 'C']);
    expect(batches).toEqual([['a', 'b', 'gone', 'c']]);
  });

  it('keeps nothing after a batch: a later turn reads again', async () => {
    let reads = 0;
    const loader = new BatchLoader(async (keys: number[]) => new Map(keys.map((k) => [k, (reads += 1)])));
    expect(await loader.load(1)).toBe(1);
    expect(await loader.load(1)).toBe(2);
  });

  it('fails every waiting load with the batch error', async () => {
    const loader = new BatchLoader<string, string>(async () => {
      throw new Error('catalog unreachable');
    });
    await expect(Promise.all([loader.load('a'), loader.load('b')])).rejects.toThrow('catalog unreachable');
    await expect(loader.load('c')).rejects.toThrow('catalog unreachable');
  });

  it('gives each request its own loaders, one per name', () => {
    const batch = async () => new Map<string, string>();
    const request = {};
    expect(requestLoader(request, 'backup', batch)).toBe(requestLoader(request, 'backup', batch));
    expect(requestLoader(request, 'replicas', batch)).not.toBe(requestLoader(request, 'backup', batch));
    expect(requestLoader({}, 'backup', batch)).not.toBe(requestLoader(request, 'backup', batch));
  });
});
