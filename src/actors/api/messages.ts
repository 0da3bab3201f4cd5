// What the api actor accepts and answers, the bodies its HTTP routes return, and the one shape
// of their errors (codes and statuses: errors/registry.ts, docs/ERRORS.md).
import { CodedError, type ErrorCode } from '../../errors/registry.ts';
import type { StoredJob } from '../../store/store.ts';
import type { RequestEvent, SystemEvent } from '../../runtime/actor.ts';
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';
import type { ConsensusStatus } from '../consensus/messages.ts';
import type { DistributedDecision } from '../consensus/router.ts';
import type { OrchestrationSummary } from '../consensus/summary.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';
import type { JobRecord } from '../scheduler/messages.ts';

export type ApiIn =
  /** → string: the URL the HTTP server listens on, e.g. http://127.0.0.1:39211. */
  | RequestEvent<{ type: 'api.url' }>
  /** The node drains: the gateway refuses new jobs and waits up to timeout_ms for those in flight → { left }. */
  | RequestEvent<{ type: 'api.drain'; timeout_ms: number }>
  | SystemEvent;

/** Start arguments (ChildSpec.args): who the node is, so /health names it even when the network is down. */
export interface ApiArgs {
  /** The node's data directory (`<data_dir>/<node-id>`) for api.json; '' (in-memory node): no file. */
  dataDir: string;
  nodeId: string;
  peerId: string;
  /** When the node was created, in clock milliseconds: /health's uptime is the node's, not this actor's. */
  startedAt: number;
  /**
   * The port the server got, kept across the actor's restarts (shared memory, so it survives a
   * worker thread too): with `api.port = 0` a restarted api actor listens where it did before,
   * unless that port was taken meanwhile. Absent: every start takes what the OS gives.
   */
  portCell?: Int32Array;
  /** A private swarm's key file content: the gateway's light client needs it to join. */
  swarmKey?: Uint8Array;
}

/** GET /health. 200 when `ok`; 503 with the same body otherwise. */
export interface HealthBody {
  status: 'ok' | 'starting' | 'degraded' | 'draining';
  node_id: string;
  peer_id: string;
  peers: number;
  known_peers: number;
  uptime_s: number;
  /** Actor name → its machine's state when running, else its supervision status. */
  actors: Record<string, string>;
  /** Each served model: `loaded` (its inference actor is ready), `loading`, or `down` (restarting, stopped). */
  models: Record<string, 'loaded' | 'loading' | 'down'>;
  queue: { depth: number; capacity: number };
  /** Distributed orchestration (mode, coordinator, epoch, groups, partition), when the consensus actor answered. */
  orchestration?: OrchestrationSummary;
}

/** GET /orchestration: the consensus actor's whole status and its latest decisions (strategy, latency). */
export type OrchestrationBody = ConsensusStatus & { recent: DistributedDecision[] };

/** GET /jobs/:id: the scheduler's record of a job run or queued here, and the receipt this node accepted for it. */
export interface JobBody {
  /** Null when this node did not run the job (or has forgotten it) but holds its receipt. */
  job: StoredJob | null;
  receipt: ReceiptEnvelope | null;
}

/** 202 answer to killing or restarting the api actor itself: done right after this answer is sent. */
export interface SelfActionBody { name: string; accepted: true; message: string }

/** POST /drain's answer (202): the node has begun to drain and exits when done. */
export interface DrainAccepted { draining: true; timeout_secs: number }

/** `<data_dir>/<node-id>/api.json`, so local tools find a node whose port was auto-assigned. */
export interface ApiFile { url: string; pid: number }

/**
 * Every error body of the node API (outside /v1, which answers OpenAI's shape): the registry
 * code, the message, and whether asking again may succeed. The HTTP status is the code's, as
 * the registry gives it, whichever actor (or thread) the error was raised in.
 */
export interface ApiErrorBody { code: ErrorCode; message: string; retryable: boolean }

/** Largest request body accepted, in bytes (fastify's bodyLimit); larger ones get 413 `body_too_large`. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** A route's refusal: answered with its code's status and an ApiErrorBody. */
export class ApiError extends CodedError {
  override name = 'ApiError';
  constructor(code: ErrorCode, message: string) { super(code, message); }
}

/** The HTTP server could not listen where configured (port taken, address not on this host). */
export class ApiListenError extends CodedError {
  override name = 'ApiListenError';
  constructor(readonly host: string, readonly port: number, cause: string) {
    super('api_listen_failed', `Failed to start the HTTP API on ${host}:${port}: ${cause}. Use a different api.port or let the system auto-assign: api.port = 0`);
  }
}

/** The api actor's published protocol. */
export type ApiProtocol = DefineProtocol<
  | Call<{ type: 'api.url' }, string>
  | Call<{ type: 'api.drain'; timeout_ms: number }, { left: number }>
>;

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { api: ApiProtocol }
  /** The node answers `node.drain` in its supervisor's name (create-node.ts). */
  interface SupervisorExtensions { 'node.drain': Call<{ type: 'node.drain' }, DrainAccepted> }
}
