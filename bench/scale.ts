// How gossip deliveries grow with the network: N complete nodes in this process (createNode
// over the libp2p memory transport, lean settings), the first SERVING of them serving the
// generated test model, a light client submitting JOBS real jobs to it. For each N and each
// offer scope — 'broadcast' (protocol 1.0: every offer, claim, assignment and heartbeat to
// every node) and 'scoped' (2.0: offers on the model's offer shard, to its holders only;
// heartbeats on the council topics) — each in a process of its own, it prints:
//   per_node_per_period  gossip messages handed to a node per heartbeat period while idle
//                        (heartbeats, announces, orchestration), the mean over nodes
//   median_node_per_period, max_node_per_period  the same, the median node and the busiest
//                        (under 2.0 heartbeats are council-scoped: the busiest is a holder)
//   hb_per_node_per_period  heartbeats alone, the median node (announces are every
//                        announce_interval_secs, turned down here to 600 s)
//   council              the swarm council's size at the end of the idle window, as node 0 holds it
//                        (at most council_size; smaller while the holder has not yet refilled it)
//   per_job_all_nodes    offers, claims and assignments handed to all nodes together per job
//                        (receipts are DHT records, not gossip)
//   offer_topic_non_holders  the same at the nodes that do not serve the model, all jobs (0 when scoped)
//
//   npm run bench:scale               # N = 20 50 100 200
//   npm run bench:scale -- 20 50      # chosen sizes
//   BENCH_COUNCIL=15 npm run bench:scale -- 50   # another council_size
// Numbers measured on a loaded machine are not final; the shape (what grows with N) is.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createNode, type MvpNode } from '../src/node/create-node.ts';
import { LightClient } from '../src/client/submit.ts';
import { HEARTBEAT_TOPIC_PREFIX, TOPICS, parseOfferTopic, WORK_TOPIC } from '../src/protocol/topics.ts';
import { testConfig } from '../test/helpers/config.ts';
import { median, r1 } from './stats.ts';
import type { ConsensusStatus } from '../src/actors/consensus/messages.ts';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 1);
if (sizes.length === 0) sizes.push(20, 50, 100, 200);
const SERVING = Number(process.env.BENCH_SERVING ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 5);
/** Heartbeat timeout (s): a heartbeat every third of it. Lean: the default is shorter. */
const HB_TIMEOUT_S = Number(process.env.BENCH_HB_TIMEOUT_S ?? 15);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 3 * (HB_TIMEOUT_S * 1000) / 3);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function retry<T>(fn: () => Promise<T>, tries = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try { return await fn(); } catch (err) { if (i >= tries) throw err; await sleep(200); }
  }
}

type Counts = Array<Record<string, number>>;
const snapshot = async (nodes: MvpNode[]): Promise<Counts> => Promise.all(nodes.map((n) => n.network().then((s) => ({ ...s.deliveries }), () => ({}))));
const total = (r: Record<string, number>, pick: (t: string) => boolean = () => true) => Object.entries(r).filter(([t]) => pick(t)).reduce((a, [, v]) => a + v, 0);
const diff = (a: Counts, b: Counts, i: number, pick?: (t: string) => boolean) => total(b[i]!, pick) - total(a[i]!, pick);
const isOffer = (t: string) => t === WORK_TOPIC || parseOfferTopic(t) !== undefined;
/** Heartbeat topics: the council-scoped ones (2.0); the announce topic carries 1.0's (and announces, turned down here). */
const isHeartbeat = (t: string) => t.startsWith(HEARTBEAT_TOPIC_PREFIX) || t === TOPICS.announce;
/** Council size, if not the default (31). */
const COUNCIL = process.env.BENCH_COUNCIL ? Number(process.env.BENCH_COUNCIL) : undefined;

