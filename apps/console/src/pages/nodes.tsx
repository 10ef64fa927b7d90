/**
 * Networks and their nodes: register a node (or edit one) with a form made from its plugin's
 * JSON schema, the plugin's roles and methods in view. Secret fields are write-only.
 */
import { useMemo, useState } from 'preact/hooks';
import { call } from '../api';
import { Catalog, CreateNetwork, DeleteNode, RegisterNode, UpdateNode, type CatalogResult } from '../graphql/generated';
import { SchemaForm, cleanValue, fieldErrors, type FormValue, type JsonSchema } from '../schema-form';
import { ErrorNote, Section, useAction, useQuery } from '../ui';

type Plugin = CatalogResult['plugins'][number];

/** Where a node runs, from its config's `machine` (the SDK's machine config): an SSH machine, or this server. */
function machineOf(config: unknown): string {
  const machine = (config as { machine?: { kind?: string; host?: string; port?: number; user?: string } } | null)?.machine;
  if (machine?.kind === 'ssh' && machine.host) return `${machine.user ? `${machine.user}@` : ''}${machine.host}:${machine.port ?? 22}`;
  // A token that may not see paths sees no config at all.
  if (!config || Object.keys(config).length === 0) return 'not shown';
  return 'this server';
}
type NodeRow = CatalogResult['nodes'][number];

