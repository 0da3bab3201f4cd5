// The network and consensus actors' statecharts, as GET /actors shows them: a node alone is
// `joining` and its consensus actor founds the swarm's lineage (`coordinator`); a second node
// makes both `online`, one coordinating and the other a `member`; once the second stops, the
// first is `isolated` and, its side holding one vote of two, a `minority`. In-process nodes
// over the memory transport.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';
import type { ConsensusStatus } from '../../src/actors/consensus/messages.ts';

const nodes: MvpNode[] = [];
async function node(id: string, bootstrap: string[] = []) {
  const n = await createNode(testConfig({
    node: { node_id: id }, network: { bootstrap_peers: bootstrap }, distributed_orchestration: { heartbeat_timeout_secs: 3 },
  }), { transport: 'memory' });
  await n.start();
  nodes.push(n);
  return n;
}
const stateOf = (n: MvpNode, actor: string) => n.supervisor.actors().find((a) => a.name === actor)?.state;
const waitState = (n: MvpNode, actor: string, want: readonly string[], ms = 30_000) =>
  until(async () => want.includes(stateOf(n, actor) ?? ''), ms, `${n.nodeId}'s ${actor} actor to be ${want.join(' or ')} (it is ${stateOf(n, actor)})`);

describe('network and consensus statecharts', () => {
  after(async () => { await Promise.all(nodes.map((n) => n.stop())); });

  it('joining → online → isolated, and coordinator / member → minority, as peers come and go', async () => {
    const a = await node('a');
    await waitState(a, 'network', ['joining']);
    assert.equal(stateOf(a, 'network'), 'joining', 'alone, no peer connected yet');
    await waitState(a, 'consensus', ['coordinator']);

    const b = await node('b', [(await a.network()).listen[0]!]);
    await waitState(a, 'network', ['online']);
    await waitState(b, 'network', ['online']);
    // Both vote once the holder has re-elected itself with the newcomer in the electorate.
    await until(async () => (await a.supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 5000))
      .groups.find((g) => g.group === 'swarm')?.electorate === 2, 30_000, 'a two-member electorate');
    await waitState(b, 'consensus', ['member', 'coordinator']);
    const roles = [stateOf(a, 'consensus'), stateOf(b, 'consensus')].sort();
    assert.ok(roles.includes('coordinator'), `one of them coordinates: ${roles.join(', ')}`);

    await b.stop();
    nodes.splice(nodes.indexOf(b), 1);
    await waitState(a, 'network', ['isolated']);
    await waitState(a, 'consensus', ['minority']);
  });
});
