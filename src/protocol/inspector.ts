// The gate every incoming gossip message passes: bytes in, a checked envelope or a drop reason
// out. Nothing from the network can make it throw; callers count drops by reason.
import { signatureProblem, type EnvelopeWire } from './envelope.ts';
import { bodyProblem, describeErrors, isMessageType, MESSAGE_BODIES, validateEnvelopeWire, type Envelope } from './registry.ts';
import { ReplayCache } from './replay-cache.ts';
import { isSupportedVersion, SUPPORTED_VERSIONS } from './version.ts';

/** Why an envelope was dropped, in the order the checks run. */
export const DROP_REASONS = Object.freeze([
  'oversize', 'malformed', 'schema', 'unknown_version', 'unknown_type',
  'wrong_from', 'stale', 'bad_signature', 'replay',
] as const);
export type DropReason = (typeof DROP_REASONS)[number];

export type OpenResult =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: DropReason; detail: string };

export interface OpenContext {
  /** Receiver clock, ms since epoch. */
  now: number;
  /** The originator gossipsub reports for the message (msg.from), when it reports one. */
  propagationFrom?: string;
  /**
   * Oldest accepted ts for this message, ms before now, when it is stored state relayed by
   * another node (an announce brought by manifest sync) rather than a fresh message: such a
   * message is as old as its sender's last announce. Default (and never less than) maxSkewMs.
   */
  maxAgeMs?: number;
}

export interface EnvelopeLimits {
  /** Largest accepted encoded envelope. Default 256 KiB. */
  maxBytes: number;
  /** Largest accepted |receiver now − sender ts|; also how long ids are remembered. Default 5 min. */
  maxSkewMs: number;
  /** Most ids remembered for replay detection; beyond it the oldest are forgotten. Default 65 536. */
  replayCapacity: number;
}

export interface EnvelopeInspectorInit extends Partial<EnvelopeLimits> {
  /** Versions this node reads (same major). Default SUPPORTED_VERSIONS. */
  supportedVersions?: readonly string[];
}

export interface EnvelopeInspector {
  /** Checks raw gossip bytes. Never throws, never rejects. */
  open(bytes: Uint8Array, ctx: OpenContext): Promise<OpenResult>;
  readonly limits: Readonly<EnvelopeLimits>;
  /** Ids currently remembered for replay detection. */
  readonly rememberedIds: number;
}

export const DEFAULT_ENVELOPE_LIMITS: Readonly<EnvelopeLimits> = Object.freeze({
  maxBytes: 256 * 1024,
  maxSkewMs: 5 * 60 * 1000,
  replayCapacity: 65_536,
});

const MAX_DETAIL = 200;

export function createEnvelopeInspector(init: EnvelopeInspectorInit = {}): EnvelopeInspector {
  const limits: Readonly<EnvelopeLimits> = Object.freeze({
    maxBytes: positiveInteger('maxBytes', init.maxBytes ?? DEFAULT_ENVELOPE_LIMITS.maxBytes),
    maxSkewMs: positiveInteger('maxSkewMs', init.maxSkewMs ?? DEFAULT_ENVELOPE_LIMITS.maxSkewMs),
    replayCapacity: positiveInteger('replayCapacity', init.replayCapacity ?? DEFAULT_ENVELOPE_LIMITS.replayCapacity),
  });
  const supported = [...(init.supportedVersions ?? SUPPORTED_VERSIONS)];
  const seen = new ReplayCache(limits.replayCapacity);

  async function inspect(bytes: Uint8Array, ctx: OpenContext): Promise<OpenResult> {
    if (!(bytes instanceof Uint8Array)) return drop('malformed', 'input is not bytes');
    if (bytes.byteLength > limits.maxBytes) return drop('oversize', `${bytes.byteLength} bytes > ${limits.maxBytes}`);

    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (err) {
      return drop('malformed', (err as Error).message);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return drop('malformed', 'not a JSON object');

    if (!validateEnvelopeWire(parsed)) return drop('schema', `envelope: ${describeErrors(validateEnvelopeWire)}`);
    const wire: EnvelopeWire = parsed;
    if (!isSupportedVersion(wire.v, supported)) return drop('unknown_version', `v ${wire.v}, reading ${supported.join(',')}`);
    if (!isMessageType(wire.type)) return drop('unknown_type', wire.type);
    const bodyDef = MESSAGE_BODIES[wire.type];
    if (!bodyDef.validate(wire.body)) return drop('schema', `${wire.type} body: ${describeErrors(bodyDef.validate)}`);
    // Per-type rules: a self-contradicting body (`schema`), a body naming another sender (`wrong_from`).
    const problem = bodyProblem(wire.type, wire.body, wire.from);
    if (problem !== undefined) return drop(problem.reason, problem.detail);

    if (ctx.propagationFrom !== undefined && wire.from !== ctx.propagationFrom) {
      return drop('wrong_from', `from ${wire.from}, propagated as from ${String(ctx.propagationFrom)}`);
    }
    const now = ctx.now;
    if (typeof now !== 'number' || !Number.isFinite(now)) return drop('stale', 'receiver clock unavailable');
    const maxAge = Math.max(limits.maxSkewMs, ctx.maxAgeMs ?? 0);
    if (wire.ts - now > limits.maxSkewMs || now - wire.ts > maxAge) return drop('stale', `ts ${wire.ts} is ${now - wire.ts} ms from now`);

    const sigProblem = await signatureProblem(wire);
    if (sigProblem !== undefined) return drop('bad_signature', sigProblem);

    // Check and record with no await in between, so two copies opened concurrently cannot both
    // pass. Keyed by sender too: a peer reusing someone else's id cannot get their message dropped.
    const key = `${wire.from}/${wire.id}`;
    if (seen.has(key, now)) return drop('replay', `id ${wire.id} from ${wire.from} already accepted`);
    seen.remember(key, wire.ts + maxAge, now);
    return { ok: true, envelope: wire as Envelope };
  }

  return {
    limits,
    get rememberedIds() { return seen.size; },
    async open(bytes, ctx) {
      try {
        return await inspect(bytes, ctx);
      } catch (err) {
        return drop('malformed', `unexpected: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

function drop(reason: DropReason, detail: string): OpenResult {
  return { ok: false, reason, detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL)}…` : detail };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
