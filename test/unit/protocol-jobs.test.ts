// The job messages (work_offer, job_claim, job_assign, receipt): what their schemas accept and
// refuse, how a job id is derived, and the per-type rules the inspector and sealEnvelope apply.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import {
  buildWorkOffer, createEnvelopeInspector, deriveJobId, encodeEnvelope, jobIdOf, jobValue, MESSAGE_BODIES,
  newJobNonce, sealEnvelope, sha256Hex, signEnvelope, EnvelopeSealError, PROTOCOL_VERSION,
  type DropReason, type MessageType, type OpenResult,
} from '../../src/protocol/index.ts';
import { assignTo, claimBy, newPeer, NOW, offerFrom, PROMPT, receiptBy, type Peer } from '../helpers/jobs.ts';

let client: Peer;
let executor: Peer;
before(async () => { client = await newPeer(); executor = await newPeer(); });

function accepts(type: MessageType, body: unknown): boolean {
  return MESSAGE_BODIES[type].validate(body) as boolean;
}

/** The body with one field set (or deleted when `value` is undefined), at a dotted path. */
function withField<T extends object>(body: T, path: string, value: unknown): T {
  const copy = structuredClone(body) as Record<string, unknown>;
  const keys = path.split('.');
  let target = copy;
  for (const k of keys.slice(0, -1)) target = target[k] as Record<string, unknown>;
  if (value === undefined) delete target[keys.at(-1)!];
  else target[keys.at(-1)!] = value;
  return copy as T;
}

function assertDropped(result: OpenResult, reason: DropReason): void {
  assert.equal(result.ok, false, `expected drop ${reason}, got ok`);
  if (!result.ok) assert.equal(result.reason, reason, `expected ${reason}, got ${result.reason}: ${result.detail}`);
}

describe('work_offer schema (job.schema.json)', () => {
  it('accepts a minimal offer and one with every optional field', () => {
    assert.equal(accepts('work_offer', offerFrom(client)), true);
    const full = offerFrom(client, {
      seed: 42, value: 3.5, reward: 0.25, deadline_ms: NOW + 60_000, priority: 'high',
      requirements: { min_context: 2048, max_latency_ms: 500, model: 'cd'.repeat(32) },
    });
    assert.equal(accepts('work_offer', full), true);
  });

  const refused: [string, unknown][] = [
    ['job_id', 'not-hex'], ['job_id', 'AB'.repeat(32)], ['client', 'short'], ['client', 'x'.repeat(129)],
    ['model', ''], ['model', 'm'.repeat(129)], ['prompt_sha256', '0'.repeat(63)],
    ['max_tokens', 0], ['max_tokens', 32_769], ['max_tokens', 1.5], ['temperature', -0.1], ['temperature', 2.01],
    ['seed', -1], ['seed', 2 ** 32], ['priority', 'urgent'], ['value', -1], ['reward', -0.01], ['reward', '1'],
    ['requirements.min_context', 0], ['requirements.max_latency_ms', 0], ['requirements.model', 'tiny'],
    ['requirements.extra', 1], ['deadline_ms', -1], ['deadline_ms', 1.5], ['nonce', ''], ['nonce', 'has space'],
    ['nonce', 'n'.repeat(65)], ['prompt', 'the prompt never travels in an offer'], ['extra', true],
    ['job_id', undefined], ['client', undefined], ['requirements', undefined], ['nonce', undefined], ['priority', undefined],
  ];
  for (const [path, value] of refused) {
    it(`refuses ${path} = ${JSON.stringify(value)?.slice(0, 40) ?? 'absent'}`, () => {
      assert.equal(accepts('work_offer', withField(offerFrom(client), path, value)), false);
    });
  }

  it('counts an offer without value as worth 1', () => {
    assert.equal(jobValue(offerFrom(client)), 1);
    assert.equal(jobValue(offerFrom(client, { value: 0 })), 0);
  });
});

