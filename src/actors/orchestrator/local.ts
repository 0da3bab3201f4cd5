// A local orchestrator: the same Orchestrator without a running node, for
// `mvp-node orchestrator decision|ask` when no node answers, for examples and for tests.
// It decides on this host's load and an empty queue of the configured size, executes nothing
// (outcome `not_executed`, every record marked `local`), and records no training data.
import type { Config } from '../../config/types.ts';
import { systemClock, type Clock } from '../../runtime/clock.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import { LlmEngine } from './llm.ts';
import { localMetrics } from '../../decide/metrics.ts';
import { Orchestrator } from './orchestrator.ts';

export interface LocalOrchestratorOptions {
  clock?: Clock;
  /** Default: errors only, to stderr (the command's output is on stdout). */
  log?: Logger;
  /** Load orchestrator.model_path if set (default true); false decides by heuristics only. */
  loadModel?: boolean;
}

/** Builds a local orchestrator; loads the configured model first (a bad file throws). `close()` releases it. */
export async function createLocalOrchestrator(config: Readonly<Config>, opts: LocalOrchestratorOptions = {}): Promise<Orchestrator> {
  const log = opts.log ?? createLogger({ level: 'error', nodeId: 'local', pretty: false, destination: process.stderr });
  const llm = config.orchestrator.model_path && opts.loadModel !== false ? await LlmEngine.load({ config: config.orchestrator }) : undefined;
  return new Orchestrator({
    config,
    clock: opts.clock ?? systemClock,
    log,
    nodeId: config.node.node_id ?? 'local',
    metrics: async () => localMetrics(config.executor.max_queue_size),
    ...(llm ? { llm, onClose: () => llm.dispose() } : {}),
  });
}
