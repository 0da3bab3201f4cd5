// The natural-language interface (`orchestrator ask`): a sentence → one intent, its arguments
// and the concrete commands it stands for. A rule-based interpreter (rules.ts) always exists;
// with a model configured, the model picks the intent under a grammar over the intents (the
// rules answer when it fails), and its reading of an action is checked against the rules'
// before anything acts (reconcile). Running an interpretation is the orchestrator's job
// (orchestrator.ts).
import type { OrchestratorAction } from '../../config/types.ts';
import type { DecisionType } from '../../decide/heuristics.ts';
import type { Prompt } from './prompt.ts';
import { extractArgs, readByRules } from './rules.ts';

export type IntentKind = 'read' | 'decide' | 'action' | 'help' | 'unknown';

export interface IntentSpec {
  kind: IntentKind;
  /** One line, shown by `help` and given to the model. */
  description: string;
  /** An example sentence, shown by `help` (written for it: no evaluation set's phrasing). */
  example: string;
}

/** The intents, in the order `help` lists them. */
export const INTENTS = {
  list_peers: { kind: 'read', description: 'list the peers (other nodes) this node knows and is connected to', example: 'list the nodes I am connected to' },
  node_status: { kind: 'read', description: "this node's health: actors, uptime, queue, peers", example: 'is this node in good shape?' },
  network_status: { kind: 'read', description: 'the network as a whole: connected and known peers, gossip traffic and drops', example: 'give me the big picture of the network' },
  queue_status: { kind: 'read', description: 'the job queue and jobs: depth, capacity, busy slots, the latest finished jobs', example: 'how many jobs sit in the queue?' },
  list_models: { kind: 'read', description: 'the models served by this node and by its peers', example: 'which models can this node and its peers run?' },
  show_metrics: { kind: 'read', description: "figures: queue, CPU load, free memory, peer latency, failures, and the orchestrator's counters", example: 'how much cpu and memory are in use?' },
  explain_decisions: { kind: 'read', description: "the orchestrator's last decisions and their reasoning", example: 'why did the orchestrator act the way it did?' },
  decide: { kind: 'decide', description: 'ask the orchestrator for a decision about the situation described', example: 'the cpu is pegged, what do you advise?' },
  scale_queue: { kind: 'action', description: 'change the job queue capacity (to N, or by a factor)', example: 'set the queue capacity to 300' },
  adjust_gossip: { kind: 'action', description: 'heartbeat faster or slower (by a factor)', example: 'make the heartbeat interval shorter' },
  start_election: { kind: 'action', description: 'elect a new coordinator', example: 'hold a new coordinator election' },
  migrate_context: { kind: 'action', description: 'move a context or work to another peer', example: 'move a context to a quieter peer' },
  wait: { kind: 'action', description: 'change nothing for now', example: 'leave everything alone for now' },
  help: { kind: 'help', description: 'what this interface understands', example: 'what sort of things can I ask?' },
  unknown: { kind: 'unknown', description: 'anything else', example: 'book me a table for two' },
} as const satisfies Record<string, IntentSpec>;

export type Intent = keyof typeof INTENTS;
export const INTENT_NAMES = Object.keys(INTENTS) as Intent[];

export interface IntentArgs {
  /** scale_queue: the capacity asked for. */
  capacity?: number;
  /** scale_queue: a factor of the current capacity ("double" → 2), when no capacity is given. */
  factor?: number;
  /** adjust_gossip: multiplier of the heartbeat interval (< 1 = faster). */
  heartbeat_factor?: number;
  /** decide: the decision type the sentence is about. */
  decision_type?: DecisionType;
}

export interface Command { command: string; args: string[] }

export interface Interpretation {
  text: string;
  intent: Intent;
  args: IntentArgs;
  /** 0..1: for an action, also the confidence its decision carries into the safety gate. */
  confidence: number;
  source: 'rules' | 'llm';
  /** The model was asked but its answer was not used. */
  fallback_reason?: 'timeout' | 'parse' | 'invalid' | 'error';
  commands: Command[];
  /** With a model: its reading of an action checked against the rules' (see reconcile). */
  check?: { model_intent: Intent; rules_intent: Intent; verdict: 'agreed' | 'question' | 'unconfirmed' };
  /** Set when the action this reading asks for is held for confirmation whatever its confidence. */
  hold_reason?: string;
}

// --- the rules -------------------------------------------------------------------------------

export { extractArgs };

/** The rule-based interpreter (rules.ts): deterministic, no model. */
export function interpretByRules(text: string): Interpretation {
  const { intent, args, confidence } = readByRules(text);
  return { text, intent, args, confidence, source: 'rules', commands: commandsFor(intent, args, text) };
}

