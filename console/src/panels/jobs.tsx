// Jobs: the jobs this node ran or holds, live, and one job's receipt verified here in the browser
// (receipt.ts): the page needs the node for the receipt's bytes, not for trusting them.
import { useState } from 'preact/hooks';
import { getJson } from '../api.ts';
import { verifyReceiptInBrowser, type BrowserVerification } from '../receipt.ts';
import type { NodeView } from '../store.ts';
import type { JobRecord, Receipt } from '../types.ts';

const ms = (v: number | null) => (v === null ? '–' : `${Math.round(v)} ms`);
const rate = (j: JobRecord) => (j.generation_ms && j.generation_ms > 0 ? (j.tokens_out / (j.generation_ms / 1000)).toFixed(1) : '–');

export function Verdict({ v, testid }: { v: BrowserVerification | undefined; testid: string }) {
  if (!v) return <span class="verdict pending" data-testid={testid} data-verified="pending">checking…</span>;
  return v.ok
    ? <span class="verdict ok" data-testid={testid} data-verified="true">✔ verified in this browser (Ed25519, key from the executor's peer id)</span>
    : <span class="verdict bad" data-testid={testid} data-verified="false">✘ invalid ({v.check}): {v.reason}</span>;
}

export function Jobs({ view }: { view: NodeView }) {
  const [open, setOpen] = useState<{ id: string; receipt?: Receipt | null; verdict?: BrowserVerification; error?: string } | undefined>();
  const show = async (id: string) => {
    setOpen({ id });
    try {
      const { receipt } = await getJson<{ receipt: Receipt | null }>(`/jobs/${encodeURIComponent(id)}`);
      setOpen({ id, receipt });
      if (receipt) setOpen({ id, receipt, verdict: await verifyReceiptInBrowser(receipt) });
    } catch (err) {
      setOpen({ id, error: err instanceof Error ? err.message : String(err) });
    }
  };
  const [lookup, setLookup] = useState('');
  const executor = view.self?.node_id ?? 'this node';
  return (
    <section class="panel jobs" aria-label="Jobs">
      <h2>Jobs</h2>
      <table>
        <thead><tr><th>job</th><th>status</th><th>model</th><th>executor</th><th>tokens/s</th><th>queue</th><th>generation</th><th /></tr></thead>
        <tbody>
          {view.jobs.map((j) => (
            <tr key={j.id} data-testid="job-row" data-job={j.id}>
              <td title={j.id}>{j.id.slice(0, 8)}…</td>
              <td class={`status ${j.status}`} title={j.reason}>{j.status}</td>
              <td>{j.model}</td>
              <td>{executor}</td>
              <td>{rate(j)}</td>
              <td>{ms(j.queue_ms)}</td>
              <td>{ms(j.generation_ms)}</td>
              <td><button type="button" onClick={() => show(j.id)}>Receipt</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.jobs.length === 0 ? <p class="muted">No job has run on this node yet.</p> : null}
      <form class="ask" onSubmit={(e) => { e.preventDefault(); if (lookup.trim() !== '') void show(lookup.trim()); }}>
        <input type="text" value={lookup} placeholder="any job id whose receipt this node holds" aria-label="job id"
          onInput={(e) => setLookup((e.target as HTMLInputElement).value)} />
        <button type="submit">Look up</button>
      </form>
      {open ? (
        <div class="receipt" data-testid="job-receipt">
          <h3>Receipt of job {open.id.slice(0, 16)}…</h3>
          {open.error ? <p class="warn">{open.error}</p> : null}
          {open.receipt === null ? <p class="muted">This node holds no receipt for this job yet.</p> : null}
          {open.receipt ? <>
            <Verdict v={open.verdict} testid="job-receipt-verdict" />
            <pre>{JSON.stringify(open.receipt, null, 2)}</pre>
          </> : null}
        </div>
      ) : null}
    </section>
  );
}
