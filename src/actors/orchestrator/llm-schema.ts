// What an LLM decision may look like: the JSON schema its grammar is built from, and the
// defensive parse of what the model produced into a Decision the safety gate can judge.
//
// node-llama-cpp's JSON-schema grammar has no numeric ranges, and a random or confused model
// wanders through an unbounded number or string until max_tokens. So every number is an enum
// and every string has a maxLength; a model emitting broken UTF-8 can still overrun a maxLength
// (the grammar counts bytes, not characters), so parsing does not trust the grammar: it checks
// each field again and only truncates the free-text reasoning.
import type { OrchestratorAction } from '../../config/types.ts';
import type { Decision, MetricsSnapshot } from '../../decide/heuristics.ts';
import { CodedError } from '../../errors/registry.ts';

export const REASONING_MAX = 160;
export const CONFIDENCE_STEPS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] as const;
export const QUEUE_FACTORS = [0.5, 0.75, 1.25, 1.5, 2] as const;
export const GOSSIP_FACTORS = [0.5, 0.75, 1.25, 1.5] as const;
export const MIGRATION_TARGETS = ['least_loaded_peer', 'peer_with_most_memory'] as const;
export const ELECTION_REASONS = ['coordinator_down', 'partition', 'rebalance'] as const;
export const WAIT_MS = [1000, 5000, 15000, 60000] as const;

/** Each action's parameters as the model writes them. */
const PARAMS: Record<OrchestratorAction, Record<string, { enum: readonly (string | number)[] }>> = {
  scale_queue: { factor: { enum: QUEUE_FACTORS } },
  adjust_gossip: { heartbeat_factor: { enum: GOSSIP_FACTORS } },
  migrate_context: { target: { enum: MIGRATION_TARGETS } },
  start_election: { reason: { enum: ELECTION_REASONS } },
  wait: { retry_after_ms: { enum: WAIT_MS } },
};

export const ACTIONS = Object.keys(PARAMS) as OrchestratorAction[];

/**
 * One alternative per action (all five: the safety gate, not the grammar, decides what may run,
 * so a proposed but disallowed action is visible and counted as a refusal).
 */
export function decisionJsonSchema() {
  return {
    oneOf: ACTIONS.map((action) => ({
      type: 'object',
      properties: {
        action: { const: action },
        params: { type: 'object', properties: PARAMS[action] },
        confidence: { enum: CONFIDENCE_STEPS },
        reasoning: { type: 'string', maxLength: REASONING_MAX },
      },
    })),
  } as const;
}

export class LlmOutputError extends CodedError {
  override name = 'LlmOutputError';
  /** parse: not JSON at all; invalid: JSON that is not a decision. */
  constructor(readonly kind: 'parse' | 'invalid', message: string) { super('llm_output_invalid', message); }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The model's text → a Decision with executable parameters. scale_queue's factor becomes an
 * absolute capacity of the queue in `metrics` (at least one slot more or less than now).
 */
export function parseLlmDecision(text: string, metrics: MetricsSnapshot): Decision {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LlmOutputError('parse', `model output is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new LlmOutputError('invalid', 'model output is not a JSON object');
  const action = value.action as OrchestratorAction;
  if (!ACTIONS.includes(action)) throw new LlmOutputError('invalid', `unknown action ${JSON.stringify(value.action)}`);
  if (!isObject(value.params)) throw new LlmOutputError('invalid', 'params is not an object');
  const params: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(PARAMS[action])) {
    const v = value.params[k];
    if (!spec.enum.includes(v as never)) throw new LlmOutputError('invalid', `params.${k} = ${JSON.stringify(v)} is not one of ${spec.enum.join(', ')}`);
    params[k] = v;
  }
  const confidence = value.confidence;
  if (typeof confidence !== 'number' || !Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    throw new LlmOutputError('invalid', `confidence ${JSON.stringify(confidence)} is not a number in [0, 1]`);
  }
  if (typeof value.reasoning !== 'string') throw new LlmOutputError('invalid', 'reasoning is not a string');
  const reasoning = [...value.reasoning].slice(0, REASONING_MAX).join('');
  if (action === 'scale_queue') Object.assign(params, scaleParams(metrics.queue_capacity, params.factor as number));
  return { action, params, confidence, reasoning };
}

/** scale_queue's parameters for a factor of the current capacity: at least one slot of change. */
export function scaleParams(currentCapacity: number, factor: number): { factor: number; capacity: number; from: number } {
  const from = Math.max(1, Math.floor(currentCapacity));
  const scaled = Math.round(from * factor);
  const capacity = Math.max(1, factor > 1 ? Math.max(from + 1, scaled) : Math.min(from - 1, scaled));
  return { factor, capacity, from };
}
