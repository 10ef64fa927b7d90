/**
 * What the CLI reads from a command line: JSON values, counts, paths made absolute against the
 * current directory (the one rule for relative paths), and secrets read from files or a
 * prompt, never from arguments, so they stay out of shell history and `ps`.
 */
import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CliError } from './api-client';

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} must be JSON, for example '{"path": "/srv/data"}'; got: ${text}`);
  }
}

/** A commander parser for a whole number of at least `min`. */
export function wholeNumber(min = 0): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`takes a whole number of at least ${min}, got "${value}"`);
    return n;
  };
}

/** A commander parser for an option given several times: `--destination a --destination b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A path option made absolute against the current directory, as every path the CLI sends. */
export function absolutePath(path: string, cwd = process.cwd()): string {
  return resolve(cwd, path);
}

/**
 * A JSON config whose top-level `path` is relative gets it made absolute against the current
 * directory; a config naming an SSH machine is left alone: its path is on that machine.
 */
export function withAbsolutePath(config: unknown, cwd = process.cwd()): unknown {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return config;
  const record = config as Record<string, unknown>;
  const machine = record.machine as { kind?: unknown } | undefined;
  if (typeof record.path !== 'string' || isAbsolute(record.path) || machine?.kind === 'ssh') return config;
  return { ...record, path: resolve(cwd, record.path) };
}

/** Reads one secret from stdin: typed at a hidden prompt on a terminal, or the first line piped in. */
export async function readSecretFromStdin(prompt: string, stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  // Echo off before the prompt shows: what is typed after it never reaches the screen.
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  stderr.write(prompt);
  try {
    return await new Promise<string>((done, fail) => {
      let typed = '';
      const onData = (text: string) => {
        for (const char of text) {
          if (char === '\r' || char === '\n' || char === '\u0004') {
            stdin.off('data', onData);
            return done(typed);
          }
          if (char === '\u0003') {
            stdin.off('data', onData);
            return fail(new CliError('interrupted'));
          }
          typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}

/**
 * A secret from `file` (its one trailing newline dropped), from stdin when `file` is `-`, or,
 * with no file, from a prompt when stdin is a terminal; undefined when none of these applies.
 */
export async function readSecret(file: string | undefined, option: string, prompt: string, { askWhenTty = false, wholeFile = false } = {}): Promise<string | undefined> {
  if (file === '-' || (file === undefined && askWhenTty && process.stdin.isTTY)) {
    const secret = await readSecretFromStdin(prompt);
    if (!secret) throw new CliError(`${option}: nothing was read from ${process.stdin.isTTY ? 'the prompt' : 'stdin'}`);
    return secret;
  }
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(absolutePath(file), 'utf8');
  } catch (error) {
    throw new CliError(`${option}: cannot read ${absolutePath(file)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  // A key file is taken whole; a password file's line ending is not part of the password.
  const secret = wholeFile ? text : text.replace(/\r?\n$/, '');
  if (!secret.trim()) throw new CliError(`${option}: ${absolutePath(file)} is empty`);
  return secret;
}
