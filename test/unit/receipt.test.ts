// Receipts as proofs: sealed by the executor, verifiable by anyone with the envelope alone, at
// any time later; any change to what was signed, or a signer other than the executor, is refused.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import {
  RECEIPT_CHECKS, sealEnvelope, sealReceipt, signEnvelope, signingBytes, verifyReceipt,
  PROTOCOL_VERSION, type ReceiptCheck, type ReceiptEnvelope, type ReceiptVerification,
} from '../../src/protocol/index.ts';
import { newPeer, NOW, PROMPT, receiptBy, TEXT, type Peer } from '../helpers/jobs.ts';

let client: Peer;
let executor: Peer;
let mallory: Peer;
let sealed: ReceiptEnvelope;
before(async () => {
  client = await newPeer(); executor = await newPeer(); mallory = await newPeer();
  sealed = await sealReceipt(executor.key, receiptBy(executor, client), NOW);
});

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function assertFails(result: ReceiptVerification, check: ReceiptCheck, reason?: RegExp): void {
  assert.equal(result.ok, false, `expected ${check} failure, got ok`);
  if (result.ok) return;
  assert.equal(result.check, check, `expected ${check}, got ${result.check}: ${result.reason}`);
  if (reason) assert.match(result.reason, reason);
}

describe('sealReceipt → verifyReceipt', () => {
  it('verifies what it sealed, signed by the executor, from the envelope alone', async () => {
    assert.equal(sealed.type, 'receipt');
    assert.equal(sealed.from, executor.id);
    assert.equal(sealed.ts, NOW);
    const result = await verifyReceipt(copy(sealed));
    assert.equal(result.ok, true, result.ok ? '' : `${result.check}: ${result.reason}`);
    if (result.ok) assert.deepEqual(result.receipt, sealed);
  });

  it('verifies with the text and prompt it was made for', async () => {
    const result = await verifyReceipt(copy(sealed), { text: TEXT, prompt: PROMPT });
    assert.equal(result.ok, true, result.ok ? '' : `${result.check}: ${result.reason}`);
  });

  it('still verifies years later: no staleness or replay check', async () => {
    const old = await sealReceipt(executor.key, receiptBy(executor, client, { started_at: 1_000, finished_at: 2_000 }), 2_000);
    assert.equal((await verifyReceipt(old)).ok, true);
    assert.equal((await verifyReceipt(old)).ok, true, 'the same receipt verifies again');
  });

  it('verifies a failed receipt (verification is about who did what, not whether it worked)', async () => {
    const failed = await sealReceipt(executor.key, receiptBy(executor, client, { status: 'failed', reason: 'worker died', tokens_out: 0 }), NOW);
    const result = await verifyReceipt(failed);
    assert.equal(result.ok, true);
    if (result.ok) assert.equal(result.receipt.body.status, 'failed');
  });

  it('refuses to seal a receipt naming another executor than the signing key', async () => {
    await assert.rejects(sealReceipt(mallory.key, receiptBy(executor, client), NOW), { name: 'EnvelopeSealError' });
  });

  it('names its checks in the order it runs them', () => {
    assert.deepEqual([...RECEIPT_CHECKS], ['format', 'signature', 'executor', 'output_hash', 'input_hash']);
  });
});

