// The consensus actor under the real supervisor, alone: without network and scheduler it still
// answers, with a local view of one member (itself).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { InlineHost, ThreadHost } from '../../src/runtime/host.ts';
import { Supervisor } from '../../src/runtime/supervisor.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { testConfig } from '../helpers/config.ts';
import type { Config } from '../../src/config/types.ts';
import type { ConsensusView } from '../../src/actors/consensus/messages.ts';

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

  it('answers consensus.status alone, electing itself in emergent mode', async () => {
    const sup = await started(testConfig({ node: { node_id: 'solo' }, distributed_orchestration: { mode: 'emergent' } }));
    sup.send('consensus', { type: 'no.such.event' });
    const v = await sup.request<ConsensusView>('consensus', { type: 'consensus.refresh' }, 5000);
    assert.equal(v.view, 'local');
    assert.equal(v.mode, 'emergent');
    assert.equal(v.members, 1);
    assert.deepEqual(v.coordinator, { node_id: 'solo' });
    assert.deepEqual(v.sources_missing.sort(), ['network', 'scheduler']);
    assert.ok(v.self_affinity >= 0 && v.self_affinity <= 1);
    const s = await sup.request<ConsensusView>('consensus', { type: 'consensus.status' }, 5000);
    assert.equal(s.updated_at, v.updated_at);
  });

  it('has no coordinator when fully decentralized, and honours a configured permanent one', async () => {
    const dec = await started(testConfig({ distributed_orchestration: { mode: 'fully_decentralized' } }));
    assert.equal((await dec.request<ConsensusView>('consensus', { type: 'consensus.status' }, 5000)).coordinator, undefined);
    const perm = await started(testConfig({ node: { node_id: 'me' }, distributed_orchestration: { mode: 'permanent' } }), { permanent_coordinator: 'elsewhere' });
    const v = await perm.request<ConsensusView>('consensus', { type: 'consensus.refresh' }, 5000);
    assert.equal(v.coordinator, undefined); // the fixed coordinator is not among the members
  });
});
