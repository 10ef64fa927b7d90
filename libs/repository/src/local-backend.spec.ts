import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackendContract } from './backend.contract';
import { LocalBackend } from './local-backend';

describeBackendContract('local', () => ({
  create: async () => new LocalBackend(join(await mkdtemp(join(tmpdir(), 'chainvault-local-backend-')), 'repo')),
}));
