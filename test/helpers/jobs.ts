// Valid job message bodies and signed receipts for protocol and CLI tests: each test changes
// one field of a known-good body, so a rejection points at that field.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import {
  buildWorkOffer, sha256Hex,
  type JobAssignBody, type JobClaimBody, type ReceiptBody, type WorkOfferBody,
} from '../../src/protocol/index.ts';

export const NOW = 1_780_000_000_000;
export const PROMPT = 'Hello';
export const TEXT = ', world! Ünïcödé ✓';
export const MODEL_SHA256 = 'ab'.repeat(32);

export interface Peer { key: PrivateKey; id: string }

export async function newPeer(): Promise<Peer> {
  const key = await generateKeyPair('Ed25519');
  return { key, id: peerIdFromPrivateKey(key).toString() };
}

export function offerFrom(client: Peer, extra: Partial<Omit<WorkOfferBody, 'job_id'>> = {}): WorkOfferBody {
  return buildWorkOffer({
    client: client.id, model: 'tiny', prompt_sha256: sha256Hex(PROMPT), max_tokens: 16, temperature: 0.7,
    priority: 'normal', requirements: {}, nonce: 'nonce-1', ...extra,
  });
}

export function claimBy(executor: Peer, jobId: string): JobClaimBody {
  return { job_id: jobId, executor: executor.id, model_sha256: MODEL_SHA256, queue_depth: 0, est_start_ms: 0, capacity: 4 };
}

export function assignTo(executor: Peer, jobId: string): JobAssignBody {
  return { job_id: jobId, executor: executor.id, lease_ms: 30_000, attempt: 1 };
}

export function receiptBy(executor: Peer, client: Peer, extra: Partial<ReceiptBody> = {}): ReceiptBody {
  return {
    job_id: offerFrom(client).job_id, executor: executor.id, client: client.id, model: 'tiny', model_sha256: MODEL_SHA256,
    input_sha256: sha256Hex(PROMPT), output_sha256: sha256Hex(TEXT), tokens_in: 3, tokens_out: 8,
    timings: { queue_ms: 2, load_ms: 0, first_token_ms: 11.5, generation_ms: 40, tokens_per_s: 200 },
    status: 'completed', started_at: NOW - 60, finished_at: NOW - 5, ...extra,
  };
}
