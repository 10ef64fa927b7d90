/** `chainvault nodes …`: the nodes of a network, each served by a plugin. */
import { Option, type Command } from 'commander';
import { parseJson, withAbsolutePath } from './cli-input';
import { example, type CommandKit } from './command-kit';

export function addNodeCommands(program: Command, { api, show, networkRef, nodeRef }: CommandKit): void {
  const nodes = example(program.command('nodes').description('the nodes of a network, each served by a plugin'), 'nodes list');
  example(nodes.command('list').description('every node with its plugin, role and config (secret fields left out)'), 'nodes list').action(async () => {
    const { nodes: list } = await api().request(`{ nodes { id name plugin role networkId config secretFields } }`);
    show(list, () => (list.length ? list.map((n: any) => `${n.id}  ${n.name}  ${n.plugin}/${n.role}  ${JSON.stringify(n.config)}`) : ['no nodes']));
  });
  example(
    nodes
      .command('register')
      .description("register a node of a network; its config is checked against the plugin's schema (a relative \"path\" in it is made absolute against the current directory)")
      .requiredOption('--network <network>', 'network name or id')
      .requiredOption('--name <name>', 'a name unique in the network')
      .requiredOption('--plugin <plugin>', 'plugin id, e.g. directory, ethereum, fabric')
      .requiredOption('--config <json>', 'node config as JSON')
      .addOption(new Option('--role <role>', 'the role the plugin knows it by').default('node')),
    `nodes register --network lab --name files --plugin directory --config '{"path": "/srv/data"}'`,
  ).action(async (o: { network: string; name: string; plugin: string; config: string; role: string }) => {
    const network = await networkRef(o.network);
    const { registerNode } = await api().request(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id name plugin role secretFields } }`, {
      input: { networkId: network.id, name: o.name, plugin: o.plugin, role: o.role, config: withAbsolutePath(parseJson(o.config, '--config')) },
    });
    show(registerNode, () => [`node ${registerNode.name} ${registerNode.id}`]);
  });
  example(
    nodes
      .command('update <node>')
      .description('rename a node (name or id), change its role or its whole config; secret fields not given again are kept')
      .option('--name <name>', 'the new name')
      .option('--role <role>', 'the new role')
      .option('--config <json>', 'the whole new config as JSON'),
    `nodes update files --config '{"path": "/srv/data"}'`,
    'nodes update files --name files-old',
  ).action(async (ref: string, o: { name?: string; role?: string; config?: string }) => {
    const node = await nodeRef(ref);
    const input = { name: o.name, role: o.role, config: o.config ? withAbsolutePath(parseJson(o.config, '--config')) : undefined };
    const { updateNode } = await api().request(`mutation ($id: ID!, $input: UpdateNodeInput!) { updateNode(id: $id, input: $input) { id name plugin role config secretFields } }`, { id: node.id, input });
    show(updateNode, () => [`node ${updateNode.name} ${updateNode.id} updated`]);
  });
  example(
    nodes.command('delete <node>').description('remove a node (name or id) no policy uses; its backups stay listed and restorable'),
    'nodes delete files',
  ).action(async (ref: string) => {
    const node = await nodeRef(ref);
    const { deleteNode } = await api().request(`mutation ($id: ID!) { deleteNode(id: $id) { id name } }`, { id: node.id });
    show(deleteNode, () => [`node ${deleteNode.name} deleted; its backups stay restorable`]);
  });
}
