/** Entry of the `chainvault` command. */
import { buildProgram } from './commands';
import { CliError } from './api-client';

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    if (error instanceof CliError) {
      console.error(`chainvault: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    console.error(error);
    process.exitCode = 1;
  });