describe('job ids', () => {
  const identity = () => ({
    client: client.id, model: 'tiny', prompt_sha256: sha256Hex(PROMPT),
    params: { max_tokens: 16, temperature: 0.7 }, nonce: 'nonce-1',
  });

  it('are the sha256 of the canonical JSON of { client, model, nonce, params, prompt_sha256 }', () => {
    const canonical = `{"client":"${client.id}","model":"tiny","nonce":"nonce-1","params":{"max_tokens":16,"temperature":0.7},"prompt_sha256":"${sha256Hex(PROMPT)}"}`;
    assert.equal(deriveJobId(identity()), sha256Hex(canonical));
    assert.match(deriveJobId(identity()), /^[0-9a-f]{64}$/);
  });

  it('are deterministic: same content and nonce, same id, whatever the key order', () => {
    const a = identity();
    const b = { nonce: a.nonce, params: { temperature: 0.7, max_tokens: 16 }, prompt_sha256: a.prompt_sha256, model: a.model, client: a.client };
    assert.equal(deriveJobId(a), deriveJobId(b));
    assert.equal(deriveJobId({ ...a, params: { ...a.params, seed: undefined } }), deriveJobId(a));
  });

  it('change with any field that says what is computed, and with the nonce', () => {
    const base = deriveJobId(identity());
    const variants = [
      { ...identity(), client: executor.id },
      { ...identity(), model: 'tiny2' },
      { ...identity(), prompt_sha256: sha256Hex(`${PROMPT}!`) },
      { ...identity(), params: { max_tokens: 17, temperature: 0.7 } },
      { ...identity(), params: { max_tokens: 16, temperature: 0.8 } },
      { ...identity(), params: { max_tokens: 16, temperature: 0.7, seed: 0 } },
      { ...identity(), nonce: 'nonce-2' },
    ];
    const ids = new Set([base, ...variants.map(deriveJobId)]);
    assert.equal(ids.size, variants.length + 1);
  });

  it('do not change with priority, value, reward, requirements or deadline', () => {
    const plain = offerFrom(client);
    const treated = offerFrom(client, { priority: 'low', value: 9, reward: 2, requirements: { min_context: 64 }, deadline_ms: NOW });
    assert.equal(treated.job_id, plain.job_id);
    assert.equal(jobIdOf(plain), deriveJobId(identity()));
  });

  it('are distinct for any two different nonces (property)', () => {
    const nonce = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    fc.assert(fc.property(nonce, nonce, (n1, n2) => {
      fc.pre(n1 !== n2);
      assert.notEqual(deriveJobId({ ...identity(), nonce: n1 }), deriveJobId({ ...identity(), nonce: n2 }));
    }), { numRuns: 200 });
  });

  it('buildWorkOffer draws a fresh nonce when none is given', () => {
    const { job_id: _id, nonce: _nonce, ...content } = offerFrom(client);
    const one = buildWorkOffer(content);
    const two = buildWorkOffer(content);
    assert.equal(one.job_id, jobIdOf(one));
    assert.notEqual(one.nonce, two.nonce);
    assert.notEqual(one.job_id, two.job_id);
    assert.match(newJobNonce(), /^[A-Za-z0-9_-]{22}$/);
  });
});

describe('job_claim and job_assign schemas', () => {
  it('accept valid bodies', () => {
    const jobId = offerFrom(client).job_id;
    assert.equal(accepts('job_claim', claimBy(executor, jobId)), true);
    assert.equal(accepts('job_assign', assignTo(executor, jobId)), true);
  });

  const claimRefused: [string, unknown][] = [
    ['job_id', 'x'], ['executor', 'short'], ['model_sha256', 'g'.repeat(64)], ['queue_depth', -1], ['queue_depth', 0.5],
    ['est_start_ms', -1], ['est_start_ms', 86_400_001], ['capacity', 1025], ['capacity', undefined], ['extra', 1],
  ];
  for (const [path, value] of claimRefused) {
    it(`job_claim refuses ${path} = ${JSON.stringify(value) ?? 'absent'}`, () => {
      assert.equal(accepts('job_claim', withField(claimBy(executor, offerFrom(client).job_id), path, value)), false);
    });
  }

  const assignRefused: [string, unknown][] = [
    ['job_id', undefined], ['executor', 'x'.repeat(129)], ['lease_ms', 0], ['lease_ms', 1.5], ['attempt', 0], ['attempt', 1001], ['extra', 1],
  ];
  for (const [path, value] of assignRefused) {
    it(`job_assign refuses ${path} = ${JSON.stringify(value) ?? 'absent'}`, () => {
      assert.equal(accepts('job_assign', withField(assignTo(executor, offerFrom(client).job_id), path, value)), false);
    });
  }
});

