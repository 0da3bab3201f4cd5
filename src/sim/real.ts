// Real-node mode of the simulator (`simulate` without --virtual): N complete
// nodes in this process (createNode over the libp2p memory transport: supervisor, every actor,
// real gossip, real timers), a scenario's kills applied through the nodes themselves (stop a
// node, kill its consensus actor), critical decisions asked of random live nodes, real jobs
// (real-jobs.ts: a light client, the generated test model on the first SERVING_NODES nodes),
// and the invariants checked from the nodes' own status: one coordinator per (lineage, epoch),
// the survivors agreeing on a live successor after a kill, decisions decided once, no job lost,
// no job with two receipts.
//
// Partitions go through connection gating (src/actors/network/memory-gate.ts): connections across
// the cut are refused and aborted, and redialled at heal. Delay and loss shape gossip there too
// (a message arrives late, or never); the job and sync streams are not shaped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'smol-toml';
import { loadConfig } from '../config/index.ts';
import type { ConsensusStatus } from '../actors/consensus/messages.ts';
import type { DistributedDecision } from '../actors/consensus/router.ts';
import { createNode, type MvpNode } from '../node/create-node.ts';
import { writeTestModel } from '../models/index.ts';
import { RealJobWorkload, type RealJobsReport } from './real-jobs.ts';
import { memoryGate } from '../actors/network/memory-gate.ts';
import type { Scenario } from './cluster.ts';
import { quantile, round } from './placement.ts';
import { requestEvents } from '../runtime/runner.ts';
import { WORK_TOPIC, parseOfferTopic } from '../protocol/topics.ts';

export interface RealReport {
  scenario: string;
  mode: 'real';
  nodes: number;
  seed: number;
  wall_ms: number;
  started_after_ms: number;
  first_agreement_ms?: number;
  decisions: { asked: number; accepted: number; other: number; failed: number; p50_ms: number; p90_ms: number; p99_ms: number };
  elections: Array<{ killed: string; at_ms: number; agreed_after_ms?: number }>;
  partitions: Array<{ at_ms: number; detected_after_ms?: number; healed_at_ms?: number; converged_after_ms?: number }>;
  skipped_faults: string[];
  jobs?: RealJobsReport;
  invariants: { ok: boolean; violations: string[] };
  /**
   * What the run cost: the process's memory and CPU divided among its nodes (they share one
   * process), and gossip messages handed to each node per second of the run.
   */
  resources: {
    rss_mb: number; rss_per_node_mb: number; heap_used_mb: number; cpu_s: number; cpu_per_node_s: number;
    deliveries_per_node_per_s: { mean: number; max: number };
  };
  /** Requests between actors that timed out or were cut by a stop (events of a loaded run, not failures). */
  request_events: { timed_out: number; cut_by_stop: number; start_retries: number };
  per_node: Array<{ node: string; up: boolean; epoch: number; coordinator?: string; partition: string; peers_alive: number; deliveries?: number; offer_deliveries?: number }>;
}

/** Nodes that serve the generated test model (node-llama-cpp in each: a few suffice on 2 cores). */
export const SERVING_NODES = 3;

/** Attempts at starting one node before the run gives up. */
const START_TRIES = 5;

const status = (n: MvpNode) => n.supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 3000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * A started node's first listen address, asked once and kept: asked again only after a
 * timeout (a process holding many nodes answers late while others start).
 */
async function listenAddr(n: MvpNode): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await n.network()).listen[0]!;
    } catch (err) {
      if (attempt >= START_TRIES) throw err;
      await sleep(500 * attempt);
    }
  }
}

