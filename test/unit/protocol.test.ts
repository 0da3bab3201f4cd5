// Envelopes: sealing, encoding, and every way the inspector drops what the network sends.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import {
  createEnvelopeInspector, encodeEnvelope, sealEnvelope, signEnvelope, signingBytes,
  verifyEnvelopeSignature, DROP_REASONS, EnvelopeSealError, PROTOCOL_VERSION,
  type DropReason, type EnvelopeWire, type Manifest, type OpenResult,
} from '../../src/protocol/index.ts';

const NOW = 1_780_000_000_000;
const SKEW = 5 * 60 * 1000;

interface Peer { key: PrivateKey; id: string }
async function newPeer(): Promise<Peer> {
  const key = await generateKeyPair('Ed25519');
  return { key, id: peerIdFromPrivateKey(key).toString() };
}

function manifestOf(peer: Peer): Manifest {
  return {
    node_id: 'node-a',
    peer_id: peer.id,
    versions: ['1.0'],
    addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer.id}`],
    models: [{ name: 'tiny', sha256: 'ab'.repeat(32), params: 1_000_000, quantization: 'q4_0', context_length: 512, test_model: true }],
    capacity: { max_queue: 100, slots: 4 },
    load: { queue_depth: 0, busy_slots: 0, cpu: 0.25, mem_free_mb: 2048 },
    policies: { auto_accept_peers: true, max_peers: 50 },
    started_at: NOW - 1000,
  };
}

const bytesOf = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

function assertDropped(result: OpenResult, reason: DropReason): void {
  assert.equal(result.ok, false, `expected drop ${reason}, got ok`);
  if (!result.ok) assert.equal(result.reason, reason, `expected ${reason}, got ${result.reason}: ${result.detail}`);
}

let a: Peer;
let b: Peer;
before(async () => { a = await newPeer(); b = await newPeer(); });

describe('sealing and opening', () => {
  it('opens what it sealed: seal → encode → open gives the same envelope', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'announce', manifestOf(a), { now: NOW });
    const opened = await createEnvelopeInspector().open(encodeEnvelope(sealed), { now: NOW + 10, propagationFrom: a.id });
    assert.equal(opened.ok, true, opened.ok ? '' : `${opened.reason}: ${opened.detail}`);
    if (!opened.ok) return;
    assert.deepEqual(opened.envelope, sealed);
    assert.equal(opened.envelope.v, PROTOCOL_VERSION);
    assert.equal(opened.envelope.from, a.id);
    if (opened.envelope.type === 'announce') assert.equal(opened.envelope.body.peer_id, a.id);
    else assert.fail('type changed');
  });

  it('stamps a fresh 16-byte id and an integer ts', async () => {
    const one = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW + 0.7 });
    const two = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    assert.notEqual(one.id, two.id);
    assert.equal(Buffer.from(one.id, 'base64url').length, 16);
    assert.equal(one.ts, NOW);
  });

  it('signs the envelope without sig, ed25519, verifiable from the envelope alone', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 7, load: 0.5 }, { now: NOW, id: 'hb-0000000000000007' });
    assert.equal(Buffer.from(sealed.sig, 'base64url').length, 64);
    assert.equal(await a.key.publicKey.verify(signingBytes(sealed), Buffer.from(sealed.sig, 'base64url')), true);
    assert.equal(await verifyEnvelopeSignature(sealed), true);
  });

  it('drops undefined optional fields, as JSON would', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1, load: undefined }, { now: NOW });
    assert.equal(Object.hasOwn(sealed.body, 'load'), false);
    assert.equal((await createEnvelopeInspector().open(encodeEnvelope(sealed), { now: NOW })).ok, true);
  });

  it('refuses to seal with a key that is not the sender\'s', async () => {
    await assert.rejects(sealEnvelope(a.key, b.id, 'heartbeat', { seq: 1 }, { now: NOW }), { name: 'EnvelopeSealError' });
  });

  it('refuses to seal a body its schema rejects, or an id outside the envelope schema', async () => {
    await assert.rejects(sealEnvelope(a.key, a.id, 'heartbeat', { seq: -1 }, { now: NOW }), EnvelopeSealError);
    await assert.rejects(sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW, id: 'short' }), EnvelopeSealError);
    await assert.rejects(sealEnvelope(a.key, a.id, 'announce', { ...manifestOf(a), extra: 1 } as Manifest, { now: NOW }), EnvelopeSealError);
  });
});

describe('canonical JSON', () => {
  it('signing bytes do not depend on key order', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'announce', manifestOf(a), { now: NOW });
    const reversed = Object.fromEntries(Object.entries(sealed).reverse()) as unknown as EnvelopeWire;
    reversed.body = Object.fromEntries(Object.entries(sealed.body).reverse());
    assert.notEqual(JSON.stringify(reversed), JSON.stringify(sealed));
    assert.deepEqual(signingBytes(reversed), signingBytes(sealed));
    assert.deepEqual(encodeEnvelope(reversed), encodeEnvelope(sealed));
  });

  it('accepts an envelope re-serialised with other key order and whitespace', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 3, load: 1 }, { now: NOW });
    const reordered = JSON.stringify({ sig: sealed.sig, body: { load: 1, seq: 3 }, ts: sealed.ts, from: sealed.from, id: sealed.id, type: sealed.type, v: sealed.v }, null, 2);
    assert.equal((await createEnvelopeInspector().open(bytesOf(reordered), { now: NOW })).ok, true);
  });
});

describe('drops, by reason', () => {
  it('lists every reason it can give', () => {
    assert.deepEqual([...DROP_REASONS], ['oversize', 'malformed', 'schema', 'unknown_version', 'unknown_type', 'wrong_from', 'stale', 'bad_signature', 'replay']);
  });

  it('oversize: more bytes than maxBytes, before parsing anything', async () => {
    const inspector = createEnvelopeInspector();
    assertDropped(await inspector.open(new Uint8Array(256 * 1024 + 1), { now: NOW }), 'oversize');
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    const encoded = encodeEnvelope(sealed);
    const small = createEnvelopeInspector({ maxBytes: encoded.length - 1 });
    assertDropped(await small.open(encoded, { now: NOW }), 'oversize');
  });

  it('malformed: not UTF-8, not JSON, not an object, not bytes', async () => {
    const inspector = createEnvelopeInspector();
    assertDropped(await inspector.open(new Uint8Array([0x7b, 0xff, 0x7d]), { now: NOW }), 'malformed');
    assertDropped(await inspector.open(bytesOf('{"v":'), { now: NOW }), 'malformed');
    assertDropped(await inspector.open(bytesOf('[1,2]'), { now: NOW }), 'malformed');
    assertDropped(await inspector.open(bytesOf('null'), { now: NOW }), 'malformed');
    assertDropped(await inspector.open(new Uint8Array(0), { now: NOW }), 'malformed');
    assertDropped(await inspector.open('{}' as unknown as Uint8Array, { now: NOW }), 'malformed');
  });

  it('schema: envelope fields missing, extra or out of bounds', async () => {
    const inspector = createEnvelopeInspector();
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    const { sig: _sig, ...noSig } = sealed;
    assertDropped(await inspector.open(bytesOf(noSig), { now: NOW }), 'schema');
    assertDropped(await inspector.open(bytesOf({ ...sealed, extra: true }), { now: NOW }), 'schema');
    assertDropped(await inspector.open(bytesOf({ ...sealed, ts: NOW + 0.5 }), { now: NOW }), 'schema');
    assertDropped(await inspector.open(bytesOf({ ...sealed, v: 'one' }), { now: NOW }), 'schema');
    assertDropped(await inspector.open(bytesOf({ ...sealed, id: 'x'.repeat(65) }), { now: NOW }), 'schema');
    assertDropped(await inspector.open(bytesOf({ ...sealed, body: [] }), { now: NOW }), 'schema');
    assertDropped(await inspector.open(bytesOf('{"__proto__":{"ok":true}}'), { now: NOW }), 'schema');
  });

  it('schema: a correctly signed body its type\'s schema rejects', async () => {
    const inspector = createEnvelopeInspector();
    const badManifest = { ...manifestOf(a), addrs: Array.from({ length: 33 }, () => '/ip4/1.2.3.4/tcp/1') };
    const env = await signEnvelope(a.key, { v: '2.0', type: 'announce', id: 'announce-0000000001', from: a.id, ts: NOW, body: badManifest });
    const result = await inspector.open(encodeEnvelope(env), { now: NOW });
    assertDropped(result, 'schema');
    assert.match(result.ok ? '' : result.detail, /announce body/);
    const extra = await signEnvelope(a.key, { v: '2.0', type: 'heartbeat', id: 'heartbeat-000000001', from: a.id, ts: NOW, body: { seq: 1, evil: 'x' } });
    assertDropped(await inspector.open(encodeEnvelope(extra), { now: NOW }), 'schema');
  });

  it('unknown_version: a major this node does not read; a newer minor of ours is read', async () => {
    const inspector = createEnvelopeInspector();
    // 1.0 is the broadcast marketplace's version: a scoped (2.0) node does not read it.
    const v1 = await signEnvelope(a.key, { v: '1.0', type: 'heartbeat', id: 'heartbeat-v1-000001', from: a.id, ts: NOW, body: { seq: 1 } });
    assertDropped(await inspector.open(encodeEnvelope(v1), { now: NOW }), 'unknown_version');
    const v2dot3 = await signEnvelope(a.key, { v: '2.3', type: 'heartbeat', id: 'heartbeat-v23-00001', from: a.id, ts: NOW, body: { seq: 1 } });
    assert.equal((await inspector.open(encodeEnvelope(v2dot3), { now: NOW })).ok, true);
  });

  it('unknown_type: a type with no registered body schema', async () => {
    const inspector = createEnvelopeInspector();
    for (const type of ['job_bid', 'constructor', 'hasownproperty']) {
      const env = await signEnvelope(a.key, { v: '2.0', type, id: `unknown-${type}-00000`.slice(0, 20), from: a.id, ts: NOW, body: {} });
      assertDropped(await inspector.open(encodeEnvelope(env), { now: NOW }), 'unknown_type');
    }
  });

  it('wrong_from: from differs from the originator gossipsub reports', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    assertDropped(await createEnvelopeInspector().open(encodeEnvelope(sealed), { now: NOW, propagationFrom: b.id }), 'wrong_from');
  });

  it('stale: ts further than maxSkewMs in the past or the future', async () => {
    const inspector = createEnvelopeInspector();
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    const bytes = encodeEnvelope(sealed);
    assertDropped(await inspector.open(bytes, { now: NOW + SKEW + 1 }), 'stale');
    assertDropped(await inspector.open(bytes, { now: NOW - SKEW - 1 }), 'stale');
    assertDropped(await inspector.open(bytes, { now: Number.NaN }), 'stale');
    assert.equal((await inspector.open(bytes, { now: NOW + SKEW })).ok, true);
  });

  it('stale: a relayed message (maxAgeMs) may be older, never further in the future', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    const bytes = encodeEnvelope(sealed);
    const hour = 3_600_000;
    assert.equal((await createEnvelopeInspector().open(bytes, { now: NOW + hour, maxAgeMs: hour })).ok, true);
    assertDropped(await createEnvelopeInspector().open(bytes, { now: NOW + hour + 1, maxAgeMs: hour }), 'stale');
    assertDropped(await createEnvelopeInspector().open(bytes, { now: NOW - SKEW - 1, maxAgeMs: hour }), 'stale');
    // A window smaller than the skew does not narrow it.
    assert.equal((await createEnvelopeInspector().open(bytes, { now: NOW + SKEW, maxAgeMs: 1 })).ok, true);
  });

  it('bad_signature: body tampered after signing', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    const tampered = { ...sealed, body: { seq: 2 } };
    assertDropped(await createEnvelopeInspector().open(bytesOf(tampered), { now: NOW }), 'bad_signature');
  });

  it('bad_signature: signed by key A while from names peer B', async () => {
    const forged = await signEnvelope(a.key, { v: '2.0', type: 'heartbeat', id: 'forged-0000000000001', from: b.id, ts: NOW, body: { seq: 1 } });
    assertDropped(await createEnvelopeInspector().open(encodeEnvelope(forged), { now: NOW, propagationFrom: b.id }), 'bad_signature');
  });

  it('bad_signature: garbage sig, non-canonical sig, from that is no peer id, unsignable strings', async () => {
    const inspector = createEnvelopeInspector();
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    assertDropped(await inspector.open(bytesOf({ ...sealed, sig: 'A'.repeat(86) }), { now: NOW }), 'bad_signature');
    // 64 bytes take 86 base64url characters; the last one carries 4 unused bits. Flipping one of
    // them decodes to the same signature, but only one spelling is accepted.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = sealed.sig.slice(0, -1) + alphabet[alphabet.indexOf(sealed.sig.at(-1)!) ^ 1];
    assert.deepEqual(Buffer.from(respelled, 'base64url'), Buffer.from(sealed.sig, 'base64url'));
    assertDropped(await inspector.open(bytesOf({ ...sealed, sig: respelled }), { now: NOW }), 'bad_signature');
    assertDropped(await inspector.open(bytesOf({ ...sealed, from: 'QmNotAPeerIdAtAllReally' }), { now: NOW }), 'bad_signature');
    const lone = `{"v":"2.0","type":"announce","id":"lone-surrogate-000001","from":"${a.id}","ts":${NOW},"body":${JSON.stringify(manifestOf(a)).replace('"node-a"', '"\\ud800"')},"sig":"${'A'.repeat(86)}"}`;
    assertDropped(await inspector.open(bytesOf(lone), { now: NOW }), 'bad_signature');
  });

  it('replay: an accepted id from the same sender is dropped the second time', async () => {
    const inspector = createEnvelopeInspector();
    const bytes = encodeEnvelope(await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW }));
    assert.equal((await inspector.open(bytes, { now: NOW })).ok, true);
    assertDropped(await inspector.open(bytes, { now: NOW + 1000 }), 'replay');
  });

  it('replay: of two concurrent copies exactly one is accepted', async () => {
    const inspector = createEnvelopeInspector();
    const bytes = encodeEnvelope(await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW }));
    const results = await Promise.all([inspector.open(bytes, { now: NOW }), inspector.open(bytes, { now: NOW })]);
    assert.deepEqual(results.map((r) => r.ok).sort(), [false, true]);
  });

  it('remembers only ids of accepted envelopes', async () => {
    const inspector = createEnvelopeInspector();
    const bytes = encodeEnvelope(await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW }));
    assertDropped(await inspector.open(bytes, { now: NOW, propagationFrom: b.id }), 'wrong_from');
    assertDropped(await inspector.open(bytes, { now: NOW + SKEW + 1 }), 'stale');
    assert.equal(inspector.rememberedIds, 0);
    assert.equal((await inspector.open(bytes, { now: NOW, propagationFrom: a.id })).ok, true);
    assert.equal(inspector.rememberedIds, 1);
  });

  it('an id reused by another sender does not censor the first sender', async () => {
    const inspector = createEnvelopeInspector();
    const id = 'shared-id-000000000001';
    const fromB = await sealEnvelope(b.key, b.id, 'heartbeat', { seq: 1 }, { now: NOW, id });
    const fromA = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW, id });
    assert.equal((await inspector.open(encodeEnvelope(fromB), { now: NOW })).ok, true);
    assert.equal((await inspector.open(encodeEnvelope(fromA), { now: NOW })).ok, true);
  });

  it('keeps its replay memory bounded and forgets ids once they would be stale anyway', async () => {
    const inspector = createEnvelopeInspector({ replayCapacity: 3 });
    for (let seq = 0; seq < 5; seq++) {
      const env = await sealEnvelope(a.key, a.id, 'heartbeat', { seq }, { now: NOW });
      assert.equal((await inspector.open(encodeEnvelope(env), { now: NOW })).ok, true);
    }
    assert.equal(inspector.rememberedIds, 3);
    const later = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 9 }, { now: NOW + SKEW + 1 });
    assert.equal((await inspector.open(encodeEnvelope(later), { now: NOW + SKEW + 1 })).ok, true);
    assert.equal(inspector.rememberedIds, 1);
  });

  it('rejects nonsensical limits when created', () => {
    assert.throws(() => createEnvelopeInspector({ maxBytes: 0 }), RangeError);
    assert.throws(() => createEnvelopeInspector({ maxSkewMs: Number.NaN }), RangeError);
  });

  it('checks in the documented order: oversize before schema, schema before signature', async () => {
    const sealed = await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW });
    const huge = bytesOf({ ...sealed, pad: 'x'.repeat(300 * 1024) });
    assertDropped(await createEnvelopeInspector().open(huge, { now: NOW }), 'oversize');
    const staleAndForged = { ...sealed, ts: NOW - SKEW - 10, sig: 'A'.repeat(86) };
    assertDropped(await createEnvelopeInspector().open(bytesOf(staleAndForged), { now: NOW }), 'stale');
    const v9AndWrongType = { ...sealed, v: '9.0', type: 'nope' };
    assertDropped(await createEnvelopeInspector().open(bytesOf(v9AndWrongType), { now: NOW }), 'unknown_version');
  });

  it('never throws, even when called with nonsense', async () => {
    const inspector = createEnvelopeInspector();
    const open = inspector.open as (bytes: unknown, ctx: unknown) => Promise<OpenResult>;
    const sealed = encodeEnvelope(await sealEnvelope(a.key, a.id, 'heartbeat', { seq: 1 }, { now: NOW }));
    for (const [bytes, ctx] of [[undefined, undefined], [null, { now: NOW }], [sealed, undefined], [sealed, null], [42, {}]]) {
      const result = await open(bytes, ctx);
      assert.equal(result.ok, false);
      if (!result.ok) assert.ok(DROP_REASONS.includes(result.reason));
    }
  });
});
