// The orchestrator actor under the real supervisor, alone: network and scheduler do not exist,
// so it must decide on fallback figures and say which sources were missing.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { InlineHost, ThreadHost } from '../../src/runtime/host.ts';
import { Supervisor, type ActorEvent } from '../../src/runtime/supervisor.ts';
import { until } from '../helpers/runtime.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { testConfig } from '../helpers/config.ts';
import type { DecisionRecord, RecentDecisions } from '../../src/actors/orchestrator/messages.ts';

const module = fileURLToPath(new URL('../../src/actors/orchestrator/index.ts', import.meta.url));

function start(lines: string[]) {
  const config = testConfig({ orchestrator: { safety: { allowed_actions: ['wait', 'scale_queue', 'migrate_context'] } } });
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const logOptions = { level: 'info' as const, nodeId: 'test', pretty: false };
  const log = createLogger({ ...logOptions, destination });
  const env = { config, clock: systemClock, log, logOptions };
  return new Supervisor({
    strategy: 'one_for_one', intensity: 3, periodMs: 5000,
    children: [{ name: 'orchestrator', module, restart: 'permanent', shutdownMs: 2000, placement: 'inline' }],
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) },
    clock: systemClock, log,
  });
}

describe('orchestrator actor', () => {
  const lines: string[] = [];
  const sup = start(lines);
  after(() => sup.stop());

  it('decides without network or scheduler, on fallback figures, and logs an audit line', async () => {
    const states: string[] = [];
    sup.on('state', (e: ActorEvent) => { if (e.name === 'orchestrator') states.push(e.state!); });
    await sup.start();
    const r = await sup.request<DecisionRecord>('orchestrator', { type: 'orchestrator.decide', decision_type: 'infrastructure' }, 5000);
    // starting → idle ⇄ deciding: the state says a decision is being worked on.
    await until(async () => states.at(-1) === 'idle' && states.includes('deciding'), 5000, `idle after deciding (${states.join(' → ')})`);
    assert.deepEqual(states.slice(states.indexOf('idle')), ['idle', 'deciding', 'idle']);
    assert.equal(r.source, 'heuristic');
    assert.deepEqual(r.metrics_missing.sort(), ['network', 'scheduler']);
    assert.equal(r.metrics.peers, 0);
    assert.equal(r.metrics.queue_capacity, testConfig().executor.max_queue_size);
    assert.equal(r.action, 'wait'); // isolated
    assert.deepEqual([r.verdict, r.outcome], ['accepted', 'executed']);
    assert.equal(r.execution?.detail, 'nothing to change');
    assert.ok(r.latency_ms >= 0 && typeof r.id === 'string');
    const audit = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'Orchestrator decision' && l.id === r.id);
    assert.equal(audit?.outcome, 'executed');
    assert.equal(audit?.audit, 'orchestrator');
  });

  it('uses given metrics, gates by orchestrator.safety, and says when the owner of an action is missing', async () => {
    const metrics = { queue_depth: 90, queue_capacity: 100, cpu: 0.1, mem_free_mb: 4000, peers: 2 };
    const scale = await sup.request<DecisionRecord>('orchestrator', { type: 'orchestrator.decide', decision_type: 'infrastructure', metrics }, 10_000);
    // Accepted, but there is no scheduler to carry it out.
    assert.deepEqual([scale.action, scale.verdict, scale.outcome, scale.params.capacity], ['scale_queue', 'accepted', 'failed', 150]);
    assert.match(scale.outcome_reason!, /scheduler/);
    assert.deepEqual(scale.metrics_missing, []);
    const election = await sup.request<DecisionRecord>('orchestrator',
      { type: 'orchestrator.decide', decision_type: 'infrastructure', context: 'coordinator down', metrics }, 5000);
    assert.deepEqual([election.action, election.verdict, election.outcome], ['start_election', 'refused', 'refused']);
  });

  it('rejects a request with an unknown decision type', async () => {
    await assert.rejects(sup.request('orchestrator', { type: 'orchestrator.decide', decision_type: 'astrology' }, 5000),
      (e: Error) => e.name === 'InvalidDecisionRequestError');
  });

  it('ignores unknown events and lists recent decisions, newest first', async () => {
    sup.send('orchestrator', { type: 'no.such.event' });
    const { decisions } = await sup.request<RecentDecisions>('orchestrator', { type: 'orchestrator.recent' }, 5000);
    assert.deepEqual(decisions.map((d) => d.action), ['start_election', 'scale_queue', 'wait']);
    const one = await sup.request<RecentDecisions>('orchestrator', { type: 'orchestrator.recent', limit: 1 }, 5000);
    assert.equal(one.decisions.length, 1);
  });
});
