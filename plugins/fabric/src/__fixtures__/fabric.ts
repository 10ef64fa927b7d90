// Test support: the shared, upstream-sourced Fabric fixtures (fixtures/README.md §2), read in
// place. The kvledger sample ledgers are zips; they are unpacked into a temporary directory
// (never into the project) by the testing library's small zip reader.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', '..', '..', '..', '..', 'shared', 'fixtures');
export const FABRIC = join(FIXTURES, 'fabric');
export const LEDGERUTIL = join(FABRIC, 'ledgerutil');

/** A ledgerutil case's ledgersData directory. */
export function ledgerutilLedger(name: string): string {
  return join(LEDGERUTIL, name, 'ledgersData');
}

/** What `ledgerutil verify` wrote for a case (sample_verifications/*.json). */
export async function ledgerutilExpected(file: string): Promise<{ blockNum: number; valid: boolean; errors: string[] }[]> {
  return JSON.parse(await readFile(join(LEDGERUTIL, 'sample_verifications', file), 'utf8'));
}

export { unzip } from '@chainvault/testing';

/** A temporary directory removed by the returned function. */
export async function tempDir(prefix = 'chainvault-fabric-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
