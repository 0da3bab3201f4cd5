// The /orchestrator HTTP routes of a node (in-process, TCP, real fastify): bodies, status codes
// and error codes, and what a node without an orchestrator answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { DecisionRecord } from '../../src/actors/orchestrator/messages.ts';
import type { TrainingRecord } from '../../src/actors/orchestrator/training.ts';
import { testConfig } from '../helpers/config.ts';

async function start(enabled: boolean): Promise<{ node: MvpNode; url: string }> {
  const node = await createNode(testConfig({ node: { listen_port: 0 }, orchestrator: { enabled, safety: { require_confirmation_above: 0.7 } } }), { serveModels: false });
  await node.start();
  const url = await node.supervisor.request<string>('api', { type: 'api.url' }, 2000);
  return { node, url };
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, text, body: text && res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

describe('orchestrator HTTP routes', () => {
  let on: { node: MvpNode; url: string };
  let off: { node: MvpNode; url: string };
  before(async () => { on = await start(true); off = await start(false); });
  after(async () => { await on?.node.stop(); await off?.node.stop(); });

  it('POST /orchestrator/decision decides; metrics in the body are used as given', async () => {
    const metrics = { queue_depth: 90, queue_capacity: 100, cpu: 0.1, mem_free_mb: 4000, peers: 2 };
    const r = await call(on.url, 'POST', '/orchestrator/decision', { context: 'queue nearly full', decision_type: 'infrastructure', metrics });
    assert.equal(r.status, 200);
    const d = r.body as DecisionRecord;
    assert.deepEqual([d.action, d.outcome, d.metrics], ['scale_queue', 'held', metrics]);
    const got = await call(on.url, 'GET', `/orchestrator/decisions/${d.id}`);
    assert.equal((got.body as DecisionRecord).id, d.id);
    const confirmed = await call(on.url, 'POST', `/orchestrator/decisions/${d.id}/confirm`);
    assert.equal((confirmed.body as DecisionRecord).outcome, 'executed');
    const twice = await call(on.url, 'POST', `/orchestrator/decisions/${d.id}/reject`, {});
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'decision_not_held');
    const empty = await call(on.url, 'POST', '/orchestrator/decision', {});
    assert.equal(empty.status, 200, 'every field is optional');
  });

  it('answers 400 for a body it cannot use and 404 for an unknown decision', async () => {
    const bad = await call(on.url, 'POST', '/orchestrator/decision', { decision_type: 'astrology' });
    assert.equal(bad.status, 400);
    const noText = await call(on.url, 'POST', '/orchestrator/ask', {});
    assert.equal(noText.status, 400);
    const badMetrics = await call(on.url, 'POST', '/orchestrator/decision', { metrics: { queue_depth: 'many' } });
    assert.equal(badMetrics.status, 400);
    const unknown = await call(on.url, 'POST', '/orchestrator/decisions/d-nope/confirm');
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'unknown_decision']);
    const format = await call(on.url, 'GET', '/orchestrator/export?format=csv');
    assert.equal(format.status, 400);
  });

  it('POST /orchestrator/ask interprets and runs; GET metrics, status, decisions, export answer', async () => {
    const a = await call(on.url, 'POST', '/orchestrator/ask', { text: 'what can you do?' });
    assert.equal(a.body.interpretation.intent, 'help');
    assert.equal((await call(on.url, 'GET', '/orchestrator/metrics')).body.ask.total, 1);
    assert.equal((await call(on.url, 'GET', '/orchestrator/status')).body.enabled, true);
    assert.equal((await call(on.url, 'GET', '/orchestrator/decisions?limit=1')).body.decisions.length, 1);
    const e = await call(on.url, 'GET', '/orchestrator/export?format=chat');
    assert.equal(e.status, 200);
    assert.match(e.type, /^application\/x-ndjson/);
    // Every decision is exported right away, its outcome pending (measured 60 s later by default).
    const decisions = (await call(on.url, 'GET', '/orchestrator/decisions')).body.decisions as DecisionRecord[];
    const j = await call(on.url, 'GET', '/orchestrator/export?format=jsonl');
    const records = j.text.trim().split('\n').map((l) => JSON.parse(l) as TrainingRecord);
    assert.equal(j.headers.get('x-records'), String(decisions.length));
    assert.deepEqual(records.map((r) => r.id).sort(), decisions.map((d) => d.id).sort());
    assert.ok(records.every((r) => r.outcome.pending === true));
    // A confirmed decision's record says so at once.
    assert.ok(records.some((r) => r.final === 'executed' && r.safety.verdict === 'held'));
  });

  it('a node without an orchestrator says so: status { enabled: false }, other routes 503', async () => {
    assert.deepEqual((await call(off.url, 'GET', '/orchestrator/status')).body, { enabled: false });
    const d = await call(off.url, 'POST', '/orchestrator/decision', {});
    assert.deepEqual([d.status, d.body.code], [503, 'unavailable']);
    assert.match(d.body.message, /orchestrator\.enabled = false/);
  });
});
