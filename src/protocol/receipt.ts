// Receipts as proofs: the executor seals a `receipt` envelope with its key, and anyone holding
// that envelope alone can check it — offline, at any time later (no staleness, no replay check).
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { signatureProblem } from './envelope.ts';
import { sha256Hex } from './fields.ts';
import type { ReceiptBody } from './receipt-body.ts';
import { bodyProblem, describeErrors, MESSAGE_BODIES, validateEnvelopeWire, type Envelope } from './registry.ts';
import { sealEnvelope, type SealOptions } from './seal.ts';
import { BROADCAST_PROTOCOL_VERSION, PROTOCOL_VERSION, isSupportedVersion } from './version.ts';

/** A receipt verifies forever: those of protocol 1.0 (same receipt format) as well as 2.0. */
const RECEIPT_VERSIONS = [PROTOCOL_VERSION, BROADCAST_PROTOCOL_VERSION];

export type ReceiptEnvelope = Envelope<'receipt'>;

/** The checks `verifyReceipt` runs, in order; a failure names the first that failed. */
export const RECEIPT_CHECKS = Object.freeze(['format', 'signature', 'executor', 'output_hash', 'input_hash'] as const);
export type ReceiptCheck = (typeof RECEIPT_CHECKS)[number];

export type ReceiptVerification =
  | { ok: true; receipt: ReceiptEnvelope }
  | { ok: false; check: ReceiptCheck; reason: string };

export interface VerifyReceiptOptions {
  /** The generated text the receipt is claimed for: its sha256 must be output_sha256. */
  text?: string;
  /** The prompt the receipt is claimed for: its sha256 must be input_sha256. */
  prompt?: string;
}

/**
 * Signs a receipt as its executor: the envelope's `from` is the peer id of `privateKey`, which
 * must be `body.executor`. Throws EnvelopeSealError when the body breaks the receipt schema or
 * rules, or names another executor.
 */
export async function sealReceipt(
  privateKey: PrivateKey, body: ReceiptBody, now: number, opts: Omit<SealOptions, 'now'> = {},
): Promise<ReceiptEnvelope> {
  return sealEnvelope(privateKey, peerIdFromPrivateKey(privateKey).toString(), 'receipt', body, { ...opts, now });
}

/**
 * Checks a receipt envelope (parsed JSON, anything) with nothing but the envelope:
 *  - format:      envelope schema, a version this node reads, type `receipt`, receipt schema and
 *                 rules (finished_at ≥ started_at, a reason unless completed);
 *  - signature:   ed25519 by the key embedded in `from`, over the canonical envelope;
 *  - executor:    body.executor is `from` — a receipt signed by anyone but its executor is refused;
 *  - output_hash: when `text` is given, sha256(text) = output_sha256;
 *  - input_hash:  when `prompt` is given, sha256(prompt) = input_sha256.
 * No staleness or replay check: a receipt stays verifiable forever. Never throws.
 */
export async function verifyReceipt(input: unknown, opts: VerifyReceiptOptions = {}): Promise<ReceiptVerification> {
  try {
    return await verify(input, opts);
  } catch (err) {
    return fail('format', `unexpected: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function verify(input: unknown, opts: VerifyReceiptOptions): Promise<ReceiptVerification> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail('format', 'not a JSON object');
  if (!validateEnvelopeWire(input)) return fail('format', `envelope: ${describeErrors(validateEnvelopeWire).trim()}`);
  if (!isSupportedVersion(input.v, RECEIPT_VERSIONS)) return fail('format', `unknown protocol version ${input.v}`);
  if (input.type !== 'receipt') return fail('format', `envelope type is ${input.type}, not receipt`);
  const def = MESSAGE_BODIES.receipt;
  if (!def.validate(input.body)) return fail('format', `receipt body: ${describeErrors(def.validate).trim()}`);
  const receipt = input as ReceiptEnvelope;
  const problem = bodyProblem('receipt', receipt.body, receipt.from);
  if (problem?.reason === 'schema') return fail('format', problem.detail);

  const badSignature = await signatureProblem(receipt);
  if (badSignature !== undefined) return fail('signature', badSignature);
  if (receipt.body.executor !== receipt.from) {
    return fail('executor', `signed by ${receipt.from}, but names ${receipt.body.executor} as its executor`);
  }

  if (opts.text !== undefined) {
    const got = sha256Hex(opts.text);
    if (got !== receipt.body.output_sha256) return fail('output_hash', `sha256 of the text is ${got}, the receipt says ${receipt.body.output_sha256}`);
  }
  if (opts.prompt !== undefined) {
    const got = sha256Hex(opts.prompt);
    if (got !== receipt.body.input_sha256) return fail('input_hash', `sha256 of the prompt is ${got}, the receipt says ${receipt.body.input_sha256}`);
  }
  return { ok: true, receipt };
}

function fail(check: ReceiptCheck, reason: string): ReceiptVerification {
  return { ok: false, check, reason: reason.length > 300 ? `${reason.slice(0, 300)}…` : reason };
}
