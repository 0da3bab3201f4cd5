// What the api actor accepts and answers, the bodies its HTTP routes return, and the registry
// of error codes every HTTP error body carries.
import type { RequestEvent, SystemEvent } from '../../runtime/actor.ts';

export type ApiIn =
  /** → string: the URL the HTTP server listens on, e.g. http://127.0.0.1:39211. */
  | RequestEvent<{ type: 'api.url' }>
  | SystemEvent;

/** Start arguments (ChildSpec.args): who the node is, so /health names it even when the network is down. */
export interface ApiArgs {
  /** The node's data directory (`<data_dir>/<node-id>`) for api.json; '' (in-memory node): no file. */
  dataDir: string;
  nodeId: string;
  peerId: string;
  /** When the node was created, in clock milliseconds: /health's uptime is the node's, not this actor's. */
  startedAt: number;
}

/** GET /health. 200 when `ok`; 503 with the same body otherwise. */
export interface HealthBody {
  status: 'ok' | 'starting' | 'degraded';
  node_id: string;
  peer_id: string;
  peers: number;
  known_peers: number;
  uptime_s: number;
  /** Actor name → its machine's state when running, else its supervision status. */
  actors: Record<string, string>;
  queue: { depth: number; capacity: number };
}

/** `<data_dir>/<node-id>/api.json`, so local tools find a node whose port was auto-assigned. */
export interface ApiFile { url: string; pid: number }

/**
 * Error codes of the HTTP API (the `code` of every error body):
 * - `unauthorized` (401): api.token is set and the request lacks `Authorization: Bearer <token>`.
 * - `not_found` (404): no such route.
 * - `bad_request` (4xx): the request could not be handled as sent.
 * - `internal` (500): a bug; the node's log has the details.
 */
export type ApiErrorCode = 'unauthorized' | 'not_found' | 'bad_request' | 'internal';

export interface ApiErrorBody { code: ApiErrorCode; message: string }

/** The HTTP server could not listen where configured (port taken, address not on this host). */
export class ApiListenError extends Error {
  override name = 'ApiListenError';
  constructor(readonly host: string, readonly port: number, cause: string) {
    super(`Failed to start the HTTP API on ${host}:${port}: ${cause}. Use a different api.port or let the system auto-assign: api.port = 0`);
  }
}
