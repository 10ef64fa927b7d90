/**
 * The chainvault console: the pages an operator opens (overview, networks and nodes, policies,
 * backups and restores, jobs and audit, plugins), behind a token kept in this tab only. The
 * page itself loads without one and asks for it.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, currentToken, onSignedOut, signIn, signOut } from './api';
import { BackupsPage, RestoreWizard } from './pages/backups';
import { AuditPage, JobsPage } from './pages/jobs';
import { NodesPage } from './pages/nodes';
import { OverviewPage } from './pages/overview';
import { PluginsPage } from './pages/plugins';
import { PoliciesPage } from './pages/policies';
import { useRoute } from './ui';
import './style.css';

const PAGES = [
  ['overview', 'Overview'],
  ['nodes', 'Networks & nodes'],
  ['policies', 'Policies'],
  ['backups', 'Backups'],
  ['jobs', 'Jobs'],
  ['audit', 'Audit'],
  ['plugins', 'Plugins'],
] as const;

function Login({ reason, done }: { reason: string; done: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(reason);
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <form
        class="panel"
        aria-label="Sign in"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await signIn(token);
            done();
          } catch (err) {
            setError(err instanceof ApiError && err.code === 'UNAUTHENTICATED' ? `The server refused this token: ${err.message}.` : (err as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>chainvault</h1>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" autoFocus value={token} onInput={(e) => setToken(e.currentTarget.value)} placeholder="cvt_…" />
        <p class="hint">The first start wrote an admin token to <code>admin.token</code> in the data directory; <code>chainvault tokens create</code> makes others. It stays in this browser tab only.</p>
        {error ? <p class="error" role="alert">{error}</p> : null}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(currentToken()));
  const [reason, setReason] = useState('');
  const route = useRoute();
  useEffect(() => onSignedOut((why) => { setReason(why ? `Signed out: ${why}.` : ''); setSignedIn(false); }), []);
  if (!signedIn) return <Login reason={reason} done={() => { setReason(''); setSignedIn(true); }} />;
  const page = route[0] ?? 'overview';
  const title = PAGES.find(([key]) => key === page)?.[1] ?? (page === 'restore' ? 'Restore' : 'Overview');
  return (
    <>
      <a class="skip" href="#main">Skip to the page</a>
      <header>
        <strong class="brand">chainvault</strong>
        <nav aria-label="Pages">
          {PAGES.map(([key, label]) => (
            <a key={key} href={`#/${key}`} aria-current={page === key || (page === 'restore' && key === 'backups') ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <span class="spacer" />
        <a href="/graphiql">GraphiQL</a>
        <button class="secondary" onClick={() => signOut()}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{title}</h1>
        {page === 'nodes' ? <NodesPage /> :
          page === 'policies' ? <PoliciesPage route={route} /> :
          page === 'backups' ? <BackupsPage route={route} /> :
          page === 'restore' && route[1] ? <RestoreWizard backupId={route[1]} /> :
          page === 'jobs' ? <JobsPage route={route} /> :
          page === 'audit' ? <AuditPage /> :
          page === 'plugins' ? <PluginsPage /> :
          <OverviewPage />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
