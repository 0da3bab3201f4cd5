// Receipt records of the swarm's DHT (dht.ts), apart from kad-dht so that the API's metrics can
// name the refusal reasons without loading libp2p: the key a job's receipt is stored under, the
// validator's check (the executor's signature over the receipt, for that very job, by the
// executor this node saw the job assigned to), and which of several valid records wins.
import { DRAIN_REASON, verifyReceipt, type ReceiptEnvelope } from '../../protocol/index.ts';
import { CodedError } from '../../errors/registry.ts';
import { RECORD_REFUSALS, type RecordRefusal } from './messages.ts';
export { RECORD_REFUSALS, type RecordRefusal };

export const RECEIPT_NAMESPACE = 'mvp-receipt';
/** A receipt envelope is well under this; a record over it is refused unread. */
export const MAX_RECEIPT_RECORD_BYTES = 64 * 1024;
export const receiptKey = (jobId: string): Uint8Array => new TextEncoder().encode(`/${RECEIPT_NAMESPACE}/${jobId}`);


export class ReceiptRecordError extends CodedError {
  override name = 'ReceiptRecordError';
  constructor(readonly reason: RecordRefusal, detail: string) { super('receipt_record_refused', `receipt record refused (${reason}): ${detail}`); }
}

/**
 * Checks a receipt record: the value must be a receipt envelope signed by its executor (the
 * offline check of protocol/receipt.ts), for the job id its key names; and when this node saw the
 * job assigned (`assignedExecutor`), to that executor. Throws ReceiptRecordError.
 */
export async function checkReceiptRecord(
  key: Uint8Array, value: Uint8Array, assignedExecutor: (jobId: string) => string | undefined = () => undefined,
): Promise<ReceiptEnvelope> {
  if (value.byteLength > MAX_RECEIPT_RECORD_BYTES) throw new ReceiptRecordError('oversize', `${value.byteLength} bytes`);
  let json: unknown;
  try { json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value)); } catch (err) {
    throw new ReceiptRecordError('malformed', `not JSON: ${(err as Error).message}`);
  }
  const v = await verifyReceipt(json);
  if (!v.ok) throw new ReceiptRecordError(v.check === 'signature' ? 'signature' : v.check === 'executor' ? 'executor' : 'format', v.reason);
  const jobId = v.receipt.body.job_id;
  const keyText = new TextDecoder().decode(key);
  if (keyText !== `/${RECEIPT_NAMESPACE}/${jobId}`) throw new ReceiptRecordError('wrong_key', `key ${keyText.slice(0, 200)} holds the receipt of job ${jobId}`);
  const assigned = assignedExecutor(jobId);
  if (assigned !== undefined && assigned !== v.receipt.body.executor) {
    throw new ReceiptRecordError('unassigned', `job ${jobId} was assigned to ${assigned}, the receipt is by ${v.receipt.body.executor}`);
  }
  return v.receipt;
}

/**
 * Picks the best of several records for one key (all validated already): the receipt of the
 * job's end beats a draining executor's hand-back (its re-run's receipt replaces it, as in the
 * receipt book); among equals, the first signed.
 */
export function selectReceipt(_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0;
  let bestRank: [number, number] = [Infinity, Infinity];
  records.forEach((r, i) => {
    let rank: [number, number] = [2, Infinity];
    try {
      const env = JSON.parse(new TextDecoder().decode(r)) as ReceiptEnvelope;
      rank = [env.body.status === 'failed' && env.body.reason === DRAIN_REASON ? 1 : 0, env.ts];
    } catch { /* unreadable: last */ }
    if (rank[0] < bestRank[0] || (rank[0] === bestRank[0] && rank[1] < bestRank[1])) { best = i; bestRank = rank; }
  });
  return best;
}
