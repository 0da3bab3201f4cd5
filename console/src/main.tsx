// The console's entry: one NodeStore for the page, a login form when the node wants a token the
// tab does not hold (no data is shown then), else the panels, the connection state and the
// page's own diagnostics.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { forgetToken, saveToken } from './api.ts';
import { NodeStore } from './store.ts';
import { Swarm } from './panels/swarm.tsx';
import { Jobs } from './panels/jobs.tsx';
import { Actors } from './panels/actors.tsx';
import { Orchestrator } from './panels/orchestrator.tsx';
import { Models } from './panels/models.tsx';
import { Playground } from './panels/playground.tsx';
import './app.css';

const store = new NodeStore();

function Login({ error }: { error: string | undefined }) {
  const [token, setToken] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    if (token === '') return;
    saveToken(token);
    store.login();
  };
  return (
    <form class="login-form" data-testid="login" onSubmit={submit}>
      <h2>This node needs its API token</h2>
      <p>It is kept in this tab only (sessionStorage) and sent as a header, never in a URL.</p>
      <input type="password" autocomplete="current-password" value={token} aria-label="API token"
        onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
      <button type="submit">Open</button>
      {error ? <p class="warn">{error}</p> : null}
    </form>
  );
}

function App() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const off = store.subscribe(() => setTick((t) => t + 1));
    store.start();
    return off;
  }, []);
  const d = store.diagnostics;
  const v = store.view;
  return (
    <>
      <header>
        <h1>mvp-node <span class="muted">{v.self?.node_id ?? ''}</span></h1>
        <span class={`connection ${store.connection}`} data-testid="connection">{store.connection}</span>
        {store.connection !== 'login' && store.connection !== 'connecting'
          ? <button type="button" class="link" onClick={() => { forgetToken(); location.reload(); }}>forget token</button> : null}
      </header>
      {store.connection === 'login' ? <Login error={store.loginError} /> : (
        <main class={store.connection === 'live' ? '' : 'stale'} title={store.connection === 'live' ? undefined : 'the last state seen; not live'}>
          <Swarm view={v} />
          <Actors view={v} />
          <Jobs view={v} />
          <Playground view={v} />
          <Orchestrator view={v} />
          <Models view={v} />
        </main>
      )}
      <footer data-testid="diagnostics">
        events {d.events} · malformed <span data-testid="malformed">{d.malformed}</span>{d.lastMalformed ? ` (last: ${d.lastMalformed})` : ''}
        {' · '}gaps {d.gaps} · resyncs <span data-testid="resyncs">{d.resyncs}</span> · reconnects {d.reconnects}
        {d.lastEventAt ? ` · last event ${new Date(d.lastEventAt).toLocaleTimeString()}` : ''}
        {d.lastError ? ` · last error: ${d.lastError}` : ''}
      </footer>
    </>
  );
}

render(<App />, document.getElementById('app')!);