describe('receipt schema (receipt.schema.json)', () => {
  it('accepts a completed receipt and a failed one with its reason', () => {
    assert.equal(accepts('receipt', receiptBy(executor, client)), true);
    assert.equal(accepts('receipt', receiptBy(executor, client, { status: 'failed', reason: 'worker died', tokens_out: 0 })), true);
  });

  const refused: [string, unknown][] = [
    ['job_id', 'zz'], ['executor', 'bad id!xxxxxxxxxxxx'], ['client', undefined], ['model', ''], ['model_sha256', 'AB'.repeat(32)],
    ['input_sha256', undefined], ['output_sha256', '0'.repeat(65)], ['tokens_in', -1], ['tokens_out', 1.5],
    ['timings.queue_ms', -1], ['timings.generation_ms', 1e11], ['timings.tokens_per_s', -0.5], ['timings.load_ms', undefined],
    ['timings.extra', 0], ['status', 'done'], ['reason', ''], ['reason', 'r'.repeat(513)], ['started_at', -1],
    ['finished_at', 1.5], ['signature', 'x'], ['timings', undefined],
  ];
  for (const [path, value] of refused) {
    it(`refuses ${path} = ${JSON.stringify(value)?.slice(0, 40) ?? 'absent'}`, () => {
      assert.equal(accepts('receipt', withField(receiptBy(executor, client), path, value)), false);
    });
  }
});

describe('per-type rules, in the inspector and in sealEnvelope', () => {
  const open = (env: object) => createEnvelopeInspector().open(encodeEnvelope(env as never), { now: NOW });
  /** Signs anything as `peer`, bypassing sealEnvelope's checks, as a hostile peer would. */
  const forge = (peer: Peer, type: string, body: object) =>
    signEnvelope(peer.key, { v: PROTOCOL_VERSION, type, id: 'forged-00000000000001', from: peer.id, ts: NOW, body } as never);

  it('opens a sealed offer, claim, assignment and receipt', async () => {
    const offer = offerFrom(client);
    for (const [peer, type, body] of [
      [client, 'work_offer', offer], [executor, 'job_claim', claimBy(executor, offer.job_id)],
      [client, 'job_assign', assignTo(executor, offer.job_id)], [executor, 'receipt', receiptBy(executor, client)],
    ] as const) {
      const sealed = await sealEnvelope(peer.key, peer.id, type, body as never, { now: NOW });
      const result = await open(sealed);
      assert.equal(result.ok, true, result.ok ? '' : `${type}: ${result.reason} ${result.detail}`);
    }
  });

  it('wrong_from: an offer whose client is not its sender', async () => {
    assertDropped(await open(await forge(executor, 'work_offer', offerFrom(client))), 'wrong_from');
    await assert.rejects(sealEnvelope(executor.key, executor.id, 'work_offer', offerFrom(client), { now: NOW }), EnvelopeSealError);
  });

  it('wrong_from: a claim or a receipt whose executor is not its sender', async () => {
    const jobId = offerFrom(client).job_id;
    assertDropped(await open(await forge(client, 'job_claim', claimBy(executor, jobId))), 'wrong_from');
    assertDropped(await open(await forge(client, 'receipt', receiptBy(executor, client))), 'wrong_from');
    await assert.rejects(sealEnvelope(client.key, client.id, 'receipt', receiptBy(executor, client), { now: NOW }),
      { name: 'EnvelopeSealError', message: /names .* as its sender/ });
  });

  it('schema: an offer whose job_id is not derived from its content', async () => {
    const offer = { ...offerFrom(client), max_tokens: 17 };
    assertDropped(await open(await forge(client, 'work_offer', offer)), 'schema');
    await assert.rejects(sealEnvelope(client.key, client.id, 'work_offer', offer, { now: NOW }), { message: /is not the id its content derives/ });
  });

  it('schema: a receipt that ends before it starts, or fails without a reason', async () => {
    const backwards = receiptBy(executor, client, { started_at: NOW, finished_at: NOW - 1 });
    const silent = receiptBy(executor, client, { status: 'timeout' });
    assertDropped(await open(await forge(executor, 'receipt', backwards)), 'schema');
    assertDropped(await open(await forge(executor, 'receipt', silent)), 'schema');
    await assert.rejects(sealEnvelope(executor.key, executor.id, 'receipt', silent, { now: NOW }), { message: /without a reason/ });
  });

  it('job_assign has no signer rule: any offerer may assign', async () => {
    const sealed = await sealEnvelope(client.key, client.id, 'job_assign', assignTo(executor, offerFrom(client).job_id), { now: NOW });
    assert.equal((await open(sealed)).ok, true);
  });
});