describe('verifyReceipt refuses', () => {
  it('format: not an object, not an envelope, another message type, a body outside the schema', async () => {
    for (const input of [null, 42, 'receipt', [sealed], {}, { ...copy(sealed), sig: undefined }]) {
      assertFails(await verifyReceipt(input), 'format');
    }
    const heartbeat = await sealEnvelope(executor.key, executor.id, 'heartbeat', { seq: 1 }, { now: NOW });
    assertFails(await verifyReceipt(heartbeat), 'format', /type is heartbeat/);
    assertFails(await verifyReceipt({ ...copy(sealed), v: '3.0' }), 'format', /version 3\.0/);
    const extra = copy(sealed) as unknown as { body: Record<string, unknown> };
    extra.body.signature = 'x';
    assertFails(await verifyReceipt(extra), 'format', /receipt body/);
  });

  it('format: a correctly signed receipt that contradicts itself', async () => {
    const body = receiptBy(executor, client, { started_at: NOW, finished_at: NOW - 1 });
    const forged = await signEnvelope(executor.key, { v: PROTOCOL_VERSION, type: 'receipt', id: 'r-000000000000000001', from: executor.id, ts: NOW, body });
    assertFails(await verifyReceipt(forged), 'format', /before started_at/);
  });

  it('signature: a body changed after signing', async () => {
    const tampered = copy(sealed);
    tampered.body.tokens_out += 1;
    assertFails(await verifyReceipt(tampered), 'signature', /does not verify/);
    const later = copy(sealed);
    later.ts += 1;
    assertFails(await verifyReceipt(later), 'signature');
  });

  it('signature: signed by another key while from claims the executor', async () => {
    const body = receiptBy(executor, client);
    const forged = await signEnvelope(mallory.key, { v: PROTOCOL_VERSION, type: 'receipt', id: 'r-000000000000000002', from: executor.id, ts: NOW, body });
    assertFails(await verifyReceipt(forged), 'signature');
  });

  it('executor: signed (validly) by another peer than the executor it names', async () => {
    const body = receiptBy(executor, client);
    const forged = await signEnvelope(mallory.key, { v: PROTOCOL_VERSION, type: 'receipt', id: 'r-000000000000000003', from: mallory.id, ts: NOW, body });
    assertFails(await verifyReceipt(forged), 'executor', new RegExp(`signed by ${mallory.id}, but names ${executor.id}`));
  });

  it('output_hash: a text other than the one generated', async () => {
    assertFails(await verifyReceipt(copy(sealed), { text: `${TEXT}.` }), 'output_hash');
    assertFails(await verifyReceipt(copy(sealed), { text: '' }), 'output_hash');
  });

  it('input_hash: a prompt other than the one run', async () => {
    assertFails(await verifyReceipt(copy(sealed), { text: TEXT, prompt: 'Goodbye' }), 'input_hash');
  });

  it('never throws, whatever it is given', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (value) => {
      const result = await verifyReceipt(value);
      assert.equal(result.ok, false);
    }), { numRuns: 200 });
  });
});

type Json = unknown;
type Mutation = (obj: Record<string, Json>) => void;

/** The object at obj[key] when there still is one (earlier mutations may have replaced it). */
function child(obj: Record<string, Json>, key: string): Record<string, Json> {
  const value = obj[key];
  return typeof value === 'object' && value !== null ? value as Record<string, Json> : {};
}

function containers(value: Json, out: Record<string, Json>[] = []): Record<string, Json>[] {
  if (typeof value === 'object' && value !== null) {
    out.push(value as Record<string, Json>);
    for (const child of Object.values(value)) containers(child, out);
  }
  return out;
}

describe('verifyReceipt under mutation (property)', () => {
  // Replace, delete or add a value anywhere in the envelope, or set a signed field to a
  // plausible value: the receipt verifies only if its signed content is unchanged.
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
    fc.tuple(fc.constantFrom('tokens_in', 'tokens_out', 'started_at', 'finished_at'), fc.nat({ max: NOW })).map(([key, v]): Mutation => (obj) => {
      child(obj, 'body')[key] = v;
    }),
    fc.tuple(fc.constantFrom('queue_ms', 'load_ms', 'first_token_ms', 'generation_ms', 'tokens_per_s'), fc.double({ min: 0, max: 1e6, noNaN: true })).map(([key, v]): Mutation => (obj) => {
      child(child(obj, 'body'), 'timings')[key] = v;
    }),
    fc.tuple(fc.constantFrom('output_sha256', 'input_sha256', 'model_sha256', 'job_id'), fc.stringMatching(/^[0-9a-f]{64}$/)).map(([key, v]): Mutation => (obj) => {
      child(obj, 'body')[key] = v;
    }),
    fc.constantFrom('completed', 'failed', 'cancelled', 'timeout').map((status): Mutation => (obj) => {
      const body = child(obj, 'body'); body.status = status; body.reason = 'changed';
    }),
    fc.integer({ min: -1e6, max: 1e6 }).map((d): Mutation => (obj) => { obj.ts = (obj.ts as number) + d; }),
  );

  it('never verifies a mutated receipt unless its signed content is identical', async () => {
    const original = signingBytes(sealed);
    await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
      const obj = copy(sealed) as unknown as Record<string, Json>;
      for (const mutate of mutations) mutate(obj);
      const result = await verifyReceipt(obj);
      if (result.ok) {
        assert.deepEqual(signingBytes(result.receipt), original, 'a changed receipt verified');
        assert.equal(result.receipt.sig, sealed.sig);
      } else {
        assert.ok(RECEIPT_CHECKS.includes(result.check));
      }
    }), { numRuns: 600 });
  });
});
