// Simulator scenarios from TOML (docs/DISTRIBUTED-ORCHESTRATION.md, "Simulator"; an example in
// examples/simulate-scenario.toml). Parsing only: nothing is read or written here.
import { parse as parseToml } from 'smol-toml';
import { DistributedOrchestratorConfig } from '../actors/consensus/config.ts';
import type { DistributedOrchestrationConfig } from '../config/types.ts';
import { defaultScenario, type Fault, type Scenario } from './cluster.ts';
import { CodedError } from '../errors/registry.ts';

export class ScenarioError extends CodedError {
  override name = 'ScenarioError';
  constructor(message: string) { super('invalid_scenario', message); }
}

const num = (v: unknown, what: string, min = 0, max = Infinity): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ScenarioError(`${what} must be a number in [${min}, ${max}]; got ${JSON.stringify(v)}`);
  return v;
};

/** The scenario's settings as DistributedOrchestratorConfig.simulation() takes them: no disk, seeded. */
export function simulationConfig(keys: Partial<DistributedOrchestrationConfig>, seed: number): DistributedOrchestratorConfig {
  return DistributedOrchestratorConfig.simulation(keys, seed);
}

/** A scenario from TOML text; `nodes` / `seed` given here override the file's. */
export function parseScenario(text: string, over: { nodes?: number; seed?: number } = {}): Scenario {
  let doc: Record<string, unknown>;
  try { doc = parseToml(text) as Record<string, unknown>; } catch (err) { throw new ScenarioError(`scenario is not valid TOML: ${(err as Error).message}`); }
  const known = new Set(['name', 'nodes', 'seed', 'duration_secs', 'drain_secs', 'join_secs', 'job_rate', 'mean_job_ms', 'decision_rate', 'loss', 'min_delay_ms', 'max_delay_ms', 'distributed_orchestration', 'fault']);
  for (const k of Object.keys(doc)) if (!known.has(k)) throw new ScenarioError(`unknown scenario key "${k}"`);
  const nodes = over.nodes ?? (doc.nodes === undefined ? 20 : Math.floor(num(doc.nodes, 'nodes', 2, 100_000)));
  const seed = over.seed ?? (doc.seed === undefined ? 1 : Math.floor(num(doc.seed, 'seed', 0, 2 ** 32 - 1)));
  const base = defaultScenario(nodes, seed);
  const keys = (doc.distributed_orchestration ?? {}) as Partial<DistributedOrchestrationConfig>;
  if (typeof keys !== 'object' || Array.isArray(keys)) throw new ScenarioError('[distributed_orchestration] must be a table');
  const sc: Scenario = {
    ...base,
    name: typeof doc.name === 'string' ? doc.name : 'scenario',
    duration_ms: doc.duration_secs === undefined ? base.duration_ms : num(doc.duration_secs, 'duration_secs', 1, 86_400) * 1000,
    drain_ms: doc.drain_secs === undefined ? base.drain_ms : num(doc.drain_secs, 'drain_secs', 0, 86_400) * 1000,
    join_ms: doc.join_secs === undefined ? base.join_ms : num(doc.join_secs, 'join_secs', 0, 86_400) * 1000,
    job_rate: doc.job_rate === undefined ? base.job_rate : num(doc.job_rate, 'job_rate', 0, 1e6),
    mean_job_ms: doc.mean_job_ms === undefined ? base.mean_job_ms : num(doc.mean_job_ms, 'mean_job_ms', 1, 1e7),
    decision_rate: doc.decision_rate === undefined ? base.decision_rate : num(doc.decision_rate, 'decision_rate', 0, 1e4),
    loss: doc.loss === undefined ? 0 : num(doc.loss, 'loss', 0, 1),
    min_delay_ms: doc.min_delay_ms === undefined ? base.min_delay_ms : num(doc.min_delay_ms, 'min_delay_ms', 0, 60_000),
    max_delay_ms: doc.max_delay_ms === undefined ? base.max_delay_ms : num(doc.max_delay_ms, 'max_delay_ms', 0, 60_000),
    config: simulationConfig(keys, seed).core(),
    faults: doc.fault === undefined ? [] : parseFaults(doc.fault, nodes),
  };
  if (sc.max_delay_ms < sc.min_delay_ms) throw new ScenarioError('max_delay_ms must be at least min_delay_ms');
  return sc;
}

function parseFaults(v: unknown, nodes: number): Fault[] {
  if (!Array.isArray(v)) throw new ScenarioError('faults are [[fault]] tables');
  return v.map((f: Record<string, unknown>, k): Fault => {
    const what = `fault ${k + 1}`;
    const at_ms = num(f.at_secs, `${what}: at_secs`) * 1000;
    const node = (x: unknown, allowCoordinator: boolean): number | 'coordinator' => {
      if (allowCoordinator && x === 'coordinator') return 'coordinator';
      return Math.floor(num(x, `${what}: node`, 0, nodes - 1));
    };
    switch (f.kind) {
      case 'kill': return { at_ms, kind: 'kill', node: node(f.node ?? 'coordinator', true) };
      case 'restart': return { at_ms, kind: 'restart', node: node(f.node, false) as number };
      case 'kill_actor': {
        const actor = f.actor ?? 'consensus';
        if (typeof actor !== 'string' || !/^[a-z]+$/.test(actor)) throw new ScenarioError(`${what}: actor must be an actor name; got ${JSON.stringify(actor)}`);
        return { at_ms, kind: 'kill_actor', node: node(f.node ?? 'coordinator', true), actor };
      }
      case 'partition': return { at_ms, kind: 'partition', fraction: num(f.fraction ?? 0.5, `${what}: fraction`, 0, 0.99) };
      case 'heal': return { at_ms, kind: 'heal' };
      case 'delay': return { at_ms, kind: 'delay', extra_ms: num(f.extra_ms, `${what}: extra_ms`, 0, 600_000), duration_ms: num(f.duration_secs, `${what}: duration_secs`, 0) * 1000 };
      case 'loss': return { at_ms, kind: 'loss', rate: num(f.rate, `${what}: rate`, 0, 1), duration_ms: num(f.duration_secs, `${what}: duration_secs`, 0) * 1000 };
      case 'decision': return { at_ms, kind: 'decision', count: Math.floor(num(f.count ?? 1, `${what}: count`, 1, 10_000)) };
      default: throw new ScenarioError(`${what}: kind must be kill, kill_actor, restart, partition, heal, delay, loss or decision; got ${JSON.stringify(f.kind)}`);
    }
  }).sort((a, b) => a.at_ms - b.at_ms);
}
