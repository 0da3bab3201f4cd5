// Playground: a chat against this node's OpenAI-compatible /v1/chat/completions, streamed token
// by token; the answer's receipt (its id and executor from the last chunk's `mvp` field) is
// verified here against the text that arrived.
import { useState } from 'preact/hooks';
import { authHeaders, refusal } from '../api.ts';
import { verifyReceiptInBrowser, type BrowserVerification } from '../receipt.ts';
import { modelNames, type NodeView } from '../store.ts';
import type { Receipt } from '../types.ts';
import { Verdict } from './jobs.tsx';

interface Chunk {
  choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>;
  mvp?: { job_id: string; receipt_id: string; executor: string; receipt: Receipt };
  error?: { message: string };
}

export function Playground({ view }: { view: NodeView }) {
  const [model, setModel] = useState('');
  const [prompt, setPrompt] = useState('Hello');
  const [maxTokens, setMaxTokens] = useState(64);
  const [temperature, setTemperature] = useState(0.7);
  const [out, setOut] = useState('');
  const [tokens, setTokens] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [mvp, setMvp] = useState<Chunk['mvp']>();
  const [verdict, setVerdict] = useState<BrowserVerification | undefined>();
  const names = modelNames(view);
  const chosen = model || names[0] || '';

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true); setOut(''); setTokens(0); setError(undefined); setMvp(undefined); setVerdict(undefined);
    let text = '';
    try {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: authHeaders({ 'content-type': 'application/json', accept: 'text/event-stream' }),
        body: JSON.stringify({ model: chosen, stream: true, max_tokens: maxTokens, temperature, messages: [{ role: 'user', content: prompt }] }),
      });
      if (!res.ok || !res.body) throw await refusal(res);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let last: Chunk['mvp'];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i); buf = buf.slice(i + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data === '' || data === '[DONE]') continue;
          const c = JSON.parse(data) as Chunk;
          if (c.error) throw new Error(c.error.message);
          const piece = c.choices?.[0]?.delta?.content;
          if (piece) { text += piece; setOut(text); setTokens((n) => n + 1); }
          if (c.mvp) last = c.mvp;
        }
      }
      if (last) {
        setMvp(last);
        setVerdict(await verifyReceiptInBrowser(last.receipt, { text }));
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel playground" aria-label="Playground">
      <h2>Playground</h2>
      <form onSubmit={run}>
        <label>model <select value={chosen} onChange={(e) => setModel((e.target as HTMLSelectElement).value)} aria-label="model">
          {names.map((n) => <option key={n} value={n}>{n}</option>)}
        </select></label>
        <label>max tokens <input type="number" min={1} max={4096} value={maxTokens} aria-label="max tokens"
          onInput={(e) => setMaxTokens(Math.max(1, Math.min(4096, Number((e.target as HTMLInputElement).value) || 1)))} /></label>
        <label>temperature <input type="number" min={0} max={2} step={0.1} value={temperature} aria-label="temperature"
          onInput={(e) => setTemperature(Math.max(0, Math.min(2, Number((e.target as HTMLInputElement).value) || 0)))} /></label>
        <textarea value={prompt} rows={3} aria-label="prompt" onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
        <button type="submit" disabled={busy || chosen === ''}>{busy ? 'Generating…' : 'Send'}</button>
      </form>
      <pre class={out === '' ? 'output empty' : 'output'} data-testid="playground-output" data-chunks={tokens}>{out}</pre>
      {error ? <p class="warn" data-testid="playground-error">{error}</p> : null}
      {mvp ? (
        <div class="receipt" data-testid="playground-receipt">
          <div>receipt <code>{mvp.receipt_id}</code> · executor <code title={mvp.executor}>{mvp.executor.slice(-10)}</code> · job <code>{mvp.job_id.slice(0, 12)}…</code></div>
          <Verdict v={verdict} testid="playground-verdict" />
        </div>
      ) : null}
    </section>
  );
}
