// Models: the models this node serves (Unload), a form to load one by file path or sha256 (a
// sha256 not on disk here is pulled from the peers that announce it first), the models peers
// announce (Pull for one this node lacks), and the pulls with their progress (Cancel). What the
// node refuses shows its reason beside the button that asked.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { send } from '../api.ts';
import type { NodeView } from '../store.ts';
import type { PullProgress } from '../types.ts';

type Outcome = { kind: 'pending' | 'done' | 'refused'; text: string };

const SHA256 = /^[0-9a-f]{64}$/;

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** A peer by its node id when this node knows it, else the end of its peer id. */
const peerLabel = (view: NodeView, peer: string) => view.peers.find((p) => p.peer_id === peer)?.node_id ?? `…${peer.slice(-8)}`;

export function Models({ view }: { view: NodeView }) {
  const { loaded, swarm, pulls } = view.models;
  const [outcomes, setOutcomes] = useState<Record<string, Outcome>>({});
  const [source, setSource] = useState('');
  const [name, setName] = useState('');
  const note = (key: string, o: Outcome) => setOutcomes((all) => ({ ...all, [key]: o }));
  /** One state-changing call; its outcome is shown under `key`. */
  const act = async (key: string, pending: string, call: () => Promise<string>) => {
    note(key, { kind: 'pending', text: pending });
    try {
      note(key, { kind: 'done', text: await call() });
    } catch (err) {
      note(key, { kind: 'refused', text: err instanceof Error ? err.message : String(err) });
    }
  };
  const shown = (key: string): ComponentChildren => {
    const o = outcomes[key];
    return o ? <div class={`outcome ${o.kind}`} data-testid={`model-outcome-${key}`}>{o.text}</div> : null;
  };

  const load = (e: Event) => {
    e.preventDefault();
    const what = source.trim();
    if (what === '') return;
    const body = { ...(SHA256.test(what) ? { sha256: what } : { path: what }), ...(name.trim() ? { name: name.trim() } : {}) };
    void act('load', SHA256.test(what) ? 'pulling and loading…' : 'loading…', async () => {
      const r = await send<{ model: string }>('POST', '/models', body);
      return `loaded ${r.model}`;
    });
  };
  const unload = (model: string) => act(`unload-${model}`, 'unloading…', async () => {
    await send('DELETE', `/models/${encodeURIComponent(model)}`);
    return `unloaded ${model}`;
  });
  const pull = (sha256: string) => act(`pull-${sha256}`, 'starting the pull…', async () => {
    await send('POST', '/models/pulls', { sha256 });
    return 'pull started';
  });
  const cancel = (sha256: string) => act(`cancel-${sha256}`, 'cancelling…', async () => {
    const r = await send<{ cancelled: boolean }>('DELETE', `/models/pulls/${sha256}`);
    return r.cancelled ? 'cancelled' : 'not running';
  });

  const here = new Set(loaded.map((m) => m.sha256));
  const pulling = new Set(pulls.filter((p) => p.state === 'running').map((p) => p.sha256));
  return (
    <section class="panel models" aria-label="Models">
      <h2>Models</h2>
      <h3>Served here</h3>
      <table>
        <thead><tr><th>model</th><th>sha256</th><th>size</th><th>busy</th><th /></tr></thead>
        <tbody>
          {loaded.map((m) => (
            <tr key={m.model} data-testid={`loaded-${m.model}`}>
              <td>{m.model}{m.test_model ? <span class="muted"> (test model, random weights)</span> : null}</td>
              <td title={m.sha256}>{m.sha256.slice(0, 12)}…</td>
              <td>{m.params} params, {m.quantization}</td>
              <td>{m.busy}</td>
              <td class="buttons">
                <button type="button" onClick={() => unload(m.model)}>Unload</button>
                {shown(`unload-${m.model}`)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="load-model" onSubmit={load}>
        <input value={source} placeholder="model file path or sha256" aria-label="model file path or sha256" size={40}
          onInput={(e) => setSource((e.target as HTMLInputElement).value)} />
        <input value={name} placeholder="name (optional)" aria-label="model name" size={14}
          onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit">Load</button>
        {shown('load')}
      </form>
      <h3>Served across the swarm</h3>
      <table>
        <thead><tr><th>model</th><th>served by</th><th>sha256</th><th /></tr></thead>
        <tbody>
          {loaded.filter((m) => !swarm.some((s) => s.sha256 === m.sha256)).map((m) => (
            <tr key={m.sha256} data-testid="model-row">
              <td>{m.model}</td><td>this node</td><td title={m.sha256}>{m.sha256.slice(0, 12)}…</td><td />
            </tr>
          ))}
          {swarm.map((s) => (
            <tr key={s.sha256} data-testid="model-row">
              <td>{s.name}</td>
              <td>{[...(here.has(s.sha256) ? ['this node'] : []), ...s.peers.map((p) => peerLabel(view, p))].join(', ')}</td>
              <td title={s.sha256}>{s.sha256.slice(0, 12)}…</td>
              <td class="buttons">
                {here.has(s.sha256) || pulling.has(s.sha256) ? null
                  : <button type="button" onClick={() => pull(s.sha256)} title="fetch the file from the peers that announce it">Pull</button>}
                {shown(`pull-${s.sha256}`)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {pulls.length > 0 ? (
        <>
          <h3>Pulls</h3>
          <table>
            <thead><tr><th>model</th><th>progress</th><th>sources</th><th>state</th><th /></tr></thead>
            <tbody>{pulls.map((p, i) => <Pull key={`${i}-${p.sha256}`} p={p} label={(peer) => peerLabel(view, peer)} cancel={cancel} shown={shown} />)}</tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}

function Pull({ p, label, cancel, shown }: { p: PullProgress; label: (peer: string) => string; cancel: (sha256: string) => void; shown: (key: string) => ComponentChildren }) {
  return (
    <tr data-testid={`pull-${p.sha256}`} data-state={p.state}>
      <td title={p.sha256}>{p.name || `${p.sha256.slice(0, 12)}…`}</td>
      <td>
        <progress value={p.bytes_done} max={p.size || 1} />
        <div class="muted">{mib(p.bytes_done)} / {mib(p.size)}</div>
      </td>
      <td>{p.sources.map((s) => (
        <div key={s.peer} title={s.peer}>{label(s.peer)}: {s.chunks} chunks{s.dropped ? ` (dropped: ${s.dropped})` : ''}</div>
      ))}</td>
      <td class={`state ${p.state}`}>{p.state}{p.error ? <div class="outcome refused">{p.error.code}: {p.error.message}</div> : null}</td>
      <td class="buttons">
        {p.state === 'running' ? <button type="button" onClick={() => cancel(p.sha256)}>Cancel</button> : null}
        {shown(`cancel-${p.sha256}`)}
      </td>
    </tr>
  );
}
