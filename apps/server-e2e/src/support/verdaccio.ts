/**
 * A real npm registry for install tests: verdaccio in a child process on a free loopback port,
 * with its own storage, no uplink (nothing is fetched from elsewhere), and a user the tests
 * publish as.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server-process';

export interface RunningRegistry {
  url: string;
  /** Publishes the package in `dir` (npm publish, scripts off). */
  publish(dir: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startVerdaccio(root: string): Promise<RunningRegistry> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await mkdir(join(root, 'storage'), { recursive: true });
  const config = join(root, 'config.yaml');
  await writeFile(
    config,
    [
      `storage: ${join(root, 'storage')}`,
      `auth:`,
      `  htpasswd:`,
      `    file: ${join(root, 'htpasswd')}`,
      `    max_users: 10`,
      `uplinks: {}`,
      `packages:`,
      `  '**':`,
      `    access: $all`,
      `    publish: $authenticated`,
      `log: { type: stdout, format: pretty, level: error }`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(process.execPath, ['-e', `require('verdaccio').runServer(${JSON.stringify(config)}).then((server) => server.listen(${port}, '127.0.0.1'))`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${url}/-/ping`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`verdaccio did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // A user to publish as; the registry answers its token.
  const user = await fetch(`${url}/-/user/org.couchdb.user:publisher`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'publisher', password: 'publisher-password' }),
  });
  const { token } = (await user.json()) as { token: string };
  const host = url.replace(/^http:/, '');
  return {
    url,
    publish: async (dir) => {
      await promisify(execFile)('npm', ['publish', '--ignore-scripts', `--registry=${url}`, `--${host}/:_authToken=${token}`], { cwd: dir });
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