/** The concrete commands an intent stands for: CLI commands, or the action with its parameters. */
export function commandsFor(intent: Intent, args: IntentArgs, text: string): Command[] {
  switch (intent) {
    case 'list_peers': return [{ command: 'mvp-node peers', args: [] }];
    case 'node_status': return [{ command: 'mvp-node status', args: [] }];
    case 'network_status': return [{ command: 'mvp-node status', args: [] }, { command: 'mvp-node peers', args: [] }];
    case 'queue_status': return [{ command: 'mvp-node jobs', args: [] }];
    case 'list_models': return [{ command: 'mvp-node status', args: [] }];
    case 'show_metrics': return [{ command: 'mvp-node orchestrator metrics', args: [] }];
    case 'explain_decisions': return [{ command: 'mvp-node orchestrator decisions', args: [] }];
    case 'decide': return [{ command: 'mvp-node orchestrator decision', args: ['--context', text, '--decision-type', args.decision_type ?? 'infrastructure'] }];
    case 'scale_queue': return [{ command: 'scale_queue', args: args.capacity !== undefined ? [`capacity=${args.capacity}`] : [`factor=${args.factor ?? 1.5}`] }];
    case 'adjust_gossip': return [{ command: 'adjust_gossip', args: [`heartbeat_factor=${args.heartbeat_factor ?? 0.75}`] }];
    case 'start_election': return [{ command: 'start_election', args: [] }];
    case 'migrate_context': return [{ command: 'migrate_context', args: [] }];
    case 'wait': return [{ command: 'wait', args: [] }];
    case 'help': case 'unknown': return [];
  }
}

/** The orchestrator action an action intent proposes. */
export function actionOf(intent: Intent): OrchestratorAction | undefined {
  return INTENTS[intent].kind === 'action' ? intent as OrchestratorAction : undefined;
}

/** What `help` and unknown requests answer: every intent with an example. */
export function capabilities(): string {
  const lines = INTENT_NAMES.filter((n) => n !== 'unknown').map((n) => `  ${n.padEnd(18)} ${INTENTS[n].description} — e.g. "${INTENTS[n].example}"`);
  return ['I understand requests like these:', ...lines,
    'Actions (scale_queue, adjust_gossip, start_election, migrate_context, wait) go through the safety rules; some need `orchestrator confirm <id>`.'].join('\n');
}

// --- the model -------------------------------------------------------------------------------

export const ARGUMENT_MAX = 12;

/** The grammar's schema: one intent, and a short argument string (a number, or empty). */
export function intentJsonSchema() {
  return {
    type: 'object',
    properties: {
      intent: { enum: INTENT_NAMES },
      argument: { type: 'string', maxLength: ARGUMENT_MAX },
    },
  } as const;
}

export function intentPrompt(text: string): Prompt {
  const system = [
    'You translate an operator\'s request to a node of a decentralized AI inference network into exactly one intent.',
    'Intents:',
    ...INTENT_NAMES.map((n) => `- ${n}: ${INTENTS[n].description}`),
    'Answer with one JSON object: intent, and argument = the number the request gives (the queue capacity for',
    'scale_queue, the heartbeat factor for adjust_gossip), or an empty string.',
  ].join('\n');
  return { system, user: text };
}

const changes = (i: Interpretation) => INTENTS[i.intent].kind === 'action' || INTENTS[i.intent].kind === 'decide';
const sameArgs = (a: IntentArgs, b: IntentArgs) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/**
 * A model's reading checked against the rules' before anything acts on it. A model, even a
 * confident one, can read a question as an action; so:
 * - a reading that changes nothing (read, help, unknown) is used as it is: it executes nothing;
 * - the model reads an action (or a decision) where the rules read a question: the question is
 *   answered, the model's action neither run nor held;
 * - the rules on their own read the same intent with the same arguments: the action goes
 *   through the safety gate as usual, with the rules' confidence;
 * - otherwise the model's action is held for confirmation, whatever its confidence.
 */
export function reconcile(model: Interpretation, rules: Interpretation): Interpretation {
  if (!changes(model)) return model;
  const check = { model_intent: model.intent, rules_intent: rules.intent };
  const rulesKind = INTENTS[rules.intent].kind;
  if (rulesKind === 'read' || rulesKind === 'help') return { ...rules, check: { ...check, verdict: 'question' } };
  if (rules.intent === model.intent && sameArgs(rules.args, model.args)) {
    return { ...model, confidence: rules.confidence, check: { ...check, verdict: 'agreed' } };
  }
  const rulesSaid = rules.intent === 'unknown' ? 'the rules did not understand the request'
    : rules.intent === model.intent ? `the rules read it with ${JSON.stringify(rules.args)}` : `the rules read ${rules.intent}`;
  return {
    ...model, check: { ...check, verdict: 'unconfirmed' },
    hold_reason: `the model read ${model.intent} ${JSON.stringify(model.args)} but ${rulesSaid}: held until an operator confirms it`,
  };
}

/** The model's text → an interpretation; arguments it leaves out are read from the sentence. */
export function parseLlmIntent(output: string, text: string): Interpretation {
  const v = JSON.parse(output) as { intent?: unknown; argument?: unknown };
  if (typeof v !== 'object' || v === null || !INTENT_NAMES.includes(v.intent as Intent)) throw new Error(`not an intent: ${output.slice(0, 80)}`);
  const intent = v.intent as Intent;
  const args = extractArgs(intent, text);
  const n = typeof v.argument === 'string' ? Number(v.argument.trim()) : Number.NaN;
  if (Number.isFinite(n) && n > 0) {
    if (intent === 'scale_queue' && Number.isInteger(n)) { args.capacity = n; delete args.factor; }
    if (intent === 'adjust_gossip' && n <= 4) args.heartbeat_factor = n;
  }
  return { text, intent, args, confidence: 0.8, source: 'llm', commands: commandsFor(intent, args, text) };
}
