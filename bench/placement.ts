// Placement and orchestration measured in the virtual-time simulator.
// 1. The same workload (Poisson arrivals, exponential sizes, heterogeneous nodes) placed by the
//    response-threshold model, random, round-robin, power-of-two-choices and an omniscient
//    join-the-shortest-expected-wait, at load 0.5 / 0.8 / 0.95 on 500 nodes.
// 2. At 10 000 nodes: the threshold model's placement, and the default scenario on 10 000
//    OrchestrationCores (heartbeats scoped to the council) — time, memory, elections, messages.
// 3. Clusters of OrchestrationCores: consensus decision latency on 5, 50, 500 nodes; election
//    time after the coordinator is killed; partition detection and heal convergence.
// Everything in virtual time, deterministic from the seed.
//
//   npm run bench:placement                 # all of it (10–15 minutes on 2 cores)
//   npm run bench:placement -- --quick      # fewer jobs, clusters up to 50 nodes
import { comparePlacements, generateWorkload, runPlacement, type ComparisonRow } from '../src/sim/placement.ts';
import { defaultScenario, SIM_CORE_CONFIG, simulate, type Scenario } from '../src/sim/cluster.ts';

const quick = process.argv.includes('--quick');
/** --only=placement|scale|clusters runs one part. */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const part = (name: string) => only === undefined || only === name;
const seed = Number(process.env.SEED ?? 1);
const JOBS = quick ? 10_000 : 40_000;
const pad = (s: unknown, n: number) => String(s).padStart(n);

function table(rows: ComparisonRow[]): void {
  console.log(`| policy | mean ms | p99 ms | mean / omniscient | p99 / omniscient | utilisation CV | messages / job |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  for (const r of rows) console.log(`| ${r.policy} | ${r.mean_ms} | ${r.p99_ms} | ${r.mean_x.toFixed(2)}× | ${r.p99_x.toFixed(2)}× | ${r.util_cv.toFixed(3)} | ${r.messages_per_job} |`);
}

if (part('placement')) {
console.log(`# Placement, 500 nodes, ${JOBS} jobs, seed ${seed} (2·log₂500 = ${(2 * Math.log2(500)).toFixed(1)} messages)`);
for (const load of [0.5, 0.8, 0.95]) {
  const t0 = performance.now();
  const rows = comparePlacements({ nodes: 500, seed, load, jobs: JOBS });
  const w = generateWorkload({ nodes: 500, seed, load, jobs: JOBS });
  const omni = rows[0]!;
  const jp = runPlacement(w, 'threshold', { rank: 'job_path' });
  rows.push({ ...jp, policy: 'threshold (job-path ranking)' as never, mean_x: Math.round((jp.mean_ms / omni.mean_ms) * 100) / 100, p99_x: Math.round((jp.p99_ms / omni.p99_ms) * 100) / 100 });
  console.log(`\n## load ${load} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  table(rows);
}

console.log('\n# Threshold at load 0.8, 500 nodes, other seeds');
for (const s of [2, 3, 4, 5]) {
  const rows = comparePlacements({ nodes: 500, seed: s, load: 0.8, jobs: JOBS }, {}, ['omniscient', 'threshold', 'power_of_two']);
  console.log(`seed ${s}: ${rows.map((r) => `${r.policy} ${r.mean_x.toFixed(2)}× (p99 ${r.p99_x.toFixed(2)}×, ${r.messages_per_job} msg)`).join('; ')}`);
}

}

if (part('scale')) {
  const N = 10_000;
  const jobs = quick ? 50_000 : 200_000;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const w = generateWorkload({ nodes: N, seed, load: 0.8, jobs });
  const rows = (['threshold', 'power_of_two', 'random'] as const).map((p) => runPlacement(w, p));
  const ms = performance.now() - t0;
  console.log(`\n# 10 000 nodes, load 0.8, ${jobs} jobs: ${(ms / 1000).toFixed(1)} s for three policies, heap +${((process.memoryUsage().heapUsed - heap0) / 1e6).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  for (const r of rows) console.log(`${r.policy}: mean ${r.mean_ms} ms, p99 ${r.p99_ms} ms, utilisation CV ${r.util_cv}, ${r.messages_per_job} messages/job (2·log₂N = ${(2 * Math.log2(N)).toFixed(1)})`);

  const c0 = performance.now();
  const r = simulate(defaultScenario(N, seed));
  const cms = performance.now() - c0;
  const hb = r.messages.by_type.heartbeat ?? 0;
  console.log(`\n# 10 000 OrchestrationCores, default scenario (${r.virtual_ms / 1000} s virtual): ${(cms / 1000).toFixed(1)} s wall, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB, ${r.events} events`);
  console.log(`messages: ${r.messages.delivered} delivered (${Object.entries(r.messages.by_type).map(([k, v]) => `${k} ${v}`).join(', ')}); heartbeats per node per period: ${(hb / N / (r.virtual_ms / (SIM_CORE_CONFIG.heartbeat_timeout_ms / 3))).toFixed(1)}`);
  console.log(`jobs: ${r.jobs.submitted} submitted, ${r.jobs.completed} completed, ${r.jobs.lost} lost, mean ${r.jobs.mean_ms} ms, ${r.jobs.messages_per_job} messages/job; decisions ${r.decisions.accepted}/${r.decisions.proposed} accepted, p50 ${r.decisions.p50_ms} ms, p99 ${r.decisions.p99_ms} ms`);
  console.log(`elections: ${r.elections.map((e) => `${e.killed} killed at ${e.at_ms / 1000} s → agreed after ${e.agreed_after_ms ?? 'never'} ms`).join('; ')}; partitions: ${r.partitions.map((p) => `detected after ${p.detected_after_ms ?? 'never'} ms, converged ${p.converged_after_ms ?? 'never'} ms after heal`).join('; ')}; invariants ${r.invariants.ok ? 'ok' : r.invariants.violations.join(' / ')}`);
}

if (part('clusters')) {
console.log('\n# Clusters of OrchestrationCores (heartbeat timeout 3 s, consensus_timeout 1 s)');
console.log('| nodes | virtual s | wall s | decisions accepted | p50 ms | p90 ms | p99 ms | election after coordinator kill ms | partition detected ms | converged after heal ms | invariants |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const n of process.env.CLUSTER_SIZES ? process.env.CLUSTER_SIZES.split(',').map(Number) : quick ? [5, 50] : [5, 50, 500]) {
  const sc: Scenario = { ...defaultScenario(n, seed), decision_rate: 2 };
  const t0 = performance.now();
  const r = simulate(sc);
  const wall = (performance.now() - t0) / 1000;
  const e = r.elections[0];
  const p = r.partitions[0];
  console.log(`| ${n} | ${r.virtual_ms / 1000} | ${wall.toFixed(1)} | ${r.decisions.accepted}/${r.decisions.proposed} | ${r.decisions.p50_ms} | ${r.decisions.p90_ms} | ${r.decisions.p99_ms} | ${e?.agreed_after_ms ?? '—'} | ${p?.detected_after_ms ?? '—'} | ${p?.converged_after_ms ?? '—'} | ${r.invariants.ok ? 'ok' : r.invariants.violations.length + ' violated'} |`);
}
}
void pad;
