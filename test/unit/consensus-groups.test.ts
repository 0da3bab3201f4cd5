// Context groups and failure detection: which groups a node joins,
// when a group coordinates, and how peers go alive → suspect → dead and back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { chooseGroups, isActive, SWARM } from '../../src/actors/consensus/groups.ts';
import { LivenessTable } from '../../src/liveness/table.ts';
import { OrchBus } from '../helpers/orch-bus.ts';

describe('failure detection', () => {
  it('suspects after half the timeout, declares dead after the timeout, revives on a message, forgets later', () => {
    const t = new LivenessTable(3000);
    t.heard('p', 0);
    assert.deepEqual(t.update(1500), []);
    assert.deepEqual(t.update(1501).map((x) => [x.from, x.to]), [['alive', 'suspect']]);
    assert.deepEqual(t.update(3001).map((x) => [x.from, x.to, x.silentMs]), [['suspect', 'dead', 3001]]);
    assert.equal(t.get('p')?.deadAt, 3001);
    const back = t.heard('p', 5000)!;
    assert.deepEqual([back.from, back.to, back.silentMs], ['dead', 'alive', 5000]);
    t.update(5000 + 3001);
    t.update(5000 + 30_001);
    assert.equal(t.get('p'), undefined, 'forgotten after ten timeouts dead');
    assert.equal(t.status('p'), 'dead');
  });

  it('never jumps a peer back up without a message, and always passes through suspect', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 30 }), (gaps) => {
      const t = new LivenessTable(3000);
      let now = 0;
      t.heard('p', now);
      let last = 'alive';
      for (const g of gaps) {
        now += g;
        for (const x of t.update(now)) {
          assert.equal(x.from, last);
          assert.ok((x.from === 'alive' && x.to === 'suspect') || (x.from === 'suspect' && x.to === 'dead'), `${x.from} → ${x.to}`);
          last = x.to;
        }
      }
    }));
  });
});

describe('context groups', () => {
  it('every node is in the swarm; model groups in name order up to max_groups_per_node', () => {
    assert.deepEqual(chooseGroups([], 3), [SWARM]);
    assert.deepEqual(chooseGroups(['b', 'a', 'c', 'd', 'a'], 2), [SWARM, 'model:a', 'model:b']);
    assert.equal(chooseGroups(Array.from({ length: 40 }, (_, i) => `m${i}`), 100).length, 16, 'what a heartbeat can list');
  });

  it('a model group coordinates only with min_nodes_per_group live members; the swarm always', () => {
    assert.equal(isActive('model:a', 1, 2), false);
    assert.equal(isActive('model:a', 2, 2), true);
    assert.equal(isActive(SWARM, 1, 5), true);
  });

  it('groups form from heartbeats: each model group gets its own coordinator among its members, and decisions fall back to the swarm below the minimum', () => {
    // Nodes 0–2 serve m1, nodes 2–4 serve m2, node 5 serves m3 alone.
    const models = (i: number) => [...(i <= 2 ? ['m1'] : []), ...(i >= 2 && i <= 4 ? ['m2'] : []), ...(i === 5 ? ['m3'] : [])];
    const bus = new OrchBus({ nodes: 6, seed: 11, models });
    bus.run(15_000);
    const m1 = bus.views('model:m1').filter((v, i) => v && i <= 2);
    assert.equal(new Set(m1.map((v) => v!.holder)).size, 1, 'm1 members agree');
    assert.ok([0, 1, 2].map((i) => bus.nodes[i]!.id).includes(m1[0]!.holder!), 'm1 is coordinated by one of its members');
    const m2 = bus.views('model:m2').filter((v, i) => v && i >= 2 && i <= 4);
    assert.equal(new Set(m2.map((v) => v!.holder)).size, 1, 'm2 members agree');
    assert.ok([2, 3, 4].map((i) => bus.nodes[i]!.id).includes(m2[0]!.holder!));
    assert.equal(bus.core(2).groupsStatus().map((g) => g.group).join(','), 'swarm,model:m1,model:m2');
    assert.equal(bus.core(0).groupStatus('model:m1').electorate, 3);
    const lone = bus.core(5).groupStatus('model:m3');
    assert.equal(lone.active, false);
    assert.equal(lone.epoch, 0, 'one member below min_nodes_per_group: no election');
    assert.equal(bus.core(5).decisionGroup('m3'), SWARM);
    assert.equal(bus.core(0).decisionGroup('m1'), 'model:m1');
    assert.ok(bus.agreed(SWARM));
    assert.deepEqual(bus.violations, []);
  });
});
