// Whatever the network sends — random bytes, or a valid envelope mutated anywhere — the
// inspector answers with an envelope or a known drop reason, never an exception, and only the
// content the sender signed is ever accepted.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import {
  createEnvelopeInspector, encodeEnvelope, sealEnvelope, signingBytes, DROP_REASONS,
  type Envelope, type OpenResult,
} from '../../src/protocol/index.ts';

const NOW = 1_780_000_000_000;
let valid: Envelope;
let validBytes: Uint8Array;

before(async () => {
  const key = await generateKeyPair('Ed25519');
  const id = peerIdFromPrivateKey(key).toString();
  valid = await sealEnvelope(key, id, 'announce', {
    node_id: 'n1', peer_id: id, versions: ['1.0'], addrs: ['/ip4/10.0.0.1/tcp/4001'],
    models: [{ name: 'm', sha256: '0'.repeat(64), params: 10, quantization: 'q4_0', context_length: 64, test_model: true }],
    capacity: { max_queue: 1, slots: 1 }, load: { queue_depth: 0, busy_slots: 0, cpu: 0, mem_free_mb: 1 },
    policies: { auto_accept_peers: false, max_peers: 1 }, mode: 'worker', started_at: NOW,
  }, { now: NOW });
  validBytes = encodeEnvelope(valid);
});

async function openSafely(bytes: Uint8Array): Promise<OpenResult> {
  const result = await createEnvelopeInspector().open(bytes, { now: NOW, propagationFrom: valid.from });
  if (result.ok) {
    // Only what the sender signed can pass: same signed content as the original.
    assert.deepEqual(signingBytes(result.envelope), signingBytes(valid));
  } else {
    assert.ok(DROP_REASONS.includes(result.reason), `unknown reason ${result.reason}`);
    assert.equal(typeof result.detail, 'string');
  }
  return result;
}

type Json = unknown;
type Mutation = (obj: Record<string, Json>) => void;

/** A path into the envelope: some container and one key in it. */
function containers(value: Json, out: Record<string, Json>[] = []): Record<string, Json>[] {
  if (typeof value === 'object' && value !== null) {
    out.push(value as Record<string, Json>);
    for (const child of Object.values(value)) containers(child, out);
  }
  return out;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.nat(), fc.jsonValue()).map(([c, k, v]): Mutation => (obj) => {
    const all = containers(obj); const target = all[c % all.length]!; const keys = Object.keys(target);
    if (keys.length > 0) target[keys[k % keys.length]!] = v;
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([c, k]): Mutation => (obj) => {
    const all = containers(obj); const target = all[c % all.length]!; const keys = Object.keys(target);
    if (keys.length > 0) delete target[keys[k % keys.length]!];
  }),
  fc.tuple(fc.nat(), fc.string({ maxLength: 12 }), fc.jsonValue()).map(([c, key, v]): Mutation => (obj) => {
    const all = containers(obj); all[c % all.length]![key] = v;
  }),
  fc.tuple(fc.constantFrom('ts', 'id', 'v', 'type', 'from', 'sig'), fc.oneof(fc.string(), fc.integer(), fc.double())).map(([key, v]): Mutation => (obj) => {
    obj[key] = v;
  }),
);

describe('inspector under hostile input', () => {
  it('answers random bytes with a known drop reason', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
      assert.equal((await openSafely(bytes)).ok, false);
    }), { numRuns: 500 });
  });

  it('answers random text (including lone surrogates) with a known drop reason', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 512 }), async (text) => {
      assert.equal((await openSafely(new TextEncoder().encode(text))).ok, false);
    }), { numRuns: 300 });
  });

  it('never accepts a structurally mutated envelope unless its signed content is unchanged', async () => {
    await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
      const obj = JSON.parse(JSON.stringify(valid)) as Record<string, Json>;
      for (const mutate of mutations) mutate(obj);
      await openSafely(new TextEncoder().encode(JSON.stringify(obj)));
    }), { numRuns: 500 });
  });

  it('drops any schema-valid change to signed content as bad_signature', async () => {
    const change = fc.oneof(
      fc.string({ minLength: 1, maxLength: 128 }).map((v) => (o: Envelope) => { (o.body as { node_id: string }).node_id = v; }),
      fc.double({ min: 0, max: 1024, noNaN: true }).map((v) => (o: Envelope) => { (o.body as { load: { cpu: number } }).load.cpu = v; }),
      fc.integer({ min: -60_000, max: 60_000 }).map((d) => (o: Envelope) => { o.ts += d; }),
      fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/).map((v) => (o: Envelope) => { o.id = v; }),
      fc.constantFrom('2.1', '2.7').map((v) => (o: Envelope) => { o.v = v; }),
    );
    await fc.assert(fc.asyncProperty(change, async (apply) => {
      const obj = JSON.parse(JSON.stringify(valid)) as Envelope;
      apply(obj);
      const changed = Buffer.compare(signingBytes(obj), signingBytes(valid)) !== 0;
      const result = await openSafely(new TextEncoder().encode(JSON.stringify(obj)));
      if (changed) assert.equal(result.ok ? 'ok' : result.reason, 'bad_signature');
    }), { numRuns: 300 });
  });

  it('never throws on byte-level damage: flips, truncation, insertion', async () => {
    const damage = fc.oneof(
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([i, x]) => (b: Uint8Array) => {
        const copy = Uint8Array.from(b); copy[i % copy.length]! ^= x; return copy;
      }),
      fc.nat().map((n) => (b: Uint8Array) => b.slice(0, n % b.length)),
      fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, extra]) => (b: Uint8Array) => {
        const at = i % b.length; return Uint8Array.from([...b.slice(0, at), ...extra, ...b.slice(at)]);
      }),
    );
    await fc.assert(fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 3 }), async (steps) => {
      await openSafely(steps.reduce((bytes, step) => step(bytes), validBytes));
    }), { numRuns: 500 });
  });
});
