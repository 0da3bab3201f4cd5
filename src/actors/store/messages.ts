// What the store actor accepts and answers. It alone opens the node's LevelDB (LevelDB locks its
// directory); every other actor reaches the store through these messages.
import type { RequestEvent } from '../../runtime/actor.ts';
import type { ReceiptEnvelope } from '../../protocol/receipt.ts';
import type { JobRecord, JobRecordStatus } from '../scheduler/messages.ts';
import type { CheckReport, Page, ReceiptPut, ReceiptRole, StoredJob, StoredReceipt, StoreStatus } from '../../store/store.ts';
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';

export type { Page, StoredReceipt, StoredJob, StoreStatus, ReceiptPut, ReceiptRole, CheckReport } from '../../store/store.ts';

export interface StoreArgs {
  /** `<data_dir>/<node-id>`; absent: an in-memory store (simulated nodes). */
  nodeDir?: string;
  /** Where version 0 kept this node's orchestration state: migrated into the store. */
  legacy?: { dataDir: string; peerId: string };
}

export type PageRequest = { before?: string; after?: string; limit?: number };

export type StoreIn =
  /** → ReceiptPut, once the receipt is fsynced (a receipt is acknowledged only after that). */
  | RequestEvent<{ type: 'store.receipt_put'; receipt: ReceiptEnvelope; role: ReceiptRole }>
  /** → StoredReceipt | null */
  | RequestEvent<{ type: 'store.receipt'; job_id: string }>
  /** → Page<StoredReceipt> */
  | RequestEvent<{ type: 'store.receipts' } & PageRequest>
  /** A job's latest state (the scheduler's history): written unsynced, may lag a crash. */
  | { type: 'store.job'; record: JobRecord }
  /** → StoredJob | null */
  | RequestEvent<{ type: 'store.job_get'; id: string }>
  /** → Page<StoredJob> */
  | RequestEvent<{ type: 'store.jobs'; status?: JobRecordStatus } & PageRequest>
  /** Named values (block list, reputation, known peers, orchestration state): → value | null, null, null, [{ name, value }]. */
  | RequestEvent<{ type: 'store.value_get'; name: string }>
  | RequestEvent<{ type: 'store.value_put'; name: string; value: unknown; durable: boolean }>
  | RequestEvent<{ type: 'store.value_delete'; name: string; durable: boolean }>
  | RequestEvent<{ type: 'store.values'; prefix: string }>
  /** → StoreStatus */
  | RequestEvent<{ type: 'store.status' }>
  /** → CheckReport without path and schema_version (every record read; the store keeps serving meanwhile) */
  | RequestEvent<{ type: 'store.check' }>;

/** What the store tells the network actor when writes start failing or work again. */
export interface StoreWritable { type: 'store.writable'; writable: boolean; error?: string }

type StoreRequest<T extends StoreIn['type']> = Omit<Extract<StoreIn, { type: T }>, 'replyTo' | 'from'>;
export type StoreJobEvent = { type: 'store.job'; record: JobRecord };

/** The store's published protocol. Named values are untyped here: each owner knows what it put. */
export type StoreProtocol = DefineProtocol<
  | Call<StoreRequest<'store.receipt_put'>, ReceiptPut>
  | Call<StoreRequest<'store.receipt'>, StoredReceipt | null>
  | Call<StoreRequest<'store.receipts'>, Page<StoredReceipt>>
  | Call<StoreRequest<'store.job_get'>, StoredJob | null>
  | Call<StoreRequest<'store.jobs'>, Page<StoredJob>>
  | Call<StoreRequest<'store.value_get'>, unknown>
  | Call<StoreRequest<'store.value_put'>, null>
  | Call<StoreRequest<'store.value_delete'>, null>
  | Call<StoreRequest<'store.values'>, Array<{ name: string; value: unknown }>>
  | Call<StoreRequest<'store.status'>, StoreStatus>
  | Call<StoreRequest<'store.check'>, Omit<CheckReport, 'path' | 'schema_version'>>,
  StoreJobEvent
>;

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { store: StoreProtocol }
}
