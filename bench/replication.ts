// Replication policies compared in the virtual-time simulator (src/sim/replication.ts): 1 000
// nodes with one slot each and room for two models, 20 models served by one node each at first,
// a base demand and bursts on three models; the transfer (1 GiB at 100 MiB/s per source, up to
// 3 sources) and the load time (3 s) of every new replica are modelled. Policies: none,
// demand-driven (the node's own policy, with k = 1 and k = 4 volunteers per step), and replicate
// everywhere. Deterministic from the seed; no wall-clock figure in it but the run time.
//
//   npm run bench:replication            # seeds 1–3
//   SEED=7 npm run bench:replication     # one seed
import { compareReplication, defaultReplicationScenario, runReplication, type ReplicationResult } from '../src/sim/replication.ts';

const seeds = process.env.SEED ? [Number(process.env.SEED)] : [1, 2, 3];
const s = (ms: number) => (ms / 1000).toFixed(1);
const row = (label: string, r: ReplicationResult) =>
  console.log(`| ${label} | ${r.jobs} | ${s(r.mean_wait_ms)} | ${s(r.p95_wait_ms)} | ${s(r.p99_wait_ms)} | ${s(r.burst_mean_wait_ms)} | ${r.moved_gib} | ${r.replicas_added} / ${r.replicas_dropped} | ${r.first_extra_ms.map((t) => (t === null ? '—' : s(t))).join(', ')} | ${r.peak_replicas.join(', ')} | ${r.replicas_end} |`);

for (const seed of seeds) {
  const sc = defaultReplicationScenario({ seed });
  const t0 = performance.now();
  const [none, demand, everywhere] = compareReplication(sc);
  const k4 = runReplication({ ...sc, k: 4 }, 'demand');
  console.log(`\n## ${sc.nodes} nodes, ${sc.models} models, ${sc.duration_ms / 60_000} min, seed ${seed} `
    + `(high ${s(sc.high_ms)} s, low ${s(sc.low_ms)} s, after ${s(sc.after_ms)} s; ${((performance.now() - t0) / 1000).toFixed(1)} s to run)`);
  console.log('| policy | jobs | mean wait s | p95 s | p99 s | burst mean s | moved GiB | replicas added / dropped | 2nd replica after s | peak replicas | replicas at end |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  row('none', none!);
  row('demand, k = 1', demand!);
  row('demand, k = 4', k4);
  row('everywhere', everywhere!);
  console.log(`mean wait: demand (k = 1) ${(none!.mean_wait_ms / Math.max(1, demand!.mean_wait_ms)).toFixed(1)}× lower than none, moving ${(everywhere!.moved_gib / Math.max(0.01, demand!.moved_gib)).toFixed(0)}× less than everywhere`);
}