export async function simulateReal(sc: Scenario, progress: (line: string) => void = () => {}): Promise<RealReport> {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const events0 = { ...requestEvents };
  // An unhandled rejection or a listener leak is a violation of the run, reported, not a crash.
  const unhandled: string[] = [];
  const warnings: string[] = [];
  const onUnhandled = (err: unknown) => { if (unhandled.length < 20) unhandled.push((err as Error)?.message ?? String(err)); };
  const onWarning = (w: Error) => { if (w.name === 'MaxListenersExceededWarning' && warnings.length < 20) warnings.push(w.message); };
  process.on('unhandledRejection', onUnhandled);
  process.on('warning', onWarning);
  const dir = mkdtempSync(join(tmpdir(), 'mvp-node-sim-'));
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  const T = sc.config.heartbeat_timeout_ms / 1000;
  const nodes: MvpNode[] = [];
  const down = new Set<MvpNode>();
  const violations: string[] = [];
  const holders = new Map<string, string>();
  let rng = sc.seed >>> 0;
  const rand = () => { rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0; return rng / 4294967296; };
  const serving = Math.min(SERVING_NODES, sc.nodes);
  const modelPath = join(dir, 'mvp-test-tiny.gguf');
  const config = (i: number, bootstrap: string[]) => {
    const file = join(dir, `node${i}.toml`);
    writeFileSync(file, stringify({
      node: { node_id: `real-${i}`, data_dir: join(dir, `n${i}`) },
      network: { mdns_enabled: false, bootstrap_peers: bootstrap },
      // Every node shares this machine: its load average says nothing about one node's load.
      executor: { max_load_per_core: 1000 },
      ...(i < serving ? { model: { path: modelPath } } : {}),
      monitoring: { log_level: 'error' },
      distributed_orchestration: {
        mode: sc.config.mode, heartbeat_timeout_secs: Math.max(1, Math.round(T)), consensus_timeout_ms: sc.config.consensus_timeout_ms,
        max_consensus_rounds: sc.config.max_consensus_rounds, base_consensus_threshold: sc.config.base_consensus_threshold,
        // The scenario's council, as in virtual time (heartbeats are scoped to it).
        ...(sc.config.council_size !== undefined ? { council_size: sc.config.council_size } : {}),
      },
    }));
    return loadConfig({ file, env: {} });
  };
  const live = () => nodes.filter((n) => !down.has(n));
  const statuses = async () => (await Promise.all(live().map((n) => status(n).then((s) => ({ n, s }), () => undefined)))).filter((x) => x !== undefined);
  /** Records every (lineage, epoch) → coordinator seen; two different ones violate the invariant. */
  const observe = (all: Array<{ s: ConsensusStatus }>) => {
    for (const { s } of all) {
      if (!s.coordinator || !s.lineage) continue;
      const key = `swarm|${s.lineage}|${s.epoch}`;
      const h = holders.get(key);
      if (h === undefined) holders.set(key, s.coordinator.peer_id);
      else if (h !== s.coordinator.peer_id) violations.push(`two coordinators for ${key}: ${h} and ${s.coordinator.peer_id}`);
    }
  };
  const agreed = async (): Promise<ConsensusStatus | undefined> => {
    const all = await statuses();
    observe(all);
    const first = all[0]?.s;
    if (!first?.coordinator || all.length !== live().length) return undefined;
    const same = all.every(({ s }) => s.epoch === first.epoch && s.lineage === first.lineage && s.coordinator?.peer_id === first.coordinator!.peer_id);
    return same && live().some((n) => n.peerId === first.coordinator!.peer_id) ? first : undefined;
  };
  /** The live node most live nodes name as coordinator (ties: the lower peer id). */
  const named = async (): Promise<MvpNode | undefined> => {
    const all = await statuses();
    observe(all);
    const votes = new Map<string, number>();
    for (const { s } of all) if (s.coordinator) votes.set(s.coordinator.peer_id, (votes.get(s.coordinator.peer_id) ?? 0) + 1);
    const best = [...votes].filter(([p]) => live().some((n) => n.peerId === p)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    return best ? live().find((n) => n.peerId === best[0]) : undefined;
  };
  const waitAgreed = async (limitMs: number): Promise<number | undefined> => {
    const from = Date.now();
    while (Date.now() - from < limitMs) {
      if (await agreed()) return Date.now() - from;
      await sleep(100);
    }
    return undefined;
  };

  const lat: number[] = [];
  const decisions = { asked: 0, accepted: 0, other: 0, failed: 0 };
  const seen = new Set<string>();
  const ask = async () => {
    const l = live();
    if (l.length === 0) return;
    const n = l[Math.floor(rand() * l.length)]!;
    decisions.asked++;
    try {
      const d = await n.supervisor.request<DistributedDecision>('consensus', {
        type: 'consensus.decide', decision_type: 'infrastructure', context: { is_critical: true, job_value: 1, description: 'simulated critical decision' },
      }, sc.config.consensus_timeout_ms * sc.config.max_consensus_rounds + 5000);
      if (seen.has(d.id)) violations.push(`decision ${d.id} returned twice`);
      seen.add(d.id);
      if (d.consensus?.outcome === 'accepted') { decisions.accepted++; lat.push(d.latency_ms); } else decisions.other++;
    } catch { decisions.failed++; }
  };

  const elections: RealReport['elections'] = [];
  const partitions: RealReport['partitions'] = [];
  const side = new Map<MvpNode, number>();
  /** Polls `cond` every 250 ms in the background (status polling is itself load on the nodes); records the delay when it first holds. */
  const watch = (cond: () => Promise<boolean>, done: (ms: number) => void, limitMs: number): Promise<void> => (async () => {
    const from = Date.now();
    while (Date.now() - from < limitMs) {
      if (await cond()) return done(Date.now() - from);
      await sleep(250);
    }
  })();
  const watches: Promise<void>[] = [];
  const skipped: string[] = [];
  let firstAgreement: number | undefined;
  let startedAfter = 0;
  let startRetries = 0;
  let workload: RealJobWorkload | undefined;
  const shapes: Array<ReturnType<typeof setTimeout>> = [];
  try {
    await writeTestModel({ preset: 'tiny', out: modelPath });
    const addrs: string[] = [];
    for (let i = 0; i < sc.nodes; i++) {
      const boot = addrs.length ? [addrs[0]!] : [];
      // A start that fails on a loaded machine (an actor's request to its store timing out, say)
      // is an event: the node is stopped and started afresh, at most START_TRIES times.
      for (let attempt = 1; ; attempt++) {
        const n = await createNode(config(i, boot), { transport: 'memory', logDestination: sink, serveModels: i < serving });
        try {
          await n.start();
          // The first nodes' addresses: the others' bootstrap, and the job clients'.
          if (i < 8) addrs.push(await listenAddr(n));
          nodes.push(n);
          break;
        } catch (err) {
          await n.stop().catch(() => undefined);
          if (attempt >= START_TRIES) throw err;
          startRetries++;
          progress(`node ${i} failed to start (${(err as Error).message}); starting it again`);
          // A moment for the loaded process to catch up before the next attempt.
          await sleep(2000 * attempt);
        }
      }
    }
    startedAfter = Date.now() - t0;
    progress(`${sc.nodes} nodes started in ${startedAfter} ms`);
    firstAgreement = await waitAgreed(Math.max(30_000, 10 * T * 1000));
    progress(`first agreement after ${firstAgreement ?? 'never'} ms`);
    if (firstAgreement === undefined) violations.push('the nodes never agreed on a coordinator');
    const base = Date.now();
    const pending: Promise<void>[] = [];
    // Decisions through the run, Poisson at decision_rate, while the faults play.
    const until = base + sc.duration_ms - sc.drain_ms;
    const decider = (async () => {
      while (sc.decision_rate > 0 && Date.now() < until) {
        await sleep(-Math.log(1 - rand()) * 1000 / sc.decision_rate);
        pending.push(ask());
      }
    })();
    // Jobs through the run as well; each may take the drain to end (failover, re-offers).
    workload = await RealJobWorkload.join(addrs, { jobRate: sc.job_rate, serving, rand });
    const jobs = workload.run(until, Math.max(10_000, sc.drain_ms));
    for (const f of sc.faults) {
      const wait = base + f.at_ms - Date.now();
      if (wait > 0) await sleep(wait);
      if (f.kind === 'kill') {
        let victim: MvpNode | undefined;
        if (f.node === 'coordinator') victim = await named();
        else victim = nodes[f.node];
        if (!victim) progress(`no node to ${f.kind} at ${Date.now() - base} ms (no coordinator named)`);
        if (!victim || down.has(victim)) continue;
        const rec: RealReport['elections'][number] = { killed: victim.nodeId, at_ms: Date.now() - base };
        await victim.stop();
        down.add(victim);
        progress(`killed ${victim.nodeId} at ${rec.at_ms} ms`);
        if (f.node === 'coordinator') {
          elections.push(rec);
          // In the background, so that the next faults keep their times.
          watches.push(watch(async () => (await agreed()) !== undefined, () => { rec.agreed_after_ms = Date.now() - base - rec.at_ms; }, 60_000));
        }
      } else if (f.kind === 'kill_actor') {
        let victim: MvpNode | undefined;
        if (f.node === 'coordinator') victim = await named();
        else victim = nodes[f.node];
        if (!victim) progress(`no node to ${f.kind} at ${Date.now() - base} ms (no coordinator named)`);
        if (!victim || down.has(victim)) continue;
        await victim.supervisor.kill(f.actor).catch((err: Error) => { violations.push(`kill_actor ${f.actor} on ${victim.nodeId}: ${err.message}`); });
        progress(`killed actor ${f.actor} of ${victim.nodeId} at ${Date.now() - base} ms`);
      } else if (f.kind === 'decision') {
        for (let k = 0; k < f.count; k++) pending.push(ask());
      } else if (f.kind === 'partition') {
        const cut = Math.max(1, Math.floor(nodes.length * f.fraction));
        nodes.forEach((n, i) => side.set(n, i < cut ? 1 : 0));
        const rec: RealReport['partitions'][number] = { at_ms: Date.now() - base };
        partitions.push(rec);
        await memoryGate.partition(new Map(nodes.map((n) => [n.peerId, side.get(n)!])));
        progress(`partitioned ${cut} / ${nodes.length - cut} at ${rec.at_ms} ms`);
        // Detected when every live node has marked every live node across the cut dead.
        watches.push(watch(async () => {
          const all = await statuses();
          return all.every(({ n, s }) => s.peers.every((p) => {
            const other = live().find((m) => m.peerId === p.peer_id);
            return !other || side.get(other) === side.get(n) || p.status === 'dead';
          }));
        }, (ms) => { rec.detected_after_ms = ms; }, (3 * T + 10) * 1000));
      } else if (f.kind === 'heal') {
        const rec = partitions[partitions.length - 1];
        if (!rec || rec.healed_at_ms !== undefined) continue;
        rec.healed_at_ms = Date.now() - base;
        side.clear();
        await memoryGate.heal();
        progress(`healed at ${rec.healed_at_ms} ms`);
        const from = base + rec.healed_at_ms;
        // Converged: one coordinator again, and every node sees alive each live peer it listens to
        // (all of them for the coordinator, the council for the others: heartbeats are council-scoped).
        watches.push(watch(async () => {
          if (!(await agreed())) return false;
          const all = await statuses();
          const hears = (s: ConsensusStatus, peer: string) => s.coordinator?.peer_id === s.self?.peer_id || s.council.length === 0 || s.council.includes(peer);
          return all.every(({ s }) => live().every((m) => m.peerId === s.self?.peer_id || !hears(s, m.peerId) || s.peers.some((p) => p.peer_id === m.peerId && p.status === 'alive')));
        }, () => { rec.converged_after_ms = Date.now() - from; }, (3 * T + 20) * 1000));
      } else if (f.kind === 'restart') {
        skipped.push(`restart of node ${f.node} at ${f.at_ms / 1000} s (real mode: a stopped in-process node is not started again)`);
      } else {
        // delay / loss: gossip shaped for the fault's duration (seeded from the scenario).
        memoryGate.shape(f.kind === 'delay' ? { extraMs: f.extra_ms } : { loss: f.rate }, rand);
        progress(`${f.kind} ${f.kind === 'delay' ? `+${f.extra_ms} ms` : `${f.rate * 100} %`} for ${f.duration_ms} ms at ${Date.now() - base} ms`);
        shapes.push(setTimeout(() => memoryGate.shape(), f.duration_ms));
      }
    }
    await decider;
    await jobs;
    await Promise.all(pending);
    await workload.drain();
    await Promise.all(watches);
    if (partitions.some((p) => p.healed_at_ms === undefined)) { await memoryGate.heal(); }
    for (const p of partitions) if (p.healed_at_ms !== undefined && p.converged_after_ms === undefined) violations.push(`no convergence after the heal at ${p.healed_at_ms} ms`);
    const left = base + sc.duration_ms - Date.now();
    if (left > 0) await sleep(left);
    if (await waitAgreed(Math.max(5000, 3 * T * 1000)) === undefined) violations.push('the live nodes do not agree on one coordinator at the end');
    for (const e of elections) if (e.agreed_after_ms === undefined) violations.push(`no successor agreed after ${e.killed} was killed`);
    const jobCheck = await workload.check(live());
    violations.push(...jobCheck.violations);
    const finals = await statuses();
    observe(finals);
    const nets = new Map(await Promise.all(live().map(async (n) => [n, await n.network().catch(() => undefined)] as const)));
    const per_node: RealReport['per_node'] = nodes.map((n) => {
      const s = finals.find((x) => x.n === n)?.s;
      const d = nets.get(n)?.deliveries;
      return {
        node: n.nodeId, up: !down.has(n), epoch: s?.epoch ?? 0, ...(s?.coordinator ? { coordinator: s.coordinator.node_id } : {}),
        partition: s?.partition.state ?? 'down', peers_alive: s?.peers.filter((p) => p.status === 'alive').length ?? 0,
        ...(d ? {
          deliveries: Object.values(d).reduce((a, b) => a + b, 0),
          offer_deliveries: Object.entries(d).filter(([t]) => t === WORK_TOPIC || parseOfferTopic(t)).reduce((a, [, b]) => a + b, 0),
        } : {}),
      };
    });
    for (const u of unhandled) violations.push(`unhandled rejection: ${u}`);
    for (const w of warnings) violations.push(`listener leak: ${w}`);
    const wallS = (Date.now() - t0) / 1000;
    const rates = per_node.filter((p) => p.deliveries !== undefined).map((p) => p.deliveries! / wallS);
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const resources: RealReport['resources'] = {
      rss_mb: round(mem.rss / 2 ** 20), rss_per_node_mb: round(mem.rss / 2 ** 20 / sc.nodes), heap_used_mb: round(mem.heapUsed / 2 ** 20),
      cpu_s: round(cpuS), cpu_per_node_s: round(cpuS / sc.nodes, 2),
      deliveries_per_node_per_s: { mean: round(rates.reduce((a, b) => a + b, 0) / Math.max(1, rates.length)), max: round(Math.max(0, ...rates)) },
    };
    const request_events = { timed_out: requestEvents.timed_out - events0.timed_out, cut_by_stop: requestEvents.cut_by_stop - events0.cut_by_stop, start_retries: startRetries };
    lat.sort((a, b) => a - b);
    return {
      scenario: sc.name, mode: 'real', nodes: sc.nodes, seed: sc.seed, wall_ms: Date.now() - t0, started_after_ms: startedAfter,
      ...(firstAgreement !== undefined ? { first_agreement_ms: firstAgreement } : {}),
      decisions: { ...decisions, p50_ms: round(quantile(lat, 0.5) || 0), p90_ms: round(quantile(lat, 0.9) || 0), p99_ms: round(quantile(lat, 0.99) || 0) },
      elections, partitions, skipped_faults: skipped, jobs: jobCheck.report, invariants: { ok: violations.length === 0, violations },
      resources, request_events, per_node,
    };
  } finally {
    for (const t of shapes) clearTimeout(t);
    memoryGate.shape();
    await workload?.close();
    await Promise.all(live().map((n) => n.stop().catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
    // After the nodes' stops: what they cut (pending requests) is still caught and counted.
    process.off('unhandledRejection', onUnhandled);
    process.off('warning', onWarning);
  }
}
