// Council-scoped heartbeats on the wire: eight full nodes in one process (libp2p's memory
// transport) with a council of three. Once they agree on a coordinator, a member off the council
// heartbeats on the swarm's members topic, which only the coordinator hears; every other node
// hears the council's heartbeats alone, and still knows every peer (by its announces). The
// coordinator keeps hearing the whole membership (a holder hears the members connected to it:
// here all, each node keeping six connections), and nobody loses sight of the council.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { heartbeatTopic } from '../../src/protocol/topics.ts';
import type { ConsensusStatus } from '../../src/actors/consensus/messages.ts';
import type { NetworkStatus } from '../../src/actors/network/messages.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const N = 8;
const COUNCIL = 3;
/** Heartbeat timeout (s): a heartbeat every second. */
const T = 3;
const COUNCIL_TOPIC = heartbeatTopic('swarm', 'council');
const MEMBERS_TOPIC = heartbeatTopic('swarm', 'members');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('council-scoped heartbeats (memory transport)', () => {
  const nodes: MvpNode[] = [];
  after(async () => { await Promise.all(nodes.map((n) => n.stop())); });
  const consensus = () => Promise.all(nodes.map((n) => n.supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 5000)));
  const network = () => Promise.all(nodes.map((n) => n.network()));

  it(`${N} nodes, a council of ${COUNCIL}: off-council heartbeats reach the coordinator only, and everyone still knows everyone`, async (t) => {
    const config = (i: number, boot?: string) => testConfig({
      node: { node_id: `n${i}` },
      network: { bootstrap_peers: boot ? [boot] : [] },
      distributed_orchestration: { heartbeat_timeout_secs: T, council_size: COUNCIL },
    });
    const first = await createNode(config(0), { transport: 'memory' });
    await first.start();
    nodes.push(first);
    const boot = (await first.network()).listen[0]!;
    for (let i = 1; i < N; i++) {
      const n = await createNode(config(i, boot), { transport: 'memory' });
      await n.start();
      nodes.push(n);
    }
    // One coordinator, named by all, with a full council; the members off it speak on the members topic.
    let last = '';
    await until(async () => {
      const [c, s] = await Promise.all([consensus(), network()]);
      last = c.map((x, i) => `${x.coordinator?.node_id ?? '-'}@${x.groups[0]?.epoch}/${x.groups[0]?.electorate ?? (x.groups[0]?.partial ? 'partial' : '-')}:${s[i]!.heartbeat_topics.speaks.includes(MEMBERS_TOPIC) ? 'members' : 'council'}`).join(' ');
      const holder = c[0]!.coordinator?.node_id;
      return holder !== undefined && c.every((x) => x.coordinator?.node_id === holder && x.groups[0]?.electorate === COUNCIL)
        && s.filter((x) => x.heartbeat_topics.speaks.includes(MEMBERS_TOPIC)).length === N - COUNCIL;
    }, 60_000, 'one coordinator and a council of three, the others on the members topic').catch((err: Error) => { throw new Error(`${err.message}; last: ${last}`); });

    const c = await consensus();
    const holder = Number(c[0]!.coordinator!.node_id.slice(1));
    const s0 = await network();
    const off = s0.map((s, i) => ({ s, i })).filter(({ s }) => s.heartbeat_topics.speaks.includes(MEMBERS_TOPIC)).map(({ i }) => i);
    const on = s0.map((_, i) => i).filter((i) => !off.includes(i));
    assert.ok(!off.includes(holder) && on.length === COUNCIL);
    assert.ok(s0[holder]!.heartbeat_topics.hears.includes(MEMBERS_TOPIC), 'the coordinator hears the members topic');
    for (const i of off) assert.deepEqual(s0[i]!.heartbeat_topics.hears, [COUNCIL_TOPIC], `n${i} hears the council topic only`);

    // A window of several heartbeat periods (one per second).
    const WINDOW_S = 6;
    await sleep(WINDOW_S * 1000);
    const [s1, c1] = await Promise.all([network(), consensus()]);
    const got = (i: number, topic: string) => (s1[i]!.deliveries[topic] ?? 0) - (s0[i]!.deliveries[topic] ?? 0);
    const perPeriod = (i: number) => (got(i, COUNCIL_TOPIC) + got(i, MEMBERS_TOPIC)) / WINDOW_S;
    t.diagnostic(`heartbeats per node per period: coordinator ${perPeriod(holder).toFixed(1)}, off the council ${off.map((i) => perPeriod(i).toFixed(1)).join(' ')}`);
    assert.ok(got(holder, MEMBERS_TOPIC) >= (N - COUNCIL) * (WINDOW_S - 2), `the coordinator heard ${got(holder, MEMBERS_TOPIC)} off-council heartbeats in ${WINDOW_S} s`);
    for (const i of off) {
      assert.equal(got(i, MEMBERS_TOPIC), 0, `n${i} received off-council heartbeats`);
      // The two other council members and itself aside, nobody's heartbeat reaches it: at most the
      // council's, one per period each (plus one in flight at each end of the window).
      assert.ok(got(i, COUNCIL_TOPIC) <= COUNCIL * (WINDOW_S + 2), `n${i} received ${got(i, COUNCIL_TOPIC)} heartbeats in ${WINDOW_S} s`);
    }
    // The coordinator still hears everyone; no node lost sight of the council or of any peer.
    assert.equal(c1[holder]!.members, N, 'the coordinator keeps the whole membership');
    const council = new Set(on.map((i) => nodes[i]!.peerId));
    for (const [i, x] of c1.entries()) {
      assert.equal(x.coordinator?.node_id, `n${holder}`);
      for (const p of x.peers) if (council.has(p.peer_id)) assert.equal(p.status, 'alive', `n${i} sees council member ${p.node_id} ${p.status}`);
    }
    const tables = await Promise.all(nodes.map((n) => n.supervisor.request<Array<{ state: string }>>('network', { type: 'network.peers' }, 5000)));
    for (const [i, tbl] of tables.entries()) {
      assert.equal(tbl.length, N - 1, `n${i} knows ${tbl.length} peers`);
      assert.ok(tbl.every((p) => p.state === 'alive'), `n${i} suspects a peer heard by its announces`);
    }
  });
});
