// The peer table's liveness states: silent past half the timeout a peer is suspect (reported
// once), heard again it is alive, silent past the timeout it is expired. Pure: times are given.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PeerTable } from '../../src/actors/network/peer-table.ts';

const T = 6000;
const ids = (entries: Array<{ peerId: string }>) => entries.map((e) => e.peerId).sort();

describe('peer table liveness', () => {
  it('a silent peer is suspected once past half the timeout, then expired past the timeout', () => {
    const t = new PeerTable(T);
    t.heard('quiet', 0);
    t.heard('chatty', 0);
    assert.deepEqual(t.sweep(T / 2), { suspected: [], recovered: [], expired: [] }, 'silent for exactly half: still alive');
    t.heard('chatty', T / 2);
    const first = t.sweep(T / 2 + 1);
    assert.deepEqual(ids(first.suspected), ['quiet']);
    assert.equal(t.state(t.get('quiet')!, T / 2 + 1), 'suspect');
    assert.equal(t.state(t.get('chatty')!, T / 2 + 1), 'alive');
    assert.deepEqual(t.sweep(T - 1), { suspected: [], recovered: [], expired: [] }, 'reported once, not at every sweep');
    assert.deepEqual(t.sweep(T), { suspected: [], recovered: [], expired: [] }, 'silent for exactly the timeout: not yet expired');
    const last = t.sweep(T + 1);
    assert.deepEqual(ids(last.expired), ['quiet']);
    assert.equal(t.get('quiet'), undefined);
    assert.deepEqual(ids(t.entries()), ['chatty']);
  });

  it('a suspect peer heard again is alive, and can be suspected again later', () => {
    const t = new PeerTable(T);
    t.heard('p', 0);
    assert.deepEqual(ids(t.sweep(4000).suspected), ['p']);
    t.heard('p', 4500);
    assert.equal(t.state(t.get('p')!, 4600), 'alive');
    const back = t.sweep(4600);
    assert.deepEqual([ids(back.recovered), back.suspected, back.expired], [['p'], [], []]);
    assert.deepEqual(t.sweep(5000), { suspected: [], recovered: [], expired: [] });
    assert.deepEqual(ids(t.sweep(4500 + T / 2 + 1).suspected), ['p'], 'suspected again after another half timeout of silence');
    assert.deepEqual(ids(t.sweep(4500 + T + 1).expired), ['p']);
  });

  it('a message stamped earlier than the latest one does not age the peer', () => {
    const t = new PeerTable(T);
    t.heard('p', 5000);
    t.heard('p', 1000);
    assert.equal(t.get('p')!.lastSeen, 5000);
    assert.deepEqual(t.sweep(5000 + T).expired, [], 'silent for the timeout counted from the latest message');
  });

  it('a peer first found silent past the timeout is suspected first, and expired at the next sweep', () => {
    const t = new PeerTable(T);
    t.heard('p', 0);
    const s = t.sweep(T + 1);
    assert.deepEqual([ids(s.suspected), s.expired], [['p'], []]);
    assert.deepEqual(ids(t.sweep(T + 2).expired), ['p']);
  });
  it('a peer whose heartbeats do not reach this node (off its councils) is timed by the pace of its announces', () => {
    const A = 10_000;
    const t = new PeerTable(T, 3 * A);
    t.heard('beating', 0);
    t.heard('announcing', 0);
    assert.equal(t.timeoutOf('announcing'), T, 'until the consensus actor says otherwise, every peer heartbeats here');
    t.setHears(new Set(['beating']), 0);
    assert.equal(t.quietMs('beating'), T / 3);
    assert.equal(t.quietMs('announcing'), 12_000, 'pinged once it missed an announce');
    assert.deepEqual(ids(t.sweep(T / 2 + 1).suspected), ['beating']);
    assert.deepEqual(ids(t.sweep(T + 1).expired), ['beating'], 'a silent peer that heartbeats here expires after the heartbeat timeout');
    // Announced every A: never suspect although silent past T between announces.
    for (let now = A; now <= 5 * A; now += A) {
      assert.deepEqual(t.sweep(now - 1), { suspected: [], recovered: [], expired: [] }, `quiet ${A - 1} ms before an announce`);
      t.heard('announcing', now);
    }
    assert.deepEqual(ids(t.sweep(5 * A + 1.5 * A + 1).suspected), ['announcing'], 'suspect past half its pace');
    assert.deepEqual(ids(t.sweep(5 * A + 3 * A + 1).expired), ['announcing'], 'expired past its pace');
    t.setHears(undefined, 8 * A);
    assert.equal(t.timeoutOf('announcing'), T);
  });

  it('a peer that leaves the heard set after it fell silent keeps the heartbeat timeout until heard again', () => {
    const t = new PeerTable(T, 30_000);
    t.heard('dead', 0);
    t.heard('moved', 0);
    t.heard('moved', 2000);
    // The consensus actor drops 'dead' (silent past T/2) and 'moved' (off the council, heard 1.5 s ago).
    t.setHears(new Set(), 3500);
    assert.equal(t.timeoutOf('dead'), T, 'silent already: not given the announce pace');
    assert.equal(t.timeoutOf('moved'), 30_000, 'heard lately: now heard by its announces');
    t.sweep(T / 2 + 1);
    assert.deepEqual(ids(t.sweep(T + 1).expired), ['dead'], 'expired after the heartbeat timeout, as if still heard');
    t.heard('moved', 20_000);
    t.setHears(new Set(), 26_000);
    assert.equal(t.timeoutOf('moved'), 30_000, 'a peer already off the heard set is not pinned by a later update');
    t.setHears(new Set(['p']), 0);
    t.heard('p', 0);
    t.setHears(new Set(), 4000);
    assert.equal(t.timeoutOf('p'), T);
    t.heard('p', 5000);
    assert.equal(t.timeoutOf('p'), 30_000, 'heard again: unpinned');
  });
});
