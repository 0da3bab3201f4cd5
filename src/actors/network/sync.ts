// Manifest exchange on connect (`/mvp/sync/1.0.0`): a node that connects to another asks for the
// signed announces it lacks, so a newcomer learns the whole network from its first peer at the
// cost of one stream, instead of every node re-announcing to everyone (N² checks per join).
//
// Request: JSON `{ have: { <peerId>: <ts of the newest announce held> } }`.
// Response: JSON `{ announces: [<encoded envelope as UTF-8 text>, ...] }`, only those newer than
// what the requester holds. Responses are untrusted: each envelope goes through the inspector.
import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';

export const SYNC_PROTOCOL = '/mvp/sync/1.0.0';
/** Caps on what one exchange may carry, both ways. */
export const SYNC_MAX_BYTES = 8 * 1024 * 1024;
export const SYNC_MAX_ENTRIES = 4096;

export interface SyncRequest { have: Record<string, number> }
export interface SyncResponse { announces: string[] }

export class SyncError extends Error {
  override name = 'SyncError';
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

export function parseRequest(v: unknown): SyncRequest {
  const have = (v as { have?: unknown } | null)?.have;
  if (!have || typeof have !== 'object' || Array.isArray(have)) throw new SyncError('sync request without a "have" object');
  const out: Record<string, number> = {};
  let n = 0;
  for (const [k, ts] of Object.entries(have)) {
    if (++n > SYNC_MAX_ENTRIES) break;
    if (typeof ts === 'number' && Number.isFinite(ts) && k.length <= 128) out[k] = ts;
  }
  return { have: out };
}

export function parseResponse(v: unknown): SyncResponse {
  const list = (v as { announces?: unknown } | null)?.announces;
  if (!Array.isArray(list)) throw new SyncError('sync response without an "announces" array');
  return { announces: list.slice(0, SYNC_MAX_ENTRIES).filter((x): x is string => typeof x === 'string') };
}
