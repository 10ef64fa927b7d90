/**
 * The environment every program the server starts (npm, rsync, a node's CLI) runs with: the
 * SDK's rule, which plugins' commands follow too. Only the basics of the server's environment
 * are inherited (PATH, HOME, the locale…), never a variable that holds a secret or grants access.
 */
import { commandEnvironment, isWithheldVariable } from '@chainvault/plugin-sdk';

export { isWithheldVariable };

/** The inherited basics of `process.env`, with `extra` on top (what the caller passes on purpose). */
export function childEnvironment(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return commandEnvironment(extra);
}
