// How many full nodes fit in one process, and how fast they learn each other.
// Starts N nodes (complete supervision trees, libp2p over the memory transport), each joining
// through a random earlier node, then measures the time until 99 % of all (node, peer) pairs
// know each other's signed manifest, and the memory per node.
//
//   node --import tsx --import ./src/polyfill.ts bench/network-convergence.ts 100 500 1000
//   npm run bench:network -- 100 500
import { createNode, type MvpNode } from '../src/node/create-node.ts';
import { testConfig } from '../test/helpers/config.ts';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 1);
if (sizes.length === 0) sizes.push(100, 500);
const TARGET = 0.99;
/** How long to wait for convergence after the last node has started. */
const LIMIT_MS = Number(process.env.BENCH_LIMIT_MS ?? 600_000);

async function retry<T>(fn: () => Promise<T>, tries = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try { return await fn(); } catch (err) { if (i >= tries) throw err; }
  }
}

async function run(n: number) {
  const nodes: MvpNode[] = [];
  const addrs: string[] = [];
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  // Periodic announces and heartbeats are delivered to every node: N nodes publishing every
  // few seconds cost N² deliveries per period, which past ~50 nodes is more than the one core
  // the whole in-process network shares (see BENCHMARKS.md). Convergence comes from manifest
  // sync, so the benchmark turns the periodic chatter down (BENCH_CHATTER_SECS).
  const interval = Number(process.env.BENCH_CHATTER_SECS ?? 3600);
  for (let i = 0; i < n; i++) {
    const boot = addrs.length ? [addrs[Math.floor(Math.random() * addrs.length)]!] : [];
    const node = await createNode(testConfig({
      node: { node_id: `sim-${i}` },
      network: { bootstrap_peers: boot, announce_interval_secs: interval },
      distributed_orchestration: { heartbeat_timeout_secs: interval * 3 },
      monitoring: { log_level: 'error' },
    }), { transport: 'memory' });
    await node.start();
    nodes.push(node);
    addrs.push((await retry(() => node.network())).listen[0]!);
    if ((i + 1) % 50 === 0) console.error(`started ${i + 1}/${n} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const started = performance.now();
  const want = n * (n - 1);
  let known = 0;
  let unanswered = 0;
  let converged: number | undefined;
  while (performance.now() - started < LIMIT_MS) {
    // A node too busy to answer within the request timeout counts as knowing nobody: reported
    // as `unanswered`, so a slow measurement is not mistaken for slow convergence.
    const ks = await Promise.all(nodes.map((x) => x.network().then((s) => s.known, () => -1)));
    unanswered = ks.filter((k) => k < 0).length;
    known = ks.reduce((a, b) => a + Math.max(0, b), 0);
    if (known >= TARGET * want) { converged = performance.now(); break; }
    await new Promise((r) => setTimeout(r, 500));
  }
  const rss = process.memoryUsage().rss;
  const result = {
    nodes: n,
    start_s: +((started - t0) / 1000).toFixed(1),
    converge_after_last_start_s: converged ? +((converged - started) / 1000).toFixed(1) : null,
    total_s: converged ? +((converged - t0) / 1000).toFixed(1) : null,
    known_pct: +((100 * known) / want).toFixed(2),
    unanswered,
    rss_per_node_mb: +((rss - rss0) / n / 2 ** 20).toFixed(1),
    announce_interval_s: interval,
  };
  console.log(JSON.stringify(result)); // before the (long) shutdown of every node
  for (const x of nodes) await x.stop().catch(() => undefined);
  return result;
}

const results = [];
for (const n of sizes) results.push(await run(n));
console.table(results);
process.exit(0);
