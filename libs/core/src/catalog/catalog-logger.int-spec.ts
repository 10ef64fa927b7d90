import { Logger } from '@nestjs/common';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { catalogOptions } from './catalog-options';

describe('the catalog log', () => {
  it('says which statement failed without the values it carried', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'chainvault-catalog-log-'));
    const dataSource = new DataSource(catalogOptions({ dataDir }));
    const said: string[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void said.push(String(message)));
    try {
      await dataSource.initialize();
      const insert = `INSERT INTO api_token (id, name, role, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)`;
      const row = (id: string) => [id, 'ops', 'ADMIN', 'hash-that-must-not-be-logged', new Date().toISOString(), 'test'];
      await dataSource.query(insert, row('00000000-0000-4000-8000-000000000001'));
      await expect(dataSource.query(insert, row('00000000-0000-4000-8000-000000000002'))).rejects.toThrow();
      expect(said.join('\n')).toContain('statement failed');
      expect(said.join('\n')).toContain('INSERT INTO api_token');
      expect(said.join('\n')).not.toContain('hash-that-must-not-be-logged');
    } finally {
      warn.mockRestore();
      await dataSource.destroy();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
