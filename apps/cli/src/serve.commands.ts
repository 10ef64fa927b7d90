/** `chainvault serve`: the server itself, in this process. */
import type { Command } from 'commander';
import { example } from './command-kit';

export function addServeCommand(program: Command): void {
  example(
    program
      .command('serve')
      .description('start the server (configuration from CHAINVAULT_* variables and CHAINVAULT_CONFIG); SIGINT (Ctrl-C) or SIGTERM stops it: jobs running go back to the queue, and it exits with code 0'),
    'serve',
    'CHAINVAULT_PORT=4900 CHAINVAULT_DATA_DIR=/var/lib/chainvault chainvault serve',
  ).action(async () => {
    const { serve } = await import('@chainvault/server');
    await serve();
    // The server closes itself on these signals (and exits 0 once closed); this says why it goes quiet.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => console.error(`chainvault: ${signal}: stopping the server`));
  });
}
