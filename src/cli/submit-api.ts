// `mvp-node submit` without --bootstrap: the job goes to a node running on this machine (found
// by its <data_dir>/<node-id>/api.json, or --api <url>), through its OpenAI-compatible
// POST /v1/completions, streamed. That node's light client is already joined to the network, so
// the command skips starting libp2p, dialling and syncing manifests: a short job ends in a
// fraction of the time. The routing is the same (the node offers the job to the network, any
// node may run it). The CLI still verifies the executor's signed receipt itself (signature,
// executor, output and prompt hashes, job id): it trusts the local node no more than a peer.
import { CommandFailedError } from './errors.ts';
import { CodedError } from '../errors/registry.ts';
import type { ReceiptEnvelope } from '../protocol/index.ts';

export interface ApiSubmitOptions {
  /** The node's API base URL (no trailing slash). */
  url: string;
  token?: string;
  prompt: string;
  /** Default: the first model GET /v1/models lists (this node's own first). */
  model?: string;
  maxTokens: number;
  temperature: number;
  seed?: number;
  timeoutMs: number;
  onToken?(text: string): void;
}

export interface ApiSubmitResult { text: string; receipt: ReceiptEnvelope; executor: string }

/** The receipt the node passed on did not verify here: the CLI does not take the node's word for it. */
export class ApiReceiptError extends CodedError {
  override name = 'ApiReceiptError';
  constructor(message: string) { super('bad_receipt', message); }
}

interface Chunk {
  choices?: Array<{ text?: string; finish_reason?: string | null }>;
  mvp?: { job_id: string; receipt_id: string; executor: string; receipt: ReceiptEnvelope };
  error?: { message?: string; code?: string };
}

export async function submitViaApi(o: ApiSubmitOptions): Promise<ApiSubmitResult> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  const headers = { 'content-type': 'application/json', ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}) };
  const call = async (path: string, init: RequestInit): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(`${o.url}${path}`, { ...init, headers, signal });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs / 1000} s` : e.cause?.code ?? e.cause?.message ?? e.message;
      throw new CommandFailedError(`cannot reach the node's API at ${o.url}: ${why}`, { cause: err });
    }
    if (res.ok) return res;
    if (res.status === 401) throw new CommandFailedError(`the node's API at ${o.url} needs its token: pass --token <token> or set MVP_NODE_API_TOKEN`);
    const text = await res.text();
    let detail = text.slice(0, 300);
    try {
      const b = JSON.parse(text) as { error?: { message?: string; code?: string }; message?: string; code?: string };
      const e = b.error ?? b;
      if (e.message) detail = `${e.code ? `${e.code}: ` : ''}${e.message}`;
    } catch { /* not JSON: the raw text */ }
    throw new CommandFailedError(`the node at ${o.url} could not run the job (${res.status}): ${detail}`);
  };

  let model = o.model;
  if (model === undefined) {
    const list = await (await call('/v1/models', { method: 'GET' })).json() as { data?: Array<{ id: string }> };
    model = list.data?.[0]?.id;
    if (model === undefined) throw new CommandFailedError('no node on the network serves a model (the local node knows of none)');
  }
  const res = await call('/v1/completions', {
    method: 'POST',
    body: JSON.stringify({
      model, prompt: o.prompt, max_tokens: o.maxTokens, temperature: o.temperature, ...(o.seed === undefined ? {} : { seed: o.seed }), stream: true,
    }),
  });
  if (!res.body) throw new CommandFailedError(`the node at ${o.url} answered without a body`);

  let text = '';
  let mvp: Chunk['mvp'];
  let buf = '';
  const decoder = new TextDecoder();
  const onEvent = (data: string) => {
    if (data === '[DONE]') return;
    let c: Chunk;
    try { c = JSON.parse(data) as Chunk; } catch { throw new CommandFailedError(`the node at ${o.url} sent a stream event that is not JSON`); }
    if (c.error) throw new CommandFailedError(`the job failed on the network: ${c.error.code ? `${c.error.code}: ` : ''}${c.error.message ?? 'no reason given'}`);
    const t = c.choices?.[0]?.text;
    if (t) { text += t; o.onToken?.(t); }
    if (c.mvp) mvp = c.mvp;
  };
  try {
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(part, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of event.split('\n')) if (line.startsWith('data: ')) onEvent(line.slice(6));
      }
    }
  } catch (err) {
    if (err instanceof CodedError) throw err;
    throw new CommandFailedError(`the node's stream at ${o.url} broke: ${(err as Error).message}`, { cause: err });
  }
  if (!mvp) throw new CommandFailedError(`the node at ${o.url} ended the stream without a receipt`);

  // The receipt is checked here as the light client checks it: the executor's signature over it,
  // that the signer is the executor it names, and the hashes of this prompt and this text.
  const { verifyReceipt } = await import('../protocol/index.ts');
  const v = await verifyReceipt(mvp.receipt, { text, prompt: o.prompt });
  if (!v.ok) throw new ApiReceiptError(`the receipt from ${mvp.executor} failed verification: ${v.check}: ${v.reason}`);
  if (v.receipt.body.job_id !== mvp.job_id) throw new ApiReceiptError(`the receipt from ${mvp.executor} is for another job`);
  if (v.receipt.from !== mvp.executor) throw new ApiReceiptError(`the receipt is signed by ${v.receipt.from}, not the executor ${mvp.executor}`);
  return { text, receipt: v.receipt, executor: mvp.executor };
}
