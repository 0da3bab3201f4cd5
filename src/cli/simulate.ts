// `mvp-node simulate --nodes N --seed S [--scenario file.toml] [--virtual] [--json] [--out file]`
// runs a scenario in the virtual-time simulator (src/sim/), checks the
// invariants, prints a global and per-node report, exits 1 when an invariant fails. Nothing is
// written unless --out is given.
import { readFile, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { CommandFailedError } from './errors.ts';
// The simulator is imported when the command runs: loading it costs every other command's start.
import type { SimReport } from '../sim/cluster.ts';
import type { RealReport } from '../sim/real.ts';

export interface SimulateCommandDeps { readonly out?: (text: string) => void }

const int = (what: string, min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer in [${min}, ${max}]`);
  return n;
};

export function registerSimulateCommand(program: Command, deps: SimulateCommandDeps = {}): Command {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  return program.command('simulate')
    .description('Simulate many nodes with a scripted workload and faults; check the invariants')
    .option('--nodes <N>', 'Number of nodes [default: the scenario\'s, else 20]', int('--nodes', 2, 100_000))
    .option('--seed <S>', 'Seed: the same seed gives the same report [default: the scenario\'s, else 1]', int('--seed', 0, 2 ** 32 - 1))
    .option('--scenario <FILE>', 'Scenario TOML (docs/DISTRIBUTED-ORCHESTRATION.md, "Simulator") [default: a built-in one]')
    .option('--virtual', 'Virtual time: orchestration cores on an in-memory bus, no sockets, no real timers (default: full nodes over the libp2p memory transport, real time)')
    .option('--json', 'Print the report as JSON')
    .option('--out <FILE>', 'Also write the JSON report to FILE')
    .action(async (opts: { nodes?: number; seed?: number; scenario?: string; virtual?: boolean; json?: boolean; out?: string }) => {
      const { defaultScenario, simulate } = await import('../sim/cluster.ts');
      const { parseScenario, ScenarioError } = await import('../sim/scenario.ts');
      let sc;
      if (opts.scenario) {
        let text: string;
        try { text = await readFile(opts.scenario, 'utf8'); } catch (err) { throw new CommandFailedError(`cannot read scenario ${opts.scenario}: ${(err as Error).message}`); }
        try { sc = parseScenario(text, { ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) }); } catch (err) {
          if (err instanceof ScenarioError) throw new CommandFailedError(`${opts.scenario}: ${err.message}`);
          throw err;
        }
      } else sc = defaultScenario(opts.nodes ?? 20, opts.seed ?? 1);
      if (!opts.virtual) {
        const { simulateReal } = await import('../sim/real.ts');
        const report = await simulateReal(sc, (line) => process.stderr.write(`simulate: ${line}\n`));
        const json = `${JSON.stringify(report, null, 2)}\n`;
        if (opts.out) await writeFile(opts.out, json).catch((err: Error) => { throw new CommandFailedError(`cannot write ${opts.out}: ${err.message}`); });
        out(opts.json ? json : formatRealReport(report));
        if (!report.invariants.ok) throw new CommandFailedError(`${report.invariants.violations.length} invariant violation(s): ${report.invariants.violations[0]}`);
        return;
      }
      const report = simulate(sc);
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (opts.out) await writeFile(opts.out, json).catch((err: Error) => { throw new CommandFailedError(`cannot write ${opts.out}: ${err.message}`); });
      out(opts.json ? json : formatReport(report));
      if (!report.invariants.ok) throw new CommandFailedError(`${report.invariants.violations.length} invariant violation(s): ${report.invariants.violations[0]}`);
    });
}

const PER_NODE_SHOWN = 25;

export function formatReport(r: SimReport): string {
  const lines: string[] = [];
  const j = r.jobs;
  const d = r.decisions;
  lines.push(`Simulation "${r.scenario}": ${r.nodes} nodes, seed ${r.seed}, ${r.virtual_ms / 1000} s virtual, ${r.events} events`);
  lines.push(`  messages:    ${r.messages.delivered} delivered, ${r.messages.dropped} dropped (${Object.entries(r.messages.by_type).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  lines.push(`  jobs:        ${j.submitted} submitted, ${j.completed} completed, ${j.in_flight_at_end} still running at the end, ${j.lost} lost, ${j.orphaned_by_submitter_death} orphaned (submitter killed), ${j.reoffers} re-offered, ${j.duplicate_executions} duplicate executions discarded`);
  lines.push(`               completion mean ${j.mean_ms} ms, p99 ${j.p99_ms} ms, ${j.messages_per_job} messages per job`);
  lines.push(`  decisions:   ${d.proposed} proposed, ${d.accepted} accepted, ${d.rejected} rejected, ${d.no_quorum} without quorum; latency p50 ${d.p50_ms} ms, p90 ${d.p90_ms} ms, p99 ${d.p99_ms} ms`);
  for (const e of r.elections) lines.push(`  election:    coordinator ${e.killed} killed at ${e.at_ms / 1000} s, successor agreed by all after ${e.agreed_after_ms ?? 'never'} ms`);
  for (const p of r.partitions) lines.push(`  partition:   at ${p.at_ms / 1000} s, detected by all after ${p.detected_after_ms ?? 'never'} ms; healed at ${p.healed_at_ms === undefined ? '—' : `${p.healed_at_ms / 1000} s`}, converged after ${p.converged_after_ms ?? 'never'} ms`);
  lines.push(`  invariants:  ${r.invariants.ok ? 'ok (no job lost, no duplicate completion, one coordinator per group per epoch, convergence after heal)' : `FAILED\n${r.invariants.violations.map((v) => `    - ${v}`).join('\n')}`}`);
  lines.push('');
  lines.push('  node        up    speed slots executed  util  epoch coordinator  partition');
  for (const n of r.per_node.slice(0, PER_NODE_SHOWN)) {
    lines.push(`  ${n.node.padEnd(10)}  ${(n.up ? 'yes' : 'no').padEnd(4)}  ${String(n.speed).padStart(5)} ${String(n.slots).padStart(5)} ${String(n.executed).padStart(8)}  ${n.utilisation.toFixed(2)}  ${String(n.epoch).padStart(5)} ${(n.coordinator ?? '—').padEnd(11)}  ${n.partition}`);
  }
  if (r.per_node.length > PER_NODE_SHOWN) lines.push(`  … ${r.per_node.length - PER_NODE_SHOWN} more (--json for all)`);
  return `${lines.join('\n')}\n`;
}

export function formatRealReport(r: RealReport): string {
  const d = r.decisions;
  const lines = [
    `Simulation "${r.scenario}" (real nodes, libp2p memory transport): ${r.nodes} nodes, ${(r.wall_ms / 1000).toFixed(1)} s wall`,
    `  started:     in ${r.started_after_ms} ms; first agreement on a coordinator after ${r.first_agreement_ms ?? 'never'} ms`,
    `  decisions:   ${d.asked} asked, ${d.accepted} accepted, ${d.other} not accepted, ${d.failed} failed; latency p50 ${d.p50_ms} ms, p90 ${d.p90_ms} ms, p99 ${d.p99_ms} ms`,
    ...r.elections.map((e) => `  election:    coordinator ${e.killed} stopped at ${e.at_ms / 1000} s, successor agreed by all after ${e.agreed_after_ms ?? 'never'} ms`),
    ...r.partitions.map((p) => `  partition:   at ${p.at_ms / 1000} s, detected by all after ${p.detected_after_ms ?? 'never'} ms; healed at ${p.healed_at_ms === undefined ? '—' : `${p.healed_at_ms / 1000} s`}, converged after ${p.converged_after_ms ?? 'never'} ms`),
    ...(r.jobs ? [
      `  jobs:        ${r.jobs.submitted} submitted (${r.jobs.rate}/s, ${r.jobs.serving_nodes} serving nodes), ${r.jobs.completed} completed, ${r.jobs.failed_with_receipt} failed with a receipt, ${r.jobs.refused} refused, ${r.jobs.lost} lost, ${r.jobs.moved} moved after a failure`,
      `               completion mean ${r.jobs.mean_ms} ms, p99 ${r.jobs.p99_ms} ms; receipt held by every live node for ${r.jobs.receipts.held_by_all_live}, conflicting ${r.jobs.receipts.conflicting}`,
    ] : []),
    ...r.skipped_faults.map((f) => `  skipped:     ${f}`),
    `  resources:   ${r.resources.rss_per_node_mb} MiB RSS and ${r.resources.cpu_per_node_s} s CPU per node (process: ${r.resources.rss_mb} MiB, ${r.resources.cpu_s} s); gossip deliveries per node ${r.resources.deliveries_per_node_per_s.mean}/s (max ${r.resources.deliveries_per_node_per_s.max}/s)`,
    `  requests:    ${r.request_events.timed_out} between actors timed out, ${r.request_events.cut_by_stop} cut by an actor's stop, ${r.request_events.start_retries} node starts retried (events of a loaded run, counted)`,
    `  invariants:  ${r.invariants.ok ? 'ok (one coordinator per epoch, agreement after kills, convergence after heal, decisions once, no job lost, one receipt per job)' : `FAILED\n${r.invariants.violations.map((v) => `    - ${v}`).join('\n')}`}`,
    '',
    '  node        up    epoch coordinator  partition  peers alive  deliveries (offers)',
    ...r.per_node.slice(0, PER_NODE_SHOWN).map((n) => `  ${n.node.padEnd(10)}  ${(n.up ? 'yes' : 'no').padEnd(4)}  ${String(n.epoch).padStart(5)} ${(n.coordinator ?? '—').padEnd(11)}  ${n.partition.padEnd(9)}  ${String(n.peers_alive).padEnd(11)}  ${n.deliveries ?? '—'} (${n.offer_deliveries ?? '—'})`),
  ];
  if (r.per_node.length > PER_NODE_SHOWN) lines.push(`  … ${r.per_node.length - PER_NODE_SHOWN} more (--json for all)`);
  return `${lines.join('\n')}\n`;
}
