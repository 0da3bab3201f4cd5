// Manifest exchange (`/mvp/sync/1.0.0`): a node asks a peer for the signed announces that peer
// stored since the last time they synced, so a newcomer learns the whole network from its first
// peer at the cost of one stream, and later syncs carry only what changed — instead of every
// node re-announcing to everyone (N² checks per join).
//
// Nodes also ask for the receipts stored since (a partition healed, or they joined late), so
// every node ends up holding each job's receipt.
//
// Request: JSON `{ since: <the responder's change number at our last sync, 0 at first>,
//                  receipts?: true }`.
// Response: JSON `{ seq: <its change number now>, announces: [<envelope as UTF-8 text>, ...],
//                   receipts?: [<envelope as UTF-8 text>, ...] }` (receipts only when asked).
// Responses are untrusted: each envelope goes through the inspector.
import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { CodedError } from '../../errors/registry.ts';

export const SYNC_PROTOCOL = '/mvp/sync/1.0.0';
/** Caps on what one exchange may carry, both ways. */
export const SYNC_MAX_BYTES = 8 * 1024 * 1024;
export const SYNC_MAX_ENTRIES = 4096;

export interface SyncRequest { since: number; receipts: boolean }
export interface SyncResponse { seq: number; announces: string[]; receipts: string[] }

export class SyncError extends CodedError {
  override name = 'SyncError';
  constructor(message: string, options?: ErrorOptions) { super('sync_failed', message, options); }
}

/** Reads a stream to its end (bounded) and parses it as JSON. */
export async function readJson(stream: Stream, maxBytes = SYNC_MAX_BYTES): Promise<unknown> {
  const buf = new Uint8ArrayList();
  for await (const chunk of stream) {
    buf.append(chunk);
    if (buf.byteLength > maxBytes) {
      stream.abort(new SyncError(`sync message over ${maxBytes} bytes`));
      throw new SyncError(`sync message over ${maxBytes} bytes`);
    }
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray()));
  } catch (err) {
    throw new SyncError(`sync message is not JSON: ${(err as Error).message}`);
  }
}

export async function writeJson(stream: Stream, value: unknown): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  if (!stream.send(bytes)) await stream.onDrain();
  await stream.close();
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function parseRequest(v: unknown): SyncRequest {
  const r = v as { since?: unknown; receipts?: unknown } | null;
  if (!isCount(r?.since)) throw new SyncError('sync request without a "since" change number');
  return { since: r.since, receipts: r.receipts === true };
}

export function parseResponse(v: unknown): SyncResponse {
  const r = v as { seq?: unknown; announces?: unknown; receipts?: unknown } | null;
  if (!isCount(r?.seq) || !Array.isArray(r.announces)) throw new SyncError('sync response needs "seq" and an "announces" array');
  if (r.receipts !== undefined && !Array.isArray(r.receipts)) throw new SyncError('sync response "receipts" must be an array');
  const texts = (a: unknown[]) => a.slice(0, SYNC_MAX_ENTRIES).filter((x): x is string => typeof x === 'string');
  return { seq: r.seq, announces: texts(r.announces), receipts: texts(r.receipts ?? []) };
}
