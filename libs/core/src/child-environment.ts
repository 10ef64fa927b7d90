/**
 * The environment every program the server starts (npm, rsync, a node's CLI) runs with: the
 * server's own, minus the variables that hold a secret or grant access (the SDK's rule, which
 * plugins' commands follow too).
 */
import { isWithheldVariable } from '@chainvault/plugin-sdk';

export { isWithheldVariable };

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
