/** Installed plugins with their status, versions and methods; install one from a package name or tarball. */
import { useState } from 'preact/hooks';
import { call } from '../api';
import { DisablePlugin, EnablePlugin, InstallPlugin, Plugins, UninstallPlugin } from '../graphql/generated';
import { ErrorNote, Section, Status, useAction, useQuery } from '../ui';

export function PluginsPage() {
  const plugins = useQuery(Plugins, {}, 'plugins');
  const [spec, setSpec] = useState('');
  const action = useAction();
  const [installed, setInstalled] = useState('');
  return (
    <div>
      <form class="panel inline" aria-label="Install a plugin" onSubmit={async (e) => {
        e.preventDefault();
        const r = await action.run(() => call(InstallPlugin, { spec }));
        if (r) { setInstalled(`${r.installPlugin.id} ${r.installPlugin.version} installed (${r.installPlugin.status}).`); setSpec(''); plugins.reload(); }
      }}>
        <label for="plugin-spec">Install a plugin</label>
        <input id="plugin-spec" value={spec} placeholder="package name, name@version or a tarball path" onInput={(e) => setSpec(e.currentTarget.value)} />
        <button type="submit" disabled={action.busy || !spec.trim()}>{action.busy ? 'Installing…' : 'Install'}</button>
      </form>
      {installed ? <p class="ok" role="status">{installed}</p> : null}
      <ErrorNote error={action.error ?? plugins.error} />
      <Section title="Plugins">
        {plugins.data?.plugins.map((p) => (
          <article class="panel" key={p.id}>
            <h3>{p.id} <span class="hint">{p.packageName} {p.version} · API {p.apiVersion} · {p.source}</span> <Status value={p.status} /></h3>
            {p.error ? <p class="failure-text">{p.error}</p> : null}
            {p.lastFault && p.lastFault.message !== p.error ? <p class="hint">Last fault {new Date(p.lastFault.at).toLocaleString()}: {p.lastFault.message}</p> : null}
            <p class="hint">Protocols: {p.protocols.join(', ') || '—'} · roles: {p.roles.join(', ') || 'any'}</p>
            <ul>{p.methods.map((m) => <li key={m.name}><strong>{m.name}</strong> ({m.scope}{m.disruptive ? ', stops the node' : ''}): {m.description}</li>)}</ul>
            <div class="actions">
              {p.status === 'DISABLED'
                ? <button class="secondary" onClick={async () => { if (await action.run(() => call(EnablePlugin, { id: p.id }))) plugins.reload(); }}>Enable</button>
                : <button class="secondary" onClick={async () => { if (await action.run(() => call(DisablePlugin, { id: p.id }))) plugins.reload(); }}>Disable</button>}
              {p.source !== 'builtin' ? <button class="danger" onClick={async () => { if (confirm(`Uninstall ${p.id}?`) && (await action.run(() => call(UninstallPlugin, { id: p.id })))) plugins.reload(); }}>Uninstall</button> : null}
            </div>
          </article>
        )) ?? <p>Loading…</p>}
      </Section>
    </div>
  );
}
