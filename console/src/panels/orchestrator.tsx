// Orchestrator: the latest decisions with their reasoning and source, held ones with Confirm and
// Reject, the swarm's distributed decisions, and an Ask box for the natural-language interface.
import { useState } from 'preact/hooks';
import { send } from '../api.ts';
import type { NodeView } from '../store.ts';
import type { DecisionRecord } from '../types.ts';

interface AskAnswer { message: string; interpretation?: { intent?: string }; decision?: DecisionRecord; data?: unknown }

export function Orchestrator({ view }: { view: NodeView }) {
  const [question, setQuestion] = useState('');
  const [answer, setAnswer] = useState<{ text: string; error?: boolean } | undefined>();
  const [acted, setActed] = useState<Record<string, string>>({});
  const ask = async (e: Event) => {
    e.preventDefault();
    if (question.trim() === '') return;
    setAnswer({ text: 'asking…' });
    try {
      const r = await send<AskAnswer>('POST', '/orchestrator/ask', { text: question });
      const parts = [r.message];
      if (r.interpretation?.intent) parts.unshift(`intent: ${r.interpretation.intent}`);
      if (r.decision) parts.push(`decision: ${r.decision.action} (${r.decision.outcome})`);
      if (r.data !== undefined) parts.push(JSON.stringify(r.data, null, 2));
      setAnswer({ text: parts.join('\n') });
    } catch (err) {
      setAnswer({ text: err instanceof Error ? err.message : String(err), error: true });
    }
  };
  const decide = async (d: DecisionRecord, verb: 'confirm' | 'reject') => {
    try {
      const r = await send<DecisionRecord>('POST', `/orchestrator/decisions/${encodeURIComponent(d.id)}/${verb}`, verb === 'reject' ? { reason: 'rejected from the console' } : undefined);
      setActed((a) => ({ ...a, [d.id]: verb === 'confirm' ? `confirmed: ${r.outcome}` : 'rejected' }));
    } catch (err) {
      setActed((a) => ({ ...a, [d.id]: err instanceof Error ? err.message : String(err) }));
    }
  };
  const recent = view.orchestration?.recent ?? [];
  return (
    <section class="panel orchestrator" aria-label="Orchestrator">
      <h2>Orchestrator</h2>
      <form class="ask" onSubmit={ask}>
        <input type="text" value={question} placeholder="Ask the node, e.g. how many peers?" maxLength={4096}
          onInput={(e) => setQuestion((e.target as HTMLInputElement).value)} aria-label="question" />
        <button type="submit">Ask</button>
      </form>
      {answer ? <pre class={answer.error ? 'warn' : ''} data-testid="ask-answer">{answer.text}</pre> : null}
      <h3>Decisions</h3>
      <table>
        <thead><tr><th>when</th><th>action</th><th>source</th><th>confidence</th><th>outcome</th><th>reasoning</th><th /></tr></thead>
        <tbody>
          {view.decisions.map((d) => (
            <tr key={d.id} data-testid="decision-row" data-decision={d.id} data-outcome={d.outcome}>
              <td>{new Date(d.ts).toLocaleTimeString()}</td>
              <td>{d.action}</td>
              <td>{d.source}</td>
              <td>{d.confidence.toFixed(2)}</td>
              <td class={`outcome ${d.outcome}`} title={d.outcome_reason}>{d.outcome}</td>
              <td class="reasoning">{d.reasoning}</td>
              <td class="buttons">
                {d.outcome === 'held' ? <>
                  <button type="button" onClick={() => decide(d, 'confirm')}>Confirm</button>
                  <button type="button" onClick={() => decide(d, 'reject')}>Reject</button>
                </> : null}
                {acted[d.id] ? <div class="outcome">{acted[d.id]}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.decisions.length === 0 ? <p class="muted">No decision yet (or the orchestrator is off on this node).</p> : null}
      <h3>Swarm decisions</h3>
      <ul class="news">
        {recent.map((d) => (
          <li key={d.id}>{new Date(d.decided_at).toLocaleTimeString()} {d.group}: <b>{d.decision.action}</b> by {d.strategy_used} ({d.path}{d.agreed ? ', agreed' : ''}){d.decision.reasoning ? ` — ${d.decision.reasoning}` : ''}</li>
        ))}
      </ul>
    </section>
  );
}
