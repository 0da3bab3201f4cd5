// The signed envelope every gossip message travels in: its schema, its canonical signing bytes,
// signing, signature verification and wire encoding. Body validation lives in the registry.
import { createPublicKey, randomBytes, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { peerIdFromString } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import type { FromSchema, WireSchema } from './schema-types.ts';
import { CodedError } from '../errors/registry.ts';

export const envelopeSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node gossip envelope',
  description: 'Every gossip message. sig = ed25519 signature by the key of `from` over the RFC 8785 canonical JSON of the envelope without sig.',
  type: 'object',
  additionalProperties: false,
  required: ['v', 'type', 'id', 'from', 'ts', 'body', 'sig'],
  properties: {
    v: { type: 'string', description: 'protocol version major.minor', maxLength: 13, pattern: '^\\d{1,6}\\.\\d{1,6}$' },
    type: { type: 'string', description: 'message type, selects the body schema', minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9_]*$' },
    id: { type: 'string', description: 'unique per sender, base64url or hex', minLength: 16, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
    from: { type: 'string', description: 'sender libp2p peer id; its public key verifies sig', minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9]+$' },
    ts: { type: 'integer', description: 'sender clock, ms since epoch', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    body: { type: 'object', description: 'type-specific, checked by the schema registered for `type`' },
    sig: { type: 'string', description: 'base64url signature', minLength: 16, maxLength: 256, pattern: '^[A-Za-z0-9_-]+$' },
  },
} as const satisfies WireSchema;

/** An envelope as the envelope schema accepts it, body not yet checked against its type. */
export type EnvelopeWire = FromSchema<typeof envelopeSchema>;
export type UnsignedEnvelope<E extends EnvelopeWire = EnvelopeWire> = Omit<E, 'sig'>;

export class EnvelopeSealError extends CodedError {
  override name = 'EnvelopeSealError' as const;
  constructor(message: string, options?: ErrorOptions) { super('envelope_seal_failed', message, options); }
}

/** 16 random bytes, base64url (22 characters). */
export function newEnvelopeId(): string {
  return randomBytes(16).toString('base64url');
}

/** RFC 8785 canonical JSON of `value`, UTF-8. Throws on values JSON cannot carry (NaN, lone surrogates). */
export function canonicalBytes(value: unknown): Uint8Array {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return new TextEncoder().encode(text);
}

/** The bytes `sig` signs: the canonical JSON of the envelope without `sig`. */
export function signingBytes(envelope: UnsignedEnvelope | EnvelopeWire): Uint8Array {
  const { sig: _sig, ...unsigned } = envelope as EnvelopeWire;
  return canonicalBytes(unsigned);
}

/** Signs an envelope as it is — no schema checks (`sealEnvelope` is the checked way to build one). */
export async function signEnvelope<E extends EnvelopeWire>(privateKey: PrivateKey, unsigned: UnsignedEnvelope<E>): Promise<E> {
  const signature = await privateKey.sign(signingBytes(unsigned));
  return { ...unsigned, sig: Buffer.from(signature).toString('base64url') } as E;
}

/**
 * Why the envelope's signature does not hold, or `undefined` when it does. Needs nothing but the
 * envelope: the public key is the one embedded in the `from` peer id. Never throws.
 */
export async function signatureProblem(envelope: EnvelopeWire): Promise<string | undefined> {
  let publicKey;
  try {
    const peerId = peerIdFromString(envelope.from);
    if (peerId.toString() !== envelope.from) return 'from is not in canonical peer id form';
    publicKey = peerId.publicKey;
  } catch {
    return 'from is not a peer id';
  }
  if (publicKey === undefined) return 'from peer id does not embed a public key';
  const signature = Buffer.from(envelope.sig, 'base64url');
  if (signature.toString('base64url') !== envelope.sig) return 'sig is not canonical base64url';
  let bytes: Uint8Array;
  try {
    bytes = signingBytes(envelope);
  } catch (err) {
    return `envelope has no canonical form: ${(err as Error).message}`;
  }
  try {
    const ok = publicKey.type === 'Ed25519'
      ? verifyEd25519(envelope.from, publicKey.raw, bytes, signature)
      : await publicKey.verify(bytes, signature);
    return ok ? undefined : 'signature does not verify';
  } catch (err) {
    return `signature check failed: ${(err as Error).message}`;
  }
}

/**
 * Ed25519 verification with the sender's key object cached: building a KeyObject costs about as
 * much as the check itself, and every node checks every announce and heartbeat of every peer.
 */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keyObjects = new Map<string, KeyObject>();
const KEY_CACHE_SIZE = 8192;

function verifyEd25519(from: string, raw: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  let key = keyObjects.get(from);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    if (keyObjects.size >= KEY_CACHE_SIZE) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(from, key);
  }
  return cryptoVerify(null, data, key, signature);
}

export async function verifyEnvelopeSignature(envelope: EnvelopeWire): Promise<boolean> {
  return (await signatureProblem(envelope)) === undefined;
}

/** Wire bytes of an envelope: its canonical JSON, so the same envelope always encodes the same. */
export function encodeEnvelope(envelope: EnvelopeWire): Uint8Array {
  return canonicalBytes(envelope);
}
