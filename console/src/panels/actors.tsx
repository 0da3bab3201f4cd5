// Actors: placement, statechart state, restarts and crashes of each supervised actor, with Kill
// (terminate or throw) and Restart. A kill the node refuses (an inference actor decoding, say)
// shows the node's reason; the supervisor's down/up news is listed as it arrives.
import { useState } from 'preact/hooks';
import { send } from '../api.ts';
import type { NodeView } from '../store.ts';
import type { ActorInfo } from '../types.ts';

type Outcome = { kind: 'pending' | 'done' | 'refused'; text: string };

export function Actors({ view }: { view: NodeView }) {
  const [outcomes, setOutcomes] = useState<Record<string, Outcome>>({});
  const act = async (a: ActorInfo, what: 'terminate' | 'throw' | 'restart') => {
    setOutcomes((o) => ({ ...o, [a.name]: { kind: 'pending', text: what === 'restart' ? 'restarting…' : `killing (${what})…` } }));
    try {
      // The api actor acting on itself answers 202 with a message first; others answer when done.
      const r = what === 'restart'
        ? await send<{ message?: string }>('POST', `/actors/${encodeURIComponent(a.name)}/restart`, {})
        : await send<{ message?: string }>('POST', `/actors/${encodeURIComponent(a.name)}/kill`, { how: what });
      const text = r.message ?? (what === 'restart' ? 'restarted' : `killed (${what}); its supervisor restarts it`);
      setOutcomes((o) => ({ ...o, [a.name]: { kind: 'done', text } }));
    } catch (err) {
      setOutcomes((o) => ({ ...o, [a.name]: { kind: 'refused', text: err instanceof Error ? err.message : String(err) } }));
    }
  };
  return (
    <section class="panel actors" aria-label="Actors">
      <h2>Actors</h2>
      <table>
        <thead><tr><th>actor</th><th>placement</th><th>status</th><th>state</th><th>restarts</th><th>crashes</th><th /></tr></thead>
        <tbody>
          {view.actors.map((a) => {
            const o = outcomes[a.name];
            return (
              <tr key={a.name} data-testid={`actor-${a.name}`} data-status={a.status}>
                <td>{a.name}</td>
                <td>{a.placement}</td>
                <td class={`status ${a.status}`}>{a.status}</td>
                <td>{a.state}</td>
                <td>{a.restarts}</td>
                <td>{a.crashes}</td>
                <td class="buttons">
                  <button type="button" onClick={() => act(a, 'terminate')} title="kill: terminate">Kill</button>
                  <button type="button" onClick={() => act(a, 'throw')} title="kill: throw inside the actor">Throw</button>
                  <button type="button" onClick={() => act(a, 'restart')}>Restart</button>
                  {o ? <div class={`outcome ${o.kind}`} data-testid={`actor-outcome-${a.name}`}>{o.text}</div> : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h3>Supervisor news</h3>
      <ul class="news" data-testid="actor-news">
        {view.actorNews.map((n) => (
          <li key={`${n.at}-${n.name}-${n.what}`}>
            {new Date(n.at).toLocaleTimeString()} <b>{n.name}</b> {n.what}{n.reason ? `: ${n.reason}` : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}
