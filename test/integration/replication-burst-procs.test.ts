// Demand-driven replication between five real `mvp-node` processes over TCP, on the generated
// tiny test model: one node serves model m, every node runs one job at a time
// (`[model] sequences = 1`, so capacity is slot-bound). A burst of jobs for m through the
// /v1 gateways of the other nodes makes m's queue wait climb past `replicate_wait_secs`; the
// coordinator of m (the one node serving it) gets the swarm's consent and asks a volunteer to
// pull and load m, which then serves jobs too. Once the burst ends and the wait stays below
// `unreplicate_wait_secs`, the replica added for demand unloads and m is back on one node.
// The intervals are shortened through the config (heartbeat 1 s, band 1 s / 0.3 s held 2 s);
// the time until a second node serves m is printed, never asserted beyond a generous bound.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import type { ModelsBody } from '../../src/actors/api/models.ts';
import type { OrchestrationBody } from '../../src/actors/api/messages.ts';
import { writeTestModel } from '../../src/models/index.ts';
import { hashModelFile } from '../../src/models/merkle.ts';
import { tmpDir } from '../helpers/config.ts';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { until } from '../helpers/runtime.ts';

const IDS = ['a', 'b', 'c', 'd', 'e'];

describe('demand-driven replication between five processes: a burst brings a second replica, its end takes it away', () => {
  const dir = tmpDir();
  const nodes = new Map<string, NodeProcess>();
  let sha = '';
  const on = (id: string) => ['--data-dir', dir, '--node-id', id];
  const apiOf = (id: string) => (JSON.parse(readFileSync(join(dir, id, 'api.json'), 'utf8')) as { url: string }).url;
  const getJson = async <T>(id: string, path: string): Promise<T> => (await (await fetch(`${apiOf(id)}${path}`)).json()) as T;
  const models = async (id: string) => {
    const r = await runCli(['models', 'list', ...on(id), '--json'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ModelsBody;
  };
  /** The nodes whose own model list serves m now. */
  const servers = async () => {
    const out: string[] = [];
    for (const id of IDS) if ((await getJson<ModelsBody>(id, '/models')).loaded.some((m) => m.sha256 === sha)) out.push(id);
    return out;
  };

  before(async () => {
    const model = (await writeTestModel({ preset: 'tiny', out: join(dir, 'm.gguf'), seed: 41 })).path;
    sha = (await hashModelFile(model)).sha256;
    writeFileSync(join(dir, 'node.toml'), stringify({
      model: { sequences: 1 },
      // The machine running the tests may be loaded: claims must not wait for an idle host.
      executor: { max_queue_size: 500, max_load_per_core: 1000 },
      // More rounds: a proposal's stimulus doubles each round, so the swarm answers even when busy.
      distributed_orchestration: { heartbeat_timeout_secs: 3, max_consensus_rounds: 6 },
      models: { replicate_wait_secs: 1, unreplicate_wait_secs: 0.3, replicate_after_secs: 2, replicate_count: 1, min_replicas: 1 },
    }));
    nodes.set('a', spawnNode(['-c', join(dir, 'node.toml'), ...on('a'), '--port', '0', '--model', model]));
    const boot = `/ip4/127.0.0.1/tcp/${await listenPort(nodes.get('a')!)}`;
    for (const id of IDS.slice(1)) nodes.set(id, spawnNode(['-c', join(dir, 'node.toml'), ...on(id), '--port', '0', '--bootstrap', boot]));
    for (const n of nodes.values()) await n.waitFor((l) => l.msg.startsWith('API listening on'), 120_000, 'the API');
    for (const id of IDS.slice(1)) await until(async () => (await models(id)).swarm.some((m) => m.sha256 === sha), 60_000, `${id} to learn of m`);
    await until(async () => {
      const peers = await getJson<Array<{ node_id?: string; state: string }>>('a', '/peers');
      return IDS.slice(1).every((id) => peers.some((p) => p.node_id === id && p.state === 'alive'));
    }, 60_000, 'a to know every peer');
    assert.deepEqual(await servers(), ['a'], 'm starts on a alone');
  });
  after(async () => { await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL'))); });

  it('a second node serves m within a bounded time of the burst, runs its jobs, and unloads it once the burst is over', async () => {
    // The burst: 12 jobs in flight at all times, through the gateways of b–e in turn.
    let stop = false;
    let sent = 0;
    let ok = 0;
    const failures: string[] = [];
    const one = async (i: number) => {
      const via = IDS[1 + (i % 4)]!;
      const res = await fetch(`${apiOf(via)}/v1/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', prompt: `Count to ten, take ${i}`, max_tokens: 600, temperature: 0 }),
      });
      if (res.ok) ok++;
      else failures.push(`${res.status} ${(await res.text()).slice(0, 200)}`);
    };
    const lane = async () => { while (!stop) await one(sent++).catch((err: Error) => { failures.push(err.message); }); };
    const started = Date.now();
    const lanes = Array.from({ length: 12 }, lane);
    let second = '';
    try {
      await until(async () => {
        const s = await servers();
        second = s.find((id) => id !== 'a') ?? '';
        return second !== '';
      }, 150_000, 'a second node to serve m').catch(async (err: Error) => {
        // What the coordinator saw and did, for the failure's message.
        const lines = nodes.get('a')!.lines.filter((l) => /Replicat|replica|Model request|consensus|Decision/i.test(l.msg)).slice(-12);
        const repl = (await getJson<OrchestrationBody>('a', '/orchestration')).moves?.replication;
        throw new Error(`${err.message}; ${sent} jobs sent, ${ok} ok, failures: ${failures.slice(0, 2).join(' | ')}; a's replication: ${JSON.stringify(repl)}; `
          + `a's log: ${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      });
      const servedAfter = Date.now() - started;
      process.stderr.write(`replication: a second node (${second}) served m ${servedAfter} ms after the burst began (${sent} jobs sent so far)\n`);
      // The replica takes its share of the burst.
      const executedBy = async (id: string) => (await getJson<Array<{ model: string; status: string }>>(id, '/jobs?limit=200'))
        .filter((j) => j.model === 'm' && j.status === 'completed').length;
      await until(async () => (await executedBy(second)) > 0, 60_000, `${second} to run jobs for m`);
    } finally {
      stop = true;
      await Promise.all(lanes);
    }
    assert.ok(ok > 0, `jobs completed: ${ok} of ${sent}; failures: ${failures.slice(0, 3).join(' | ')}`);

    const orch = await getJson<OrchestrationBody>(second, '/orchestration');
    const loaded = orch.moves!.requests.find((r) => r.sha256 === sha && r.reason === 'replicate');
    assert.equal(loaded?.state, 'loaded', JSON.stringify(orch.moves));

    // The burst is over: the wait falls under the band's lower bound and the replica unloads.
    const ended = Date.now();
    await until(async () => (await servers()).length === 1, 120_000, 'the replica to unload').catch(async (err: Error) => {
      const repl = await Promise.all(['a', second].map(async (id) => [id, (await getJson<OrchestrationBody>(id, '/orchestration')).moves] as const));
      const lines = [...nodes.get('a')!.lines, ...nodes.get(second)!.lines].filter((l) => /Replicat|replica|Model request|Demand/i.test(l.msg)).slice(-10);
      throw new Error(`${err.message}; servers ${JSON.stringify(await servers())}; moves: ${JSON.stringify(repl)}; log: ${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    });
    process.stderr.write(`replication: the replica unloaded ${Date.now() - ended} ms after the burst ended\n`);
    assert.deepEqual(await servers(), ['a'], 'the original copy stays (never below min_replicas = 1)');
    const released = (await getJson<OrchestrationBody>(second, '/orchestration')).moves!.requests.find((r) => r.sha256 === sha && r.reason === 'release');
    assert.equal(released?.state, 'released', JSON.stringify(released));
  });
});
