/**
 * The console's static files over real HTTP (express and supertest): a built console is served
 * with its Content-Security-Policy, a missing one says how to build it, and an asset name can
 * reach nothing outside the assets folder.
 */
import { NotFoundException } from '@nestjs/common';
import express from 'express';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { CONSOLE_CSP, sendConsoleAsset, sendConsolePage } from './console.controller';

function app(dist: string): express.Express {
  const server = express();
  server.get('/', (_req, res) => sendConsolePage(dist, res));
  server.get('/assets/:name', (req, res) => {
    try {
      sendConsoleAsset(dist, req.params.name, res);
    } catch (error) {
      res.status(error instanceof NotFoundException ? 404 : 500).send((error as Error).message);
    }
  });
  return server;
}

describe('the console files', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chainvault-console-files-'));
    await mkdir(join(dir, 'dist', 'assets'), { recursive: true });
    await writeFile(join(dir, 'dist', 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc.js"></script>');
    await writeFile(join(dir, 'dist', 'assets', 'index-abc.js'), 'console.log(1)');
    await writeFile(join(dir, 'dist', 'secret.txt'), 'not an asset');
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('serves the built page and its assets under the Content-Security-Policy', async () => {
    const page = await request(app(join(dir, 'dist'))).get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.text).toContain('/assets/index-abc.js');
    const asset = await request(app(join(dir, 'dist'))).get('/assets/index-abc.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('says how to build the console when it is not built', async () => {
    const page = await request(app(join(dir, 'missing'))).get('/');
    expect(page.status).toBe(503);
    expect(page.text).toContain('npm run build');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });

  it('finds nothing outside the assets folder', async () => {
    for (const name of ['..%2Fsecret.txt', '.hidden', 'missing.js']) {
      expect((await request(app(join(dir, 'dist'))).get(`/assets/${name}`)).status).toBe(404);
    }
  });
});