async function run(n: number, scope: 'broadcast' | 'scoped') {
  const nodes: MvpNode[] = [];
  const addrs: string[] = [];
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < n; i++) {
    const boot = addrs.length ? [addrs[Math.floor(Math.random() * addrs.length)]!] : [];
    const node = await createNode(testConfig({
      node: { node_id: `scale-${i}` },
      network: { bootstrap_peers: boot, announce_interval_secs: 600, offer_scope: scope },
      executor: { max_load_per_core: 1000 },
      distributed_orchestration: { heartbeat_timeout_secs: HB_TIMEOUT_S, ...(COUNCIL ? { council_size: COUNCIL } : {}) },
      monitoring: { log_level: 'error' },
    }), { transport: 'memory', serveModels: i < SERVING, persistIdentity: false });
    await node.start();
    nodes.push(node);
    addrs.push((await retry(() => node.network())).listen[0]!);
  }
  // Let manifests spread and the mesh settle.
  await sleep(Math.max(5000, HB_TIMEOUT_S * 1000 / 3));
  const hbPeriodMs = (await nodes[0]!.network()).heartbeat_ms;
  const a = await snapshot(nodes);
  await sleep(IDLE_MS);
  const b = await snapshot(nodes);
  const periods = IDLE_MS / hbPeriodMs;
  const idle = nodes.map((_, i) => diff(a, b, i));
  const perNodePerPeriod = idle.reduce((x, y) => x + y, 0) / n / periods;
  const heartbeats = nodes.map((_, i) => diff(a, b, i, isHeartbeat) / periods);
  const council = await nodes[0]!.supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 10_000).then((c) => c.council.length, () => NaN);

  const client = await LightClient.join({ bootstrap: [addrs[n - 1]!], timeoutMs: 60_000, transport: 'memory' });
  const c = await snapshot(nodes);
  let ok = 0;
  for (let j = 0; j < JOBS; j++) {
    await client.submit({ prompt: `scale job ${j}`, maxTokens: 4, temperature: 0, seed: j, priority: 'normal', timeoutMs: 120_000 })
      .then(() => { ok++; }, (err: Error) => console.error(`job ${j}: ${err.message}`));
  }
  await sleep(1000); // the last receipts' gossip
  const d = await snapshot(nodes);
  await client.close();
  const offers = nodes.reduce((x, _, i) => x + diff(c, d, i, isOffer), 0);
  const offersAtNonHolders = nodes.slice(SERVING).reduce((x, _, i) => x + diff(c, d, i + SERVING, isOffer), 0);
  const result = {
    nodes: n, scope, jobs_ok: `${ok}/${JOBS}`,
    heartbeat_ms: hbPeriodMs,
    per_node_per_period: +perNodePerPeriod.toFixed(1),
    median_node_per_period: r1(median(idle.map((x) => x / periods))),
    max_node_per_period: r1(Math.max(...idle) / periods),
    hb_per_node_per_period: r1(median(heartbeats)),
    council,
    per_job_all_nodes: r1(offers / Math.max(1, ok)),
    offer_topic_non_holders: offersAtNonHolders,
    rss_per_node_mb: +((process.memoryUsage().rss - rss0) / n / 2 ** 20).toFixed(1),
  };
  console.log(JSON.stringify(result));
  await Promise.all(nodes.map((x) => x.stop().catch(() => undefined)));
  return result;
}

// Each (N, scope) in a process of its own: stopping N nodes leaves work behind (closing
// streams, timers winding down) that would load the next run's start.
const one = process.env.BENCH_SCALE_ONE?.split(':');
if (one) {
  await run(Number(one[0]), one[1] as 'broadcast' | 'scoped');
  process.exit(0);
}
const results: unknown[] = [];
for (const n of sizes) {
  for (const scope of ['broadcast', 'scoped'] as const) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_SCALE_ONE: `${n}:${scope}` }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20,
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith('{"nodes"'));
    if (line) { console.log(line); results.push(JSON.parse(line)); } else console.error(`N = ${n}, ${scope}: no result (exit ${child.status})`);
  }
}
console.table(results);
