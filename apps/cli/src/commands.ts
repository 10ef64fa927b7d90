/**
 * The `chainvault` command, assembled from one module per noun. Everything but `serve` and
 * `catalog` talks to a running server through the GraphQL API; names are accepted wherever
 * ids are, so a first backup needs no copying of ids.
 */
import { Command } from 'commander';
import { addAccessCommands } from './access.commands';
import { addBackupCommands } from './backups.commands';
import { addCatalogCommands } from './catalog.commands';
import { addCheckpointCommands } from './checkpoints.commands';
import { makeKit, type Print } from './command-kit';
import { addDestinationCommands } from './destinations.commands';
import { addJobCommands } from './jobs.commands';
import { addNetworkCommands } from './networks.commands';
import { addNodeCommands } from './nodes.commands';
import { addPluginCommands } from './plugins.commands';
import { addPolicyCommands } from './policies.commands';
import { addRestoreCommands } from './restores.commands';
import { addServeCommand } from './serve.commands';
import { addTemplateCommands } from './template.commands';

const OVERVIEW = `
Server:
  The CLI talks to the server at CHAINVAULT_URL (default http://127.0.0.1:4800; host:port
  without a scheme means http://host:port) with the token in CHAINVAULT_TOKEN, or, for a
  server on this machine, the admin token in its data directory (CHAINVAULT_DATA_DIR, default
  ./data).

Paths:
  Every path given to the CLI (--path, --to, --config and --target-config "path" fields,
  backups export directories, key and secret files, plugin tarballs, --options-file) is taken
  relative to the current directory and sent to the server as an absolute path. Paths name
  places on the server's machine, so relative ones mean what you expect when the CLI runs on
  it. Two exceptions: an SFTP destination's --path is on the SSH server, and a node config
  with an SSH machine keeps its path as given (both are the remote machine's).

Secrets:
  Secret keys, SSH keys and passphrases are read from files (--*-file options) or typed at a
  hidden prompt ("-" as the file), never given as values on the command line.

Names or ids:
  Networks, nodes, policies and destinations can be named wherever an id is asked for.

Example:
  $ chainvault networks create --name lab --protocol directory
  $ chainvault nodes register --network lab --name files --plugin directory --config '{"path": "./data-to-protect"}'
  $ chainvault policies create --name files-daily --node files --method snapshot --preset DAILY --time-zone Europe/Berlin --keep-daily 7
  $ chainvault backups run files-daily --wait
`;

export function buildProgram(print: Print = (line) => console.log(line)): Command {
  const program = new Command('chainvault')
    .description('Back up and restore blockchain nodes: the command line of a chainvault server.')
    .option('--json', 'print results as JSON')
    .showHelpAfterError()
    .addHelpText('after', OVERVIEW);
  const kit = makeKit(program, print);

  addServeCommand(program);
  addPluginCommands(program, kit);
  addNetworkCommands(program, kit);
  addNodeCommands(program, kit);
  addCheckpointCommands(program, kit);
  addDestinationCommands(program, kit);
  addPolicyCommands(program, kit);
  addBackupCommands(program, kit);
  addRestoreCommands(program, kit);
  addJobCommands(program, kit);
  addAccessCommands(program, kit);
  addTemplateCommands(program, kit);
  addCatalogCommands(program, kit);
  return program;
}
