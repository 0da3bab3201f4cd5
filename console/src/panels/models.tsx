// Models: every model served across the swarm as this node knows it (its own and its peers'
// manifests). Loading and unloading is done through the API and CLI (POST/DELETE /models), not here.
import type { NodeView } from '../store.ts';

export function Models({ view }: { view: NodeView }) {
  return (
    <section class="panel models" aria-label="Models">
      <h2>Models</h2>
      <table>
        <thead><tr><th>model</th><th>served by</th><th>sha256</th><th /></tr></thead>
        <tbody>
          {view.models.map((m) => (
            <tr key={m.id} data-testid="model-row">
              <td>{m.id}</td>
              <td>{m.served_by.map((s) => s.node_id).join(', ')}</td>
              <td title={m.served_by[0]?.sha256}>{m.served_by[0]?.sha256.slice(0, 12)}…</td>
              <td>{m.test_model ? 'test model (random weights)' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">Pulls from peers, loading and unloading are not in this panel yet: use <code>mvp-node models pull | load | unload</code> or the API (<code>POST /models</code>, <code>DELETE /models/:name</code>).</p>
    </section>
  );
}
