// Chaos scenario: the coordinator killed, again and again. Five real `mvp-node`
// processes in emergent mode (heartbeat_timeout_secs T = 3); the agreed coordinator is killed
// -9 four times: once and restarted, twice back to back (five down to three: still a majority
// of every electorate) and both restarted, once more. While this goes on every live node's
// GET /orchestration is polled about ten times a second, and every (group, lineage, epoch) →
// holder any node reports is recorded: no epoch may ever have two holders. The report gives,
// per kill, when all survivors had marked the victim suspect, when the first marked it dead, and
// when all of them agreed on its successor (the goal is T + 2 s).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { emergentToml, ProcCluster, settled, sleep, type Failover } from '../helpers/cluster.ts';
import type { OrchestrationBody } from '../../src/actors/api/messages.ts';
import { record } from './report.ts';

const T = 3;
const IDS = ['k0', 'k1', 'k2', 'k3', 'k4'];

describe('chaos: coordinator killed', () => {
  const cluster = new ProcCluster(emergentToml(T));
  let polling = true;
  let background: Promise<void> = Promise.resolve();
  before(async () => {
    await cluster.start(IDS);
    background = (async () => {
      while (polling) {
        await cluster.poll(cluster.live());
        await sleep(100);
      }
    })();
  });
  after(async () => {
    polling = false;
    await background;
    await cluster.stop();
  });

  let kills = 0;
  const settle = () => cluster.watch(cluster.live(), 60_000, `all ${cluster.live().length} nodes to agree`, settled(cluster.live()));
  const s1 = (ms: number) => Math.round(ms / 100) / 10;
  function report(f: Failover, before: OrchestrationBody): void {
    const dead = [...f.deadMs.values()];
    record('coordinator killed', {
      kill: ++kills,
      nodes: f.survivors.length + 1,
      victim: f.victim.id,
      epoch_before: before.epoch,
      successor: f.next.coordinator!.node_id,
      epoch_after: f.next.epoch,
      all_suspect_s: f.suspectMs.size === f.survivors.length ? s1(Math.max(...f.suspectMs.values())) : null,
      // A candidate claims once it sees the holder dead, and voters grant while they see it suspect:
      // the agreement may come before every survivor has marked the victim dead.
      first_dead_s: dead.length > 0 ? s1(Math.min(...dead)) : null,
      agreed_s: s1(f.agreedMs),
      goal_s: T + 2,
      within_goal: f.agreedMs <= (T + 2) * 1000,
    });
  }

  it('a new coordinator is agreed after each kill, and no epoch ever has two holders', async () => {
    // One kill, restarted.
    let current = await settle();
    let f = await cluster.killCoordinator(current);
    report(f, current);
    await cluster.spawn(f.victim.id);

    // Two kills back to back: the successor is killed as soon as all survivors agree on it.
    current = await settle();
    f = await cluster.killCoordinator(current);
    report(f, current);
    const first = f.victim.id;
    const g = await cluster.killCoordinator(f.next);
    report(g, f.next);
    assert.equal(cluster.live().length, 3);
    await Promise.all([cluster.spawn(first), cluster.spawn(g.victim.id)]);

    // One more, from five.
    current = await settle();
    f = await cluster.killCoordinator(current);
    report(f, current);
    await settle();

    const { holders } = cluster;
    record('coordinator killed', {
      kill: 'all', nodes: IDS.length, statuses_polled: holders.statuses, epochs_seen: holders.holders.size, epochs_with_two_holders: holders.conflicts.length,
    });
    assert.deepEqual(holders.conflicts, [], 'an epoch had two holders');
    assert.ok(holders.statuses > 100, `only ${holders.statuses} statuses were polled`);
  });
});
