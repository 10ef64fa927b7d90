/**
 * The two npm commands plugin installs use, run so that no package script executes (flag,
 * environment and the plugins directory's `.npmrc` all say so) and without the server's secrets.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { childEnvironment } from '../child-environment';
import { ChainvaultError, ChainvaultErrorCode } from '../errors/chainvault.errors';

const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;

export class NpmCli {
  /** `cwd` is the plugins directory: npm reads its `.npmrc`. */
  constructor(
    private readonly cwd: string,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /**
   * Packs `spec` (a registry spec, checked against the registry's integrity, or a folder) into
   * `destination`, which must be empty, and returns the tarball's path.
   */
  async pack(spec: string, destination: string, shown: string): Promise<string> {
    await this.run(['pack', spec, '--ignore-scripts', '--pack-destination', destination], `npm could not pack ${shown}`);
    const tarballs = (await readdir(destination)).filter((name) => name.endsWith('.tgz'));
    if (tarballs.length !== 1) throw new ChainvaultError(ChainvaultErrorCode.INTERNAL, `npm pack ${shown} produced ${tarballs.length} tarballs, expected one`);
    return join(destination, tarballs[0]);
  }

  /** Installs a local tarball into the npm project at `prefix` and saves it in its package.json; `failure` starts the error message. */
  async install(prefix: string, tarball: string, failure: string): Promise<void> {
    await this.run(['install', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', '--legacy-peer-deps', '--save', tarball], failure);
  }

  private run(args: string[], failure: string): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      // A process group of its own, so a timeout also stops what npm started (git, for one).
      const child = spawn('npm', args, {
        cwd: this.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: childEnvironment({ ...npmSettings(), npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }),
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, this.timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new ChainvaultError(ChainvaultErrorCode.INTERNAL, `could not run npm to install plugins: ${error.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) return resolvePromise();
        if (timedOut) return reject(ChainvaultError.badInput(`${failure}: npm did not finish within ${this.timeoutMs / 1000} s and was stopped`));
        const lines = output
          .split('\n')
          .filter((l) => l.includes('ERR') || l.includes('error'))
          .slice(-6)
          .join('\n');
        reject(ChainvaultError.badInput(`${failure}: ${lines || `npm exited with code ${code}`}`));
      });
    });
  }
}

/** The operator's npm settings from the server's environment (registry, cache, proxies), which npm needs and children otherwise do not get. */
function npmSettings(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(npm_config_|NPM_CONFIG_|https?_proxy$|HTTPS?_PROXY$|no_proxy$|NO_PROXY$)/.test(name) && !/auth|token|password/i.test(name)) settings[name] = value;
  }
  return settings;
}
