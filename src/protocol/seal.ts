// Building outgoing envelopes: stamp, check against the schemas, sign. What `sealEnvelope`
// returns is exactly what a peer's inspector will parse, so a sealed envelope is never dropped
// for its shape.
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { canonicalBytes, EnvelopeSealError, newEnvelopeId, signEnvelope, type EnvelopeWire } from './envelope.ts';
import { bodyProblem, describeErrors, isMessageType, MESSAGE_BODIES, validateEnvelopeWire, type Envelope, type MessageBody, type MessageType } from './registry.ts';
import { PROTOCOL_VERSION } from './version.ts';

export interface SealOptions {
  /** Sender clock, ms since epoch (truncated to an integer). */
  now: number;
  /** Defaults to 16 random bytes, base64url. */
  id?: string;
  /** Defaults to PROTOCOL_VERSION; pass the version negotiated with the audience if lower. */
  v?: string;
}

/**
 * Builds and signs an envelope. `from` must be the peer id of `privateKey`. Throws
 * EnvelopeSealError when the result would not pass a peer's inspection (wrong key, unknown
 * type, body or stamp outside the schemas).
 */
export async function sealEnvelope<T extends MessageType>(
  privateKey: PrivateKey, from: string, type: T, body: MessageBody<T>, opts: SealOptions,
): Promise<Envelope<T>> {
  if (peerIdFromPrivateKey(privateKey).toString() !== from) {
    throw new EnvelopeSealError(`from ${from} is not the peer id of the signing key`);
  }
  if (!isMessageType(type)) throw new EnvelopeSealError(`unknown message type ${String(type)}`);
  const stamped = { v: opts.v ?? PROTOCOL_VERSION, type, id: opts.id ?? newEnvelopeId(), from, ts: Math.trunc(opts.now), body };
  // Check and sign the JSON form — what the receiver will see (undefined fields gone, etc.).
  let unsigned: Omit<EnvelopeWire, 'sig'>;
  try {
    unsigned = JSON.parse(new TextDecoder().decode(canonicalBytes(stamped))) as Omit<EnvelopeWire, 'sig'>;
  } catch (err) {
    throw new EnvelopeSealError(`envelope has no JSON form: ${(err as Error).message}`);
  }
  const bodyDef = MESSAGE_BODIES[type];
  if (!bodyDef.validate(unsigned.body)) throw new EnvelopeSealError(`${type} body: ${describeErrors(bodyDef.validate)}`);
  const problem = bodyProblem(type, unsigned.body, from);
  if (problem !== undefined) throw new EnvelopeSealError(problem.detail);
  const envelope = await signEnvelope(privateKey, unsigned);
  if (!validateEnvelopeWire(envelope)) throw new EnvelopeSealError(`envelope: ${describeErrors(validateEnvelopeWire)}`);
  return envelope as Envelope<T>;
}
