// Distributed orchestration across five real `mvp-node` processes on loopback TCP,
// emergent mode, heartbeat_timeout_secs T = 3:
// (a) all agree on one coordinator; kill -9 it; every survivor marks it suspect, and all agree
//     on another one with a higher epoch (goal: within T + 2 s of the kill);
// (b) restart it, then cut the five into 3 | 2 with each node's peer block list (connection
//     gating): each side sees the other dead, the side of two knows it is a minority and takes
//     no decision (its epoch stands still) while the side of three elects; unblock → all five
//     converge on one record, the higher epoch's.
// Every status polled feeds the one-holder-per-epoch check. Measured times go to the test's
// diagnostics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { agreement, emergentToml, liveness, ProcCluster, settled, type Member } from '../helpers/cluster.ts';
import type { OrchestrationBody } from '../../src/actors/api/messages.ts';

const T = 3;
const IDS = ['p0', 'p1', 'p2', 'p3', 'p4'];

describe('orchestration across real processes', () => {
  const cluster = new ProcCluster(emergentToml(T));
  before(async () => { await cluster.start(IDS); });
  after(async () => { await cluster.stop(); });

  it('(a) a coordinator killed -9 is suspected, then replaced by one agreed by all survivors (goal T + 2 s)', async (t) => {
    const all = cluster.live();
    const first = await cluster.watch(all, 60_000, 'all five to agree on one coordinator', settled(all));
    const { victim, survivors, next, agreedMs, suspectMs, deadMs } = await cluster.killCoordinator(first);
    const ms = (m: Map<string, number>) => survivors.map((x) => Math.round(m.get(x.id) ?? NaN)).join(' / ');
    t.diagnostic(`killed ${victim.id} (epoch ${first.epoch}); suspected after ${ms(suspectMs)} ms, dead after ${ms(deadMs)} ms; ${next.coordinator!.node_id} agreed by all ${survivors.length} survivors at epoch ${next.epoch} after ${Math.round(agreedMs)} ms (goal ${(T + 2) * 1000} ms)`);

    assert.notEqual(next.coordinator!.peer_id, victim.peerId);
    // The goal (T + 2 s) is reported above; the bound asserted is twice it, which holds on a
    // loaded 2-core machine (measured 3.2–4.6 s at load 6–16).
    assert.ok(agreedMs <= 2 * (T + 2) * 1000, `a new coordinator was agreed after ${Math.round(agreedMs)} ms, beyond 2 × (T + 2 s)`);
    for (const m of survivors) {
      assert.ok(suspectMs.has(m.id), `${m.id} never marked ${victim.id} suspect`);
      assert.ok(suspectMs.get(m.id)! < agreedMs, `${m.id} suspected ${victim.id} only when the new coordinator was agreed`);
      assert.ok(!deadMs.has(m.id) || suspectMs.get(m.id)! < deadMs.get(m.id)!, `${m.id} marked ${victim.id} dead without suspecting it first`);
    }
    assert.deepEqual(cluster.holders.conflicts, []);

    await cluster.spawn(victim.id);
  });

  it('(b) a 3 | 2 partition by connection gating: both sides detect it, only the majority decides; healed, all converge on the higher epoch', async (t) => {
    const all = cluster.live();
    const before = await cluster.watch(all, 60_000, 'all five, the restarted one included, to agree again', settled(all));
    // The coordinator on the minority side: the majority must replace it, and the heal must undo the minority's stale record.
    const holder = cluster.byPeer(before.coordinator!.peer_id)!;
    const minority = [holder, all.find((m) => m !== holder)!];
    const majority = all.filter((m) => !minority.includes(m));
    const across = (m: Member) => (minority.includes(m) ? majority : minority);
    const stale: string[] = [];
    let detectedMs: number | undefined;
    let minorityMs: number | undefined;

    const t0 = performance.now();
    await Promise.all(all.map((m) => cluster.block(m, across(m))));
    const cut = await cluster.watch(all, 30_000, 'both sides to detect the partition, the majority to elect', (ss) => {
      const maj = ss.filter((s) => majority.some((m) => m.peerId === s.self!.peer_id));
      const a = agreement(maj, majority);
      const done = detectedMs !== undefined && minorityMs !== undefined && a && a.epoch > before.epoch
        && maj.every((s) => s.partition.state !== 'minority');
      return done ? { ...a, at: performance.now() - t0 } : undefined;
    }, (ss) => {
      const now = performance.now() - t0;
      const byPeer = (s: OrchestrationBody) => all.find((m) => m.peerId === s.self!.peer_id)!;
      if (detectedMs === undefined && ss.every((s) => across(byPeer(s)).every((o) => ['dead', 'gone'].includes(liveness(s, o.peerId))))) detectedMs = now;
      const min = ss.filter((s) => minority.includes(byPeer(s)));
      if (minorityMs === undefined && min.every((s) => s.partition.state === 'minority')) minorityMs = now;
      for (const s of min) if (s.epoch !== before.epoch || s.lineage !== before.lineage) stale.push(`${s.self!.node_id} moved to epoch ${s.epoch}`);
    });
    // The minority keeps refusing for a while (3 s more): no claim of its own can win there.
    const holdUntil = performance.now() + 3000;
    await cluster.watch(minority, 10_000, 'the minority to stay put', () => (performance.now() > holdUntil ? true : undefined), (ss) => {
      for (const s of ss) {
        if (s.partition.state !== 'minority') stale.push(`${s.self!.node_id} left the minority state while cut`);
        if (s.epoch !== before.epoch || s.lineage !== before.lineage) stale.push(`${s.self!.node_id} moved to epoch ${s.epoch} while cut`);
      }
    });
    assert.deepEqual(stale, [], 'the minority side took no quorum decision while cut');

    const t1 = performance.now();
    await Promise.all(all.map((m) => cluster.block(m, across(m), true)));
    const healed = await cluster.watch(all, 30_000, 'all five to converge after the heal', settled(all));
    const convergedMs = performance.now() - t1;
    // Each node's own measure: from hearing a dead peer again to every member reporting its record (by heartbeat, so later).
    const reported = await cluster.watch(all, 15_000, 'every node to report its convergence after the heal',
      (ss) => (ss.every((s) => s.partition.last_heal?.converged_after_ms !== undefined) ? ss.map((s) => s.partition.last_heal!.converged_after_ms!) : undefined));
    t.diagnostic(`cut ${minority.map((m) => m.id).join('+')} | ${majority.map((m) => m.id).join('+')} at epoch ${before.epoch}: every node saw every node across dead after ${Math.round(detectedMs!)} ms; minority knew it after ${Math.round(minorityMs!)} ms; majority agreed on ${cut.coordinator!.node_id} at epoch ${cut.epoch} after ${Math.round(cut.at)} ms`);
    t.diagnostic(`healed: all five agreed on ${healed.coordinator!.node_id} at epoch ${healed.epoch} after ${Math.round(convergedMs)} ms (nodes' own converged_after_ms: ${reported.join(' / ')})`);

    assert.ok(healed.epoch >= cut.epoch, `converged on epoch ${healed.epoch}, below the majority's ${cut.epoch}`);
    assert.equal(healed.lineage, cut.lineage);
    assert.deepEqual(cluster.holders.conflicts, []);
  });
});
