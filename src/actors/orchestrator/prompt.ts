// What the orchestrator's model is told: a system prompt naming the actions and the answer's
// shape, and a user message with the decision type, the context and a one-line metrics
// snapshot. `model_type` picks the chat template the text is wrapped in.
import {
  Llama3_2LightweightChatWrapper, MistralChatWrapper, TemplateChatWrapper, type ChatWrapper,
} from 'node-llama-cpp';
import type { OrchestratorAction, OrchestratorModelType } from '../../config/types.ts';
import type { DecisionType, MetricsSnapshot } from '../../decide/heuristics.ts';
import { REASONING_MAX } from './llm-schema.ts';

export interface Prompt { system: string; user: string }

const ACTION_HELP: Record<OrchestratorAction, string> = {
  scale_queue: 'scale_queue: multiply the job queue capacity by params.factor; when the queue is nearly full and CPU and memory have headroom (factor < 1 shrinks it).',
  migrate_context: 'migrate_context: move work or a model context to another peer (params.target); when this node is saturated and peers exist.',
  adjust_gossip: 'adjust_gossip: multiply the heartbeat interval by params.heartbeat_factor (< 1 = faster); when peer links are slow or failing, or a partition is suspected.',
  start_election: 'start_election: elect a new coordinator (params.reason); when the coordinator is down.',
  wait: 'wait: change nothing now, look again after params.retry_after_ms; when nothing calls for action or nothing can help.',
};

const TYPE_HELP: Record<DecisionType, string> = {
  infrastructure: 'infrastructure: capacity and load of this node and its links',
  context: 'context: where model contexts should live (memory)',
  job_routing: 'job_routing: where jobs should run',
};

/** The figures the model sees, in one line: "queue 85/100 (85%), cpu 0.42/core, ...". */
export function compactMetrics(m: MetricsSnapshot): string {
  const load = m.queue_capacity > 0 ? Math.round((m.queue_depth / m.queue_capacity) * 100) : 0;
  const parts = [
    `queue ${m.queue_depth}/${m.queue_capacity} (${load}%)`,
    `cpu ${m.cpu.toFixed(2)}/core`,
    `${Math.round(m.mem_free_mb)} MB free`,
    `${m.peers} peers`,
  ];
  if (m.latency_ms !== undefined) parts.push(`rtt ${Math.round(m.latency_ms)} ms`);
  if (m.failures_recent !== undefined) parts.push(`${m.failures_recent} recent failures`);
  return parts.join(', ');
}

export function buildPrompt(type: DecisionType, context: string | undefined, metrics: MetricsSnapshot, allowed: readonly OrchestratorAction[]): Prompt {
  const system = [
    'You are the orchestrator of one node in a decentralized AI inference network.',
    'Choose exactly one action for the situation described. Actions:',
    ...Object.values(ACTION_HELP).map((h) => `- ${h}`),
    `Allowed on this node: ${allowed.join(', ') || 'none'}; any other action is refused.`,
    `Decision types: ${Object.values(TYPE_HELP).join('; ')}.`,
    `Answer with one JSON object: action, params, confidence (0 to 1: how sure you are), reasoning (one sentence, at most ${REASONING_MAX} characters).`,
  ].join('\n');
  const user = [
    `Decision type: ${type}`,
    `Context: ${context?.trim() || '(none)'}`,
    `Metrics: ${compactMetrics(metrics)}`,
  ].join('\n');
  return { system, user };
}

/** The chat template of each model family the seed names. */
export function chatWrapperFor(modelType: OrchestratorModelType): ChatWrapper {
  switch (modelType) {
    case 'llama3_2_3b':
    case 'llama3_2_1b':
      return new Llama3_2LightweightChatWrapper();
    case 'mistral_7b':
      return new MistralChatWrapper();
    case 'phi3':
      return new TemplateChatWrapper({
        template: '{{history}}<|assistant|>\n{{completion}}<|end|>\n',
        historyTemplate: {
          system: '<|system|>\n{{message}}<|end|>\n',
          user: '<|user|>\n{{message}}<|end|>\n',
          model: '<|assistant|>\n{{message}}<|end|>\n',
        },
      });
  }
}
