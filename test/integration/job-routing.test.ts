// Job routing in the job path: the light client's pick among the claimants is
// a routing decision — the decision router's heuristic by default, or the router it was given
// (the OpenAI gateway passes its node's consensus actor: test/integration/openai-gateway.test.ts).
// Two real in-process nodes over TCP serve the generated test model.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { LightClient, type JobOptions } from '../../src/client/submit.ts';
import type { RoutingCandidate } from '../../src/actors/consensus/router.ts';
import type { NetworkNode } from '../../src/actors/network/libp2p.ts';
import { JOB_PROTOCOL } from '../../src/jobs/stream.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };
const job: JobOptions = { prompt: 'Hello', maxTokens: 4, temperature: 0, priority: 'normal', timeoutMs: 60_000 };

describe('job routing in the job path', () => {
  const nodes: MvpNode[] = [];
  let boot = '';
  before(async () => {
    for (let i = 0; i < 2; i++) {
      const node = await createNode(testConfig({
        node: loopback, executor: { max_load_per_core: 1000 },
        network: { bootstrap_peers: boot ? [boot] : [] },
      }), { persistIdentity: false, serveModels: true });
      await node.start();
      nodes.push(node);
      boot ||= `${(await node.network()).listen.find((a) => a.startsWith('/ip4/127.0.0.1/'))!}`;
    }
    await until(async () => (await nodes[1]!.network()).peers >= 1, 20_000, 'the nodes to know each other');
  });
  after(async () => { for (const n of nodes) await n.stop(); });

  it('runs the job on the claimant the router picks, having shown it every claim', async () => {
    const seen: RoutingCandidate[][] = [];
    const client = await LightClient.join({
      bootstrap: [boot], timeoutMs: 20_000,
      // Of several claimants, the one the heuristic would not pick first among equals.
      route: async (_job, candidates) => {
        seen.push(candidates);
        const ids = candidates.map((c) => c.peer_id).sort();
        return { executor: ids.at(-1)!, how: 'test router' };
      },
    });
    try {
      await until(async () => client.manifests().length === 2, 20_000, 'both manifests');
      const notes: string[] = [];
      const r = await client.submit({ ...job, onNote: (n) => notes.push(n) });
      const offered = seen.at(-1)!;
      assert.equal(seen.length, 1, 'one routing decision per assignment');
      assert.equal(r.executor, offered.map((c) => c.peer_id).sort().at(-1));
      assert.equal(r.receipt.body.executor, r.executor);
      for (const c of offered) {
        assert.ok(nodes.some((n) => n.peerId === c.peer_id), 'candidates are the claimants');
        assert.equal(typeof c.capacity, 'number');
        assert.equal(typeof c.est_start_ms, 'number');
      }
      assert.ok(notes.some((n) => n.includes(`assigned to ${r.executor}`) && n.includes('test router')), notes.join(' | '));
    } finally {
      await client.close();
    }
  });

  it('a router that fails or names a non-claimant does not hold the job up: the local heuristic picks', async () => {
    for (const route of [
      async () => { throw new Error('consensus actor down'); },
      async () => ({ executor: 'not-a-claimant', how: 'confused' }),
    ]) {
      const client = await LightClient.join({ bootstrap: [boot], timeoutMs: 20_000, route });
      try {
        const notes: string[] = [];
        const r = await client.submit({ ...job, onNote: (n) => notes.push(n) });
        assert.ok(nodes.some((n) => n.peerId === r.executor));
        assert.equal(r.receipt.body.status, 'completed');
        assert.ok(notes.some((n) => n.includes('the router failed')), notes.join(' | '));
      } finally {
        await client.close();
      }
    }
  });

  it('a job goes over the stream opened for it after the previous job on that executor', async () => {
    let target = '';
    const client = await LightClient.join({ bootstrap: [boot], timeoutMs: 20_000, route: async (_job, c) => ({ executor: target || c[0]!.peer_id, how: 'test router' }) });
    // The client's own job streams to the executor, as libp2p lists them.
    const jobStreams = () => (client as unknown as { node: NetworkNode }).node.getConnections()
      .filter((c) => c.remotePeer.toString() === target).flatMap((c) => c.streams.filter((s) => s.protocol === JOB_PROTOCOL && s.status === 'open'));
    try {
      await until(async () => client.manifests().length === 2, 20_000, 'both manifests');
      target = (await client.submit(job)).executor;
      await until(async () => jobStreams().length === 1, 5_000, 'a spare stream to the executor');
      const spare = jobStreams()[0]!.id;
      const r = await client.submit(job);
      assert.equal(r.executor, target);
      assert.equal(r.receipt.body.status, 'completed');
      await until(async () => jobStreams().length === 1 && jobStreams()[0]!.id !== spare, 5_000, 'the spare used, and a new one opened');
    } finally {
      await client.close();
    }
  });
});
