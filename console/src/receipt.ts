// Receipt verification in the browser, trusting nothing the node says: the executor's public key
// is read out of the peer id in the receipt itself (an ed25519 libp2p peer id embeds its key),
// and the signature is checked with WebCrypto's Ed25519 over the same bytes `verify-receipt`
// checks: the RFC 8785 canonical JSON of the envelope without `sig`.
import canonicalize from 'canonicalize';
import { base58btc } from 'multiformats/bases/base58';

export type BrowserReceiptCheck = 'format' | 'signature' | 'executor' | 'output_hash';
export type BrowserVerification =
  | { ok: true; executor: string; job_id: string; receipt_id: string }
  | { ok: false; check: BrowserReceiptCheck; reason: string };

/**
 * An ed25519 peer id is base58btc of an identity multihash (code 0x00, length 36) of the
 * protobuf PublicKey { Type = 1 (Ed25519), Data = 32 bytes }: this prefix, then the key.
 */
const ED25519_PEER_ID_PREFIX = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/** The raw ed25519 public key a peer id carries; throws for any other kind of peer id. */
export function publicKeyOfPeerId(peerId: string): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array;
  try { bytes = base58btc.baseDecode(peerId); } catch { throw new Error('the peer id is not base58btc'); }
  if (bytes.length !== ED25519_PEER_ID_PREFIX.length + 32 || ED25519_PEER_ID_PREFIX.some((b, i) => bytes[i] !== b)) {
    throw new Error('the peer id does not embed an ed25519 public key');
  }
  return new Uint8Array(bytes.subarray(ED25519_PEER_ID_PREFIX.length));
}

function base64urlDecode(s: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new Error('not base64url');
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function sha256Hex(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Checks, in order: format (the envelope's fields and a receipt body naming job and executor),
 * signature (Ed25519 by the key in `from`), executor (body.executor is `from`), and, when the
 * text is given, output_hash (its sha256 is the receipt's output_sha256). The node's full schema
 * checks are not repeated here: a receipt whose signature holds was signed as it reads. Never throws.
 */
export async function verifyReceiptInBrowser(input: unknown, opts: { text?: string } = {}): Promise<BrowserVerification> {
  if (!isObject(input)) return { ok: false, check: 'format', reason: 'not a JSON object' };
  for (const k of ['v', 'type', 'id', 'from', 'sig'] as const) {
    if (typeof input[k] !== 'string') return { ok: false, check: 'format', reason: `${k} is not a string` };
  }
  if (typeof input.ts !== 'number') return { ok: false, check: 'format', reason: 'ts is not a number' };
  if (input.type !== 'receipt') return { ok: false, check: 'format', reason: `type is ${String(input.type)}, not receipt` };
  const body = input.body;
  if (!isObject(body) || typeof body.job_id !== 'string' || typeof body.executor !== 'string' || typeof body.output_sha256 !== 'string') {
    return { ok: false, check: 'format', reason: 'the body lacks job_id, executor or output_sha256' };
  }
  const from = input.from as string;
  let ok: boolean;
  try {
    const key = await crypto.subtle.importKey('raw', publicKeyOfPeerId(from), { name: 'Ed25519' }, false, ['verify']);
    const { sig, ...unsigned } = input;
    const text = canonicalize(unsigned);
    if (text === undefined) return { ok: false, check: 'format', reason: 'the envelope has no canonical JSON form' };
    ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, base64urlDecode(sig as string), new TextEncoder().encode(text));
  } catch (err) {
    if (err instanceof Error && err.name === 'NotSupportedError') {
      return { ok: false, check: 'signature', reason: 'this browser has no Ed25519 in WebCrypto: check the receipt with `mvp-node verify-receipt` instead' };
    }
    return { ok: false, check: 'signature', reason: err instanceof Error ? err.message : String(err) };
  }
  if (!ok) return { ok: false, check: 'signature', reason: 'the signature does not verify with the key in the executor\'s peer id' };
  if (body.executor !== from) return { ok: false, check: 'executor', reason: `signed by ${from}, but names ${body.executor} as its executor` };
  if (opts.text !== undefined) {
    const got = await sha256Hex(opts.text);
    if (got !== body.output_sha256) return { ok: false, check: 'output_hash', reason: `the text's sha256 is ${got}, the receipt says ${body.output_sha256}` };
  }
  return { ok: true, executor: from, job_id: body.job_id, receipt_id: input.id as string };
}
