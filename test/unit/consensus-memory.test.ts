// Distributed orchestration across full in-process nodes (createNode, memory transport, real
// actors and real gossip): a coordinator emerges and everyone agrees; stopping it gets another,
// agreed by every survivor with a higher epoch, within heartbeat_timeout_secs + 2 s (the
// goal; asserted within twice that); a consensus decision passes across the nodes; the Health check carries the fields.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';
import type { ConsensusStatus } from '../../src/actors/consensus/messages.ts';
import type { DistributedDecision } from '../../src/actors/consensus/router.ts';

const HEARTBEAT_TIMEOUT_SECS = 3;
const N = 5;

const status = (n: MvpNode) => n.supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 2000);

/** The swarm record every listed node holds, if they all hold the same one with a coordinator. */
async function agreed(nodes: readonly MvpNode[]): Promise<ConsensusStatus | undefined> {
  const all = await Promise.all(nodes.map(status));
  const first = all[0]!;
  if (!first.coordinator || first.epoch === 0) return undefined;
  const same = all.every((s) => s.epoch === first.epoch && s.lineage === first.lineage && s.coordinator?.peer_id === first.coordinator!.peer_id);
  const coordinatorAmong = nodes.some((n) => n.peerId === first.coordinator!.peer_id);
  return same && coordinatorAmong ? first : undefined;
}

describe('distributed orchestration across in-process nodes', () => {
  const nodes: MvpNode[] = [];
  const stopped = new Set<MvpNode>();
  after(async () => { await Promise.all(nodes.filter((n) => !stopped.has(n)).map((n) => n.stop())); });
  const live = () => nodes.filter((n) => !stopped.has(n));

  it(`${N} nodes: a coordinator emerges and all agree on it`, async () => {
    const cfg = (i: number, bootstrap: string[]) => testConfig({
      node: { node_id: `d${i}` }, network: { bootstrap_peers: bootstrap },
      distributed_orchestration: { heartbeat_timeout_secs: HEARTBEAT_TIMEOUT_SECS, consensus_timeout_ms: 2000 },
    });
    const first = await createNode(cfg(0, []), { transport: 'memory' });
    await first.start();
    nodes.push(first);
    const seed = (await first.network()).listen[0]!;
    for (let i = 1; i < N; i++) {
      const n = await createNode(cfg(i, [seed]), { transport: 'memory' });
      await n.start();
      nodes.push(n);
    }
    let s: ConsensusStatus | undefined;
    await until(async () => {
      s = await agreed(nodes);
      return s !== undefined && s.members === N && s.groups[0]!.electorate === N;
    }, 40_000, 'every node to agree on one coordinator whose electorate is all of them');
    assert.equal(s!.mode, 'emergent');
    assert.equal(s!.partition.state, 'ok');
    const h = await nodes[1]!.health();
    assert.equal(h.orchestration?.mode, 'emergent');
    assert.equal(h.orchestration?.coordinator, s!.coordinator!.node_id);
    assert.equal(h.orchestration?.epoch, s!.epoch);
    assert.deepEqual(h.orchestration?.groups.map((g) => g.group), ['swarm']);
    assert.deepEqual(h.dropped, {}, 'no orchestration message was dropped by any inspector');
  });

  it('a critical decision passes by consensus across the nodes', async () => {
    const d = await nodes[2]!.supervisor.request<DistributedDecision>('consensus', {
      type: 'consensus.decide', decision_type: 'infrastructure',
      context: { is_critical: true, job_value: 1, complexity_score: 0.2, description: 'high CPU usage, queue full' },
    }, 30_000);
    assert.equal(d.path, 'consensus');
    assert.equal(d.consensus?.outcome, 'accepted', JSON.stringify(d.consensus));
    assert.ok(d.consensus!.respondents >= d.consensus!.quorum);
    assert.ok(d.consensus!.share >= d.consensus!.threshold);
    assert.equal(d.strategy_used, 'heuristic');
    assert.ok(d.latency_ms >= 0);
    // The outcome reached the others (gossiped once, kept once).
    await until(async () => {
      const all = await Promise.all(nodes.map(status));
      return all.every((s) => s.consensus.outcomes_known >= 1);
    }, 10_000, 'every node to know the outcome');
    const mine = await status(nodes[2]!);
    assert.equal(mine.consensus.counts.accepted, 1);
    assert.equal(mine.router.by_path.consensus, 1);
  });

  it('a killed consensus actor restarts from its ledger and rejoins the agreement', async () => {
    const before = (await agreed(nodes))!;
    const victim = nodes.find((n) => n.peerId !== before.coordinator!.peer_id)!;
    await victim.supervisor.kill('consensus');
    await until(async () => {
      const s = await agreed(nodes);
      const v = await status(victim);
      return s !== undefined && v.self !== null && v.epoch >= before.epoch && s.members === N;
    }, 20_000, 'the restarted actor to agree with the others again');
    const after = (await agreed(nodes))!;
    assert.equal(after.lineage, before.lineage, 'same lineage: its ledger was read back, it founded nothing');
  });

  it(`stopping the coordinator: another is agreed by every survivor (goal ${HEARTBEAT_TIMEOUT_SECS} + 2 s), with a higher epoch`, async (t) => {
    const before = (await agreed(nodes))!;
    const coordinator = nodes.find((n) => n.peerId === before.coordinator!.peer_id)!;
    const suspects: number[] = [];
    const t0 = Date.now();
    await coordinator.stop();
    stopped.add(coordinator);
    let after: ConsensusStatus | undefined;
    // The goal is T + 2 s; the bound asserted is twice it (polling adds at most its 100 ms
    // period), which holds on a loaded 2-core machine. The time taken is reported.
    const goalMs = (HEARTBEAT_TIMEOUT_SECS + 2) * 1000;
    const boundMs = 2 * goalMs + 100;
    await until(async () => {
      const all = await Promise.all(live().map(status));
      for (const s of all) {
        const p = s.peers.find((x) => x.peer_id === before.coordinator!.peer_id);
        if (p && p.status !== 'alive' && suspects.length < all.length) suspects.push(Date.now() - t0);
      }
      after = await agreed(live());
      return after !== undefined && after.epoch > before.epoch;
    }, boundMs, 'the survivors to agree on a new coordinator').catch(async (err: Error) => {
      const all = await Promise.all(live().map(status));
      throw new Error(`${err.message}: ${JSON.stringify(all.map((s) => ({ self: s.self?.node_id, epoch: s.epoch, coordinator: s.coordinator?.node_id, group: s.groups[0], partition: s.partition })))}`);
    });
    const took = Date.now() - t0;
    assert.notEqual(after!.coordinator!.peer_id, before.coordinator!.peer_id);
    assert.ok(after!.epoch > before.epoch);
    t.diagnostic(`a new coordinator agreed after ${took} ms (goal ${goalMs} ms)`);
    assert.ok(took <= boundMs, `took ${took} ms`);
    assert.ok(suspects.length > 0 && Math.min(...suspects) < took, 'peers suspected it before it was replaced');
  });
});
