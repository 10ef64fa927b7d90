import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = join(__dirname, '..', '..', '..', 'tools', 'docs', 'plugin-api-reference.js');

describe('docs/plugin-api.md', () => {
  it('is what the built SDK declares (regenerate with node tools/docs/plugin-api-reference.js)', async () => {
    await expect(promisify(execFile)(process.execPath, [SCRIPT, '--check'])).resolves.toBeDefined();
  });
});
