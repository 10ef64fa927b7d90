/**
 * The environment every program the server starts (npm, rsync, a node's CLI) runs with: the
 * server's own, minus the chainvault variables that hold a secret or grant access.
 */

/**
 * Chainvault variables a child never sees: the secret-field key, API tokens, the catalog's
 * database URL, and anything whose name says it holds a key, a credential or a URL (which may
 * carry a password).
 */
const WITHHELD = /TOKEN|SECRET|PASSWORD|PASSPHRASE|KEY|CREDENTIAL|AUTH|DATABASE|URL|DSN/i;

/** True for a variable a child process must not inherit. */
export function isWithheldVariable(name: string): boolean {
  return /^CHAINVAULT_/i.test(name) && WITHHELD.test(name.slice('CHAINVAULT_'.length));
}

/** `process.env` without the withheld variables, with `extra` on top (what the caller passes on purpose). */
export function childEnvironment(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !isWithheldVariable(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
