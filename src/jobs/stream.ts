// The direct job stream `/mvp/job/1.0.0`: the client that won an executor sends
// the job's payload, the executor streams tokens back and ends with the signed receipt.
// Framing: newline-delimited JSON, each line bounded.
//   client → executor:  { "job_id": "...", "prompt": "..." }            (then closes its side)
//   executor → client:  { "t": "token", "text": "..." }* and { "t": "alive" } (keepalive while queued or running)
//                       { "t": "done", "text": "...", "receipt": <receipt envelope> }
//                    or { "t": "error", "reason": "...", "retry"?: true, "receipt"?: ... }
//                       retry: the retryable refusal (queue full, or the node drained): offer
//                       the job again; receipt: a drained job's failed receipt (reason `drain`)
// schemas/job-stream.schema.json publishes these frames; unknown fields are ignored.
import type { Stream } from '@libp2p/interface';
import { CodedError } from '../errors/registry.ts';

export const JOB_PROTOCOL = '/mvp/job/1.0.0';
/** Job streams open at once on one connection (a long-lived client runs many jobs over one). */
export const MAX_JOB_STREAMS = 256;
/** Largest single line: a prompt or a final text. */
export const MAX_LINE_BYTES = 1024 * 1024;

export interface JobRequest { job_id: string; prompt: string }
export type JobFrame =
  | { t: 'token'; text: string }
  | { t: 'alive' }
  | { t: 'done'; text: string; receipt: unknown }
  | { t: 'error'; reason: string; retry?: boolean };

export class JobStreamError extends CodedError {
  override name = 'JobStreamError';
  constructor(message: string, options?: ErrorOptions) { super('job_stream_invalid', message, options); }
}

/** Yields each JSON line of a stream; throws JobStreamError on an oversize or non-JSON line. */
export async function* readLines(stream: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of stream) {
    pending += decoder.decode(chunk instanceof Uint8Array ? chunk : chunk.subarray(), { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) yield parse(line);
    }
    if (pending.length > MAX_LINE_BYTES) throw new JobStreamError(`job stream line over ${MAX_LINE_BYTES} bytes`);
  }
  if (pending.trim()) yield parse(pending);
}

function parse(line: string): unknown {
  try { return JSON.parse(line); } catch { throw new JobStreamError('job stream line is not JSON'); }
}

export async function writeLine(stream: Stream, value: unknown): Promise<void> {
  if (!stream.send(new TextEncoder().encode(`${JSON.stringify(value)}\n`))) await stream.onDrain();
}

export function parseJobRequest(v: unknown): JobRequest {
  const r = v as Partial<JobRequest> | null;
  if (!r || typeof r.job_id !== 'string' || typeof r.prompt !== 'string' || r.job_id.length > 128) {
    throw new JobStreamError('job request must be { job_id: string, prompt: string }');
  }
  return { job_id: r.job_id, prompt: r.prompt };
}

export function parseJobFrame(v: unknown): JobFrame {
  const f = v as { t?: unknown; text?: unknown; reason?: unknown; receipt?: unknown } | null;
  if (f?.t === 'token' && typeof f.text === 'string') return { t: 'token', text: f.text };
  if (f?.t === 'alive') return { t: 'alive' };
  if (f?.t === 'done' && typeof f.text === 'string') return { t: 'done', text: f.text, receipt: f.receipt };
  if (f?.t === 'error' && typeof f.reason === 'string') {
    return { t: 'error', reason: f.reason.slice(0, 1024), ...((f as { retry?: unknown }).retry === true ? { retry: true } : {}) };
  }
  throw new JobStreamError('unknown job stream frame');
}
