// DistributedOrchestratorConfig (the seed's name): the [distributed_orchestration] keys as the
// orchestration code uses them, plus whether this is a simulation. A simulation config has no
// side effects outside the process: nothing is written to disk (the election ledger stays in
// memory) and randomness comes from a seed, so a run can be reproduced.
import { validateConfig } from '../../config/schema.ts';
import type { Config, DistributedOrchestrationConfig } from '../../config/types.ts';
import { timings, type CoreConfig } from './core.ts';

export interface SimulationSettings {
  /** Seed of the node's random draws (response thresholds, back-offs). */
  seed: number;
}

export class DistributedOrchestratorConfig {
  private constructor(readonly keys: Readonly<DistributedOrchestrationConfig>, readonly simulationSettings?: Readonly<SimulationSettings>) {}

  /** The schema's defaults (config.toml's [distributed_orchestration] as shipped). */
  static default(): DistributedOrchestratorConfig {
    return new DistributedOrchestratorConfig(schemaDefaults());
  }

  /** Defaults (or the given keys) for a simulation: no disk, seeded randomness. */
  static simulation(overrides: Partial<DistributedOrchestrationConfig> = {}, seed = 1): DistributedOrchestratorConfig {
    return new DistributedOrchestratorConfig({ ...schemaDefaults(), ...overrides }, { seed });
  }

  /** From a loaded node configuration. */
  static fromConfig(config: Readonly<Config>, simulation?: SimulationSettings): DistributedOrchestratorConfig {
    return new DistributedOrchestratorConfig(config.distributed_orchestration, simulation);
  }

  isSimulation(): boolean { return this.simulationSettings !== undefined; }

  /** What the orchestration core runs on. */
  core(allowedActions?: readonly string[]): CoreConfig {
    const k = this.keys;
    return {
      mode: k.mode, rotation_trigger: k.rotation_trigger,
      heartbeat_timeout_ms: k.heartbeat_timeout_secs * 1000,
      min_nodes_per_group: k.min_nodes_per_group, max_groups_per_node: k.max_groups_per_node, council_size: k.council_size,
      ...(k.coordinator !== undefined ? { coordinator: k.coordinator } : {}),
      consensus_timeout_ms: k.consensus_timeout_ms, max_consensus_rounds: k.max_consensus_rounds,
      base_consensus_threshold: k.base_consensus_threshold, high_value_threshold: k.high_value_threshold,
      ...(allowedActions ? { allowed_actions: allowedActions } : {}),
    };
  }

  /** The timings derived from the keys (docs/DISTRIBUTED-ORCHESTRATION.md). */
  timings() { return timings(this.core()); }
}

function schemaDefaults(): DistributedOrchestrationConfig {
  const data: { distributed_orchestration?: DistributedOrchestrationConfig } = {};
  if (!validateConfig(data)) throw new Error('the config schema\'s own defaults do not validate');
  return Object.freeze({ ...data.distributed_orchestration! });
}
