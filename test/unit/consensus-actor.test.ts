// The consensus actor under the real supervisor, alone: without network and scheduler it still
// answers (it cannot know who it is, so it takes part in nothing yet), and refuses decisions.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { InlineHost, ThreadHost } from '../../src/runtime/host.ts';
import { Supervisor } from '../../src/runtime/supervisor.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { testConfig } from '../helpers/config.ts';
import type { Config } from '../../src/config/types.ts';
import type { ConsensusStatus } from '../../src/actors/consensus/messages.ts';

const module = fileURLToPath(new URL('../../src/actors/consensus/index.ts', import.meta.url));

function supervise(config: Config, args?: unknown) {
  const logOptions = { level: 'silent' as const, nodeId: 'test', pretty: false };
  const log = createLogger(logOptions);
  const env = { config, clock: systemClock, log, logOptions };
  return new Supervisor({
    strategy: 'one_for_one', intensity: 3, periodMs: 5000,
    children: [{ name: 'consensus', module, restart: 'permanent', shutdownMs: 2000, placement: 'inline', args }],
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) },
    clock: systemClock, log,
  });
}

describe('consensus actor', () => {
  const sups: Supervisor[] = [];
  after(() => Promise.all(sups.map((s) => s.stop())));
  const started = async (config: Config, args?: unknown) => { const s = supervise(config, args); sups.push(s); await s.start(); return s; };

  it('answers consensus.status and refresh alone, saying which sources are missing', async () => {
    const sup = await started(testConfig({ node: { node_id: 'solo' }, distributed_orchestration: { mode: 'emergent' } }));
    sup.send('consensus', { type: 'no.such.event' });
    const v = await sup.request<ConsensusStatus>('consensus', { type: 'consensus.refresh' }, 5000);
    assert.equal(v.enabled, true);
    assert.equal(v.mode, 'emergent');
    assert.equal(v.self, null, 'without a network it does not know its peer id');
    assert.equal(v.coordinator, null);
    assert.equal(v.epoch, 0);
    assert.deepEqual(v.sources_missing.sort(), ['network', 'scheduler']);
    const s = await sup.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 5000);
    assert.equal(s.mode, 'emergent');
  });

  it('refuses a consensus decision it cannot take, and a disabled one answers its status', async () => {
    const sup = await started(testConfig({ distributed_orchestration: { mode: 'fully_decentralized' } }));
    await assert.rejects(
      sup.request('consensus', { type: 'consensus.decide', decision_type: 'infrastructure', context: { is_critical: true } }, 5000),
      { name: 'ConsensusUnavailableError' },
    );
    await assert.rejects(sup.request('consensus', { type: 'consensus.decide', decision_type: 'nonsense' }, 5000), { name: 'ConsensusUnavailableError' });
    const off = await started(testConfig({ distributed_orchestration: { enabled: false } }));
    const s = await off.request<ConsensusStatus>('consensus', { type: 'consensus.refresh' }, 5000);
    assert.equal(s.enabled, false);
  });

  it('takes local decisions without a network: heuristic, counted with their latency', async () => {
    const sup = await started(testConfig({ distributed_orchestration: { mode: 'emergent' } }));
    const d = await sup.request<{ strategy_used: string; path: string; latency_ms: number; decision: { choice: string } }>('consensus', {
      type: 'consensus.decide', decision_type: 'job_routing',
      context: { job_value: 1, complexity_score: 0.1, candidates: [{ peer_id: 'a'.repeat(20), capacity: 1, est_start_ms: 400 }, { peer_id: 'b'.repeat(20), capacity: 3, est_start_ms: 0 }] },
    }, 5000);
    assert.equal(d.strategy_used, 'heuristic');
    assert.equal(d.path, 'local');
    assert.equal(d.decision.choice, 'b'.repeat(20));
    assert.ok(d.latency_ms >= 0);
    const s = await sup.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 5000);
    assert.equal(s.router.by_strategy.heuristic.count, 1);
    const r = await sup.request<{ decisions: unknown[] }>('consensus', { type: 'consensus.recent', limit: 5 }, 5000);
    assert.equal(r.decisions.length, 1);
  });
});
