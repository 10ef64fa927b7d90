/** `chainvault networks …`: groups of nodes backed up together. */
import type { Command } from 'commander';
import { parseJson } from './cli-input';
import { example, type CommandKit } from './command-kit';

export function addNetworkCommands(program: Command, { api, show, networkRef }: CommandKit): void {
  const networks = example(program.command('networks').description('groups of nodes backed up together'), 'networks list');
  example(
    networks.command('list').description('every network, with its protocol'),
    'networks list',
    '--json networks list',
  ).action(async () => {
    const { networks: list } = await api().request(`{ networks { id name protocol labels } }`);
    show(list, () => (list.length ? list.map((n: any) => `${n.id}  ${n.name}  (${n.protocol})`) : ['no networks']));
  });
  example(
    networks
      .command('create')
      .description('create a network for one protocol (one a loaded plugin serves: see `plugins list`)')
      .requiredOption('--name <name>', 'a name unique among networks')
      .requiredOption('--protocol <protocol>', 'e.g. directory, geth, besu, fabric')
      .option('--labels <json>', 'labels, as a JSON object of strings'),
    'networks create --name lab --protocol directory',
  ).action(async (o: { name: string; protocol: string; labels?: string }) => {
    const input = { name: o.name, protocol: o.protocol, labels: o.labels ? parseJson(o.labels, '--labels') : undefined };
    const { createNetwork } = await api().request(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id name protocol } }`, { input });
    show(createNetwork, () => [`network ${createNetwork.name} ${createNetwork.id}`]);
  });
  example(
    networks
      .command('update <network>')
      .description('rename a network (name or id) or replace its labels')
      .option('--name <name>', 'the new name')
      .option('--labels <json>', 'every label, as a JSON object of strings'),
    `networks update lab --name lab-2 --labels '{"env":"test"}'`,
  ).action(async (ref: string, o: { name?: string; labels?: string }) => {
    const network = await networkRef(ref);
    const input = { name: o.name, labels: o.labels ? parseJson(o.labels, '--labels') : undefined };
    const { updateNetwork } = await api().request(`mutation ($id: ID!, $input: UpdateNetworkInput!) { updateNetwork(id: $id, input: $input) { id name protocol labels } }`, { id: network.id, input });
    show(updateNetwork, () => [`network ${updateNetwork.name} ${updateNetwork.id} updated`]);
  });
  example(
    networks.command('delete <network>').description('remove a network (name or id) that has no nodes and no policies left'),
    'networks delete lab',
  ).action(async (ref: string) => {
    const network = await networkRef(ref);
    const { deleteNetwork } = await api().request(`mutation ($id: ID!) { deleteNetwork(id: $id) { id name } }`, { id: network.id });
    show(deleteNetwork, () => [`network ${deleteNetwork.name} deleted`]);
  });
}