function NodeForm({ catalog, editing, done }: { catalog: CatalogResult; editing: NodeRow | null; done: () => void }) {
  const loaded = catalog.plugins.filter((p) => p.status === 'LOADED' || p.status === 'DEGRADED');
  const [networkId, setNetworkId] = useState(editing?.networkId ?? catalog.networks[0]?.id ?? '');
  const network = catalog.networks.find((n) => n.id === networkId);
  const fitting = loaded.filter((p) => !network || p.protocols.includes(network.protocol));
  const [pluginId, setPluginId] = useState(editing?.plugin ?? fitting[0]?.id ?? '');
  const plugin: Plugin | undefined = loaded.find((p) => p.id === pluginId);
  const [name, setName] = useState(editing?.name ?? '');
  const [role, setRole] = useState(editing?.role ?? plugin?.roles[0] ?? '');
  const [config, setConfig] = useState<FormValue>((editing?.config as FormValue) ?? {});
  const [errors, setErrors] = useState<Map<string, string>>(new Map());
  const action = useAction();
  const schema = (plugin?.nodeConfigSchema ?? { type: 'object', properties: {} }) as JsonSchema;

  const submit = async (event: Event) => {
    event.preventDefault();
    setErrors(new Map());
    const clean = cleanValue(schema, config);
    const saved = await action.run(async () =>
      editing ? (await call(UpdateNode, { id: editing.id, input: { name, role, config: clean } })).updateNode : (await call(RegisterNode, { input: { networkId, name, plugin: pluginId, role, config: clean } })).registerNode,
    );
    if (saved) done();
  };
  // The server's schema messages go under their fields; what names no field stays at the top.
  const shown = useMemo(() => (action.error?.code === 'BAD_USER_INPUT' ? fieldErrors(action.error.message, 'config') : new Map<string, string>()), [action.error]);
  const allErrors = new Map([...errors, ...shown]);

  return (
    <form class="panel" onSubmit={submit} aria-label={editing ? `Edit node ${editing.name}` : 'Register a node'}>
      <h3>{editing ? `Edit ${editing.name}` : 'Register a node'}</h3>
      <div class="grid">
        <div class="field">
          <label for="node-network">Network</label>
          <select id="node-network" value={networkId} disabled={!!editing} onChange={(e) => setNetworkId(e.currentTarget.value)}>
            {catalog.networks.map((n) => (
              <option key={n.id} value={n.id}>{n.name} ({n.protocol})</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="node-plugin">Plugin</label>
          <select id="node-plugin" value={pluginId} disabled={!!editing} onChange={(e) => { setPluginId(e.currentTarget.value); setConfig({}); }}>
            {fitting.map((p) => (
              <option key={p.id} value={p.id}>{p.id} {p.version}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="node-name">Name</label>
          <input id="node-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="node-role">Role</label>
          {plugin && plugin.roles.length > 0 ? (
            <select id="node-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              <option value="">choose…</option>
              {plugin.roles.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          ) : (
            <input id="node-role" value={role} placeholder="any role, such as replica" onInput={(e) => setRole(e.currentTarget.value)} />
          )}
        </div>
      </div>
      {plugin ? (
        <>
          <h4>Connection ({plugin.id})</h4>
          <SchemaForm id="node-config" schema={schema} value={config} onChange={setConfig} errors={allErrors} secretsSet={editing?.secretFields ?? []} />
          <details>
            <summary>Methods of {plugin.id}</summary>
            <ul>
              {plugin.methods.map((m) => (
                <li key={m.name}><strong>{m.name}</strong> ({m.scope}): {m.description}</li>
              ))}
            </ul>
          </details>
        </>
      ) : (
        <p class="hint">No loaded plugin serves this network's protocol.</p>
      )}
      {shown.size === 0 ? <ErrorNote error={action.error} /> : <p class="error" role="alert">The node was not saved: see the fields marked below.</p>}
      <div class="actions">
        <button type="submit" disabled={action.busy}>{editing ? 'Save node' : 'Register node'}</button>
        <button type="button" class="secondary" onClick={done}>Cancel</button>
      </div>
    </form>
  );
}

function NetworkForm({ catalog, done }: { catalog: CatalogResult; done: () => void }) {
  const protocols = [...new Set(catalog.plugins.filter((p) => p.status === 'LOADED' || p.status === 'DEGRADED').flatMap((p) => p.protocols))];
  const [name, setName] = useState('');
  const [protocol, setProtocol] = useState(protocols[0] ?? '');
  const action = useAction();
  return (
    <form class="panel" aria-label="Create a network" onSubmit={async (e) => { e.preventDefault(); if (await action.run(() => call(CreateNetwork, { input: { name, protocol } }))) done(); }}>
      <h3>Create a network</h3>
      <div class="grid">
        <div class="field"><label for="network-name">Name</label><input id="network-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} /></div>
        <div class="field">
          <label for="network-protocol">Protocol</label>
          <select id="network-protocol" value={protocol} onChange={(e) => setProtocol(e.currentTarget.value)}>
            {protocols.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </div>
      </div>
      <ErrorNote error={action.error} />
      <div class="actions"><button type="submit" disabled={action.busy}>Create network</button><button type="button" class="secondary" onClick={done}>Cancel</button></div>
    </form>
  );
}

export function NodesPage() {
  const catalog = useQuery(Catalog, {}, 'catalog');
  const [form, setForm] = useState<'node' | 'network' | NodeRow | null>(null);
  const remove = useAction();
  const data = catalog.data;
  if (!data) return catalog.error ? <ErrorNote error={catalog.error} /> : <p>Loading…</p>;
  const done = () => { setForm(null); catalog.reload(); };
  return (
    <div>
      <div class="actions">
        <button onClick={() => setForm('network')}>New network</button>
        <button onClick={() => setForm('node')} disabled={data.networks.length === 0}>Register node</button>
      </div>
      {form === 'network' ? <NetworkForm catalog={data} done={done} /> : null}
      {form === 'node' ? <NodeForm catalog={data} editing={null} done={done} /> : null}
      {form && typeof form === 'object' ? <NodeForm key={form.id} catalog={data} editing={form} done={done} /> : null}
      <ErrorNote error={remove.error} />
      {data.networks.map((network) => {
        const nodes = data.nodes.filter((n) => n.networkId === network.id);
        // The network as its resources on their machines (a Fabric network's peers, orderers and CAs; a VMware Blockchain's replicas and clients).
        const machines = new Map<string, NodeRow[]>();
        for (const n of nodes) machines.set(machineOf(n.config), [...(machines.get(machineOf(n.config)) ?? []), n]);
        return (
          <Section key={network.id} title={`${network.name} · ${network.protocol}`}>
            {nodes.length === 0 ? <p class="hint">No node yet.</p> : (
              <>
              <ul class="machines" aria-label={`Machines of ${network.name}`}>
                {[...machines.entries()].map(([machine, on]) => (
                  <li key={machine}><strong>{machine}</strong>: {on.map((n) => `${n.name} (${n.role})`).join(', ')}</li>
                ))}
              </ul>
              <div class="table-wrap">
                <table>
                  <thead><tr><th>Node</th><th>Plugin</th><th>Role</th><th>Machine</th><th>Config</th><th /></tr></thead>
                  <tbody>
                    {nodes.map((n) => (
                      <tr key={n.id} data-node={n.name}>
                        <td>{n.name}</td>
                        <td>{n.plugin}</td>
                        <td>{n.role}</td>
                        <td>{machineOf(n.config)}</td>
                        <td><code>{JSON.stringify(n.config)}</code>{n.secretFields.length ? <div class="hint">secrets set: {n.secretFields.join(', ')}</div> : null}</td>
                        <td class="row-actions">
                          <button class="secondary" onClick={() => setForm(n)}>Edit</button>
                          <button class="danger" onClick={async () => { if (confirm(`Delete node ${n.name}? Its backups stay listed and restorable.`) && (await remove.run(() => call(DeleteNode, { id: n.id })))) catalog.reload(); }}>Delete</button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              </>
            )}
          </Section>
        );
      })}
    </div>
  );
}

