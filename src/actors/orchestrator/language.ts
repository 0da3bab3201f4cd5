// The natural-language interface (`orchestrator ask`): a sentence → one intent, its arguments
// and the concrete commands it stands for. A rule-based interpreter always exists; with a model
// configured, the model picks the intent under a grammar over the intents (the rules answer
// when it fails). Running an interpretation is the orchestrator's job (orchestrator.ts).
import type { OrchestratorAction } from '../../config/types.ts';
import type { DecisionType } from './heuristics.ts';
import type { Prompt } from './prompt.ts';

export type IntentKind = 'read' | 'decide' | 'action' | 'help' | 'unknown';

export interface IntentSpec {
  kind: IntentKind;
  /** One line, shown by `help` and given to the model. */
  description: string;
  /** An example sentence, shown by `help`. */
  example: string;
}

/** The intents, in the order `help` lists them. */
export const INTENTS = {
  list_peers: { kind: 'read', description: 'list the peers (other nodes) this node knows and is connected to', example: 'show me all connected nodes' },
  node_status: { kind: 'read', description: "this node's health: actors, uptime, queue, peers", example: 'how is this node doing?' },
  network_status: { kind: 'read', description: 'the network as a whole: connected and known peers, gossip traffic and drops', example: 'what does the network look like?' },
  queue_status: { kind: 'read', description: 'the job queue and jobs: depth, capacity, busy slots, the latest finished jobs', example: 'how full is the queue?' },
  list_models: { kind: 'read', description: 'the models served by this node and by its peers', example: 'which models are loaded?' },
  show_metrics: { kind: 'read', description: "figures: queue, CPU load, free memory, peer latency, failures, and the orchestrator's counters", example: 'show metrics' },
  explain_decisions: { kind: 'read', description: "the orchestrator's last decisions and their reasoning", example: 'explain the last decisions' },
  decide: { kind: 'decide', description: 'ask the orchestrator for a decision about the situation described', example: 'what should I do about the high CPU usage?' },
  scale_queue: { kind: 'action', description: 'change the job queue capacity (to N, or by a factor)', example: 'scale the queue to 200' },
  adjust_gossip: { kind: 'action', description: 'heartbeat faster or slower (by a factor)', example: 'send heartbeats faster' },
  start_election: { kind: 'action', description: 'elect a new coordinator', example: 'start an election' },
  migrate_context: { kind: 'action', description: 'move a context or work to another peer', example: 'move some work to a less loaded peer' },
  wait: { kind: 'action', description: 'change nothing for now', example: 'just wait' },
  help: { kind: 'help', description: 'what this interface understands', example: 'what can you do?' },
  unknown: { kind: 'unknown', description: 'anything else', example: 'order me a pizza' },
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

/**
 * Cues per intent: a pattern on the lower-cased sentence and the weight it adds. The intent
 * with the highest total wins if it reaches MIN_SCORE; ties go to the earlier intent in this
 * table's order. Action intents need a verb of change next to their object, so questions
 * about the queue or gossip stay read intents.
 */
type Cue = [RegExp, number];

const CHANGE = String.raw`(scale|resize|increase|raise|grow|expand|enlarge|extend|boost|double|triple|halve|shrink|reduce|decrease|lower|cut|set|change|adjust|bump|make)`;
const ACTION_CUES: Partial<Record<Intent, Cue[]>> = {
  scale_queue: [
    [new RegExp(String.raw`\b${CHANGE}\b.*\b(queue|capacity|job limit|queue size|max queue)\b`), 5],
    [/\b(queue|capacity)\b.*\b(bigger|larger|smaller|longer|shorter|to \d+|\d+ (jobs|slots))\b/, 5],
    [/\b(allow|accept|take|room for|space for) (more|fewer|less) (jobs|work|requests)\b/, 5],
    [/\bqueue (capacity|size|limit) \d+\b/, 5],
  ],
  adjust_gossip: [
    [/\b(adjust|tune|retune|tweak|change|set|speed up|slow down|faster|slower|quicker|more often|less often|increase|decrease|shorten|lengthen)\b.*\b(gossip|heartbeats?)\b/, 5],
    [/\b(gossip|heartbeats?)\b.*\b(faster|slower|quicker|more often|less often|speed up|slow down|factor|interval|half|twice|every)\b/, 5],
  ],
  start_election: [
    [/\belect(ion|ing)?\b/, 5],
    [/\bnew (coordinator|leader)\b/, 4],
    [/\b(re-?elect|vote for|choose|pick)\b.*\b(coordinator|leader)\b/, 4],
  ],
  migrate_context: [
    [/\b(migrate|migration|offload|off-load|relocate|rebalance)\b/, 5],
    [/\b(move|shift|transfer|hand over|send|push)\b.*\b(contexts?|work|jobs?|load|tasks?|elsewhere)\b.*\b(peer|node|elsewhere|machine|another|other)\b/, 5],
    [/\b(move|shift|transfer)\b.*\bcontexts?\b/, 5],
  ],
  wait: [
    [/^\s*(just )?wait\b|\bwait (for now|a bit|a while)\b/, 5],
    [/\b(do nothing|don'?t do anything|do not do anything|hold off|stand by|sit tight|leave (it|things) (alone|as (it|they) (is|are)))\b/, 5],
  ],
};

const READ_CUES: Partial<Record<Intent, Cue[]>> = {
  list_peers: [
    [/\bpeers?\b/, 3],
    [/\b(neighbou?rs?|connections?)\b/, 3],
    [/\b(connected|linked|attached)\b/, 2],
    [/\b(other|remote) (nodes|machines|hosts|computers|members|instances)\b/, 3],
    [/\b(nodes|machines|members)\b/, 1.5],
    [/\b(who|which)\b.*\b(connected|see|know|talk|linked)\b/, 1.5],
    [/\bonline\b/, 1],
  ],
  node_status: [
    [/\bstatus\b/, 3],
    [/\bhealth(y)?\b|\bhealth check\b/, 3],
    [/\b(uptime|actors?)\b/, 3],
    [/\b(this|the|your) (node|box|machine|server|host|instance)\b/, 1.5],
    [/\bare you\b|\bhow are you\b/, 2],
    [/\b(alive|up|running|ok|okay|fine|doing)\b/, 1],
  ],
  network_status: [
    [/\bnetwork\b/, 4],
    [/\b(swarm|p2p|mesh|cluster|topology)\b/, 3],
    [/\bgossip\b/, 2.5],
    [/\b(dropped|drops|messages|traffic)\b/, 1.5],
    [/\b(overview|whole|overall|stable)\b/, 1],
  ],
  queue_status: [
    [/\bqueue[ds]?\b/, 3],
    [/\bjobs?\b|\btasks?\b/, 3],
    [/\bbacklog\b/, 3],
    [/\b(pending|waiting|in progress|queued|running)\b/, 1.5],
    [/\b(work)\b/, 1.5],
    [/\b(depth|full|empty|length)\b/, 1],
  ],
  list_models: [
    [/\bmodels?\b/, 4],
    [/\b(llms?|gguf|weights|checkpoints?)\b/, 4],
    [/\b(serve|serving|served|loaded|hosted|available)\b/, 1],
  ],
  show_metrics: [
    [/\bmetrics?\b/, 4],
    [/\b(stats|statistics|numbers|figures|performance|telemetry)\b/, 3],
    [/\b(cpu|memory|ram|latency|load|throughput|rtt|ping|busy)\b/, 3],
    [/\b(usage|free|utili[sz]ation)\b/, 1],
  ],
  explain_decisions: [
    [/\bdecisions?\b|\bdecided\b/, 3],
    [/\b(explain|why|reasoning|rationale|justify)\b/, 3],
    [/\b(did|have) (you|the orchestrator|it)\b/, 2],
    [/\b(history|recently|lately|last|past|previous|earlier|taken)\b/, 1],
    [/\borchestrator\b/, 1],
  ],
  decide: [
    [/\b(should (i|we)|recommend|recommendation|suggest|suggestion|advice|advise|what now|what to do|what do (i|we) do)\b/, 5],
    [/\b(make|take|give me|need) a decision\b|\bdecide\b/, 6],
  ],
  help: [
    [/\b(help|capabilities|what can you do|how do i use)\b/, 5],
    [/\b(commands|what do you (know|understand|support))\b/, 5],
    [/^\s*\?+\s*$/, 5],
  ],
};

/** Below this best score the sentence is not understood (intent `unknown`). */
const MIN_SCORE = 2.5;

function score(cues: Cue[] | undefined, text: string): number {
  return (cues ?? []).reduce((s, [re, w]) => (re.test(text) ? s + w : s), 0);
}

const NUMBER = /(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])/g;

function numbers(text: string): number[] {
  return [...text.matchAll(NUMBER)].map((m) => Number(m[1]));
}

/** Arguments an intent takes, read from the sentence. */
export function extractArgs(intent: Intent, text: string): IntentArgs {
  const t = text.toLowerCase();
  const nums = numbers(t);
  if (intent === 'scale_queue') {
    const capacity = nums.find((n) => Number.isInteger(n) && n >= 1);
    if (capacity !== undefined && !/\b(factor|times|x)\b/.test(t)) return { capacity };
    if (nums[0] !== undefined && nums[0] > 0) return { factor: nums[0] };
    if (/\bdouble\b|\btwice\b/.test(t)) return { factor: 2 };
    if (/\btriple\b/.test(t)) return { factor: 3 };
    if (/\bhalve\b|\bhalf\b/.test(t)) return { factor: 0.5 };
    if (/\b(shrink|reduce|decrease|lower|cut|smaller|shorter|fewer|less)\b/.test(t)) return { factor: 0.75 };
    return { factor: 1.5 };
  }
  if (intent === 'adjust_gossip') {
    const f = nums.find((n) => n > 0 && n <= 4);
    if (f !== undefined) return { heartbeat_factor: f };
    if (/\b(half|halve)\b/.test(t)) return { heartbeat_factor: 0.5 };
    if (/\b(slow(er)?|slow down|less often|lengthen|longer)\b/.test(t)) return { heartbeat_factor: 1.5 };
    return { heartbeat_factor: 0.75 };
  }
  if (intent === 'decide') {
    if (/\b(routing|route|assign|dispatch|where should (the )?jobs?)\b/.test(t)) return { decision_type: 'job_routing' };
    if (/\b(context|contexts|memory|ram)\b/.test(t)) return { decision_type: 'context' };
    return { decision_type: 'infrastructure' };
  }
  return {};
}

/** The rule-based interpreter: deterministic, no model. */
export function interpretByRules(text: string): Interpretation {
  const t = text.toLowerCase().replace(/[’']/g, "'").replace(/\s+/g, ' ').trim();
  const scores: Array<[Intent, number]> = [];
  for (const name of INTENT_NAMES) scores.push([name, score(ACTION_CUES[name], t) + score(READ_CUES[name], t)]);
  // A question about what was done ("why did you scale…") asks for an explanation, not the act.
  if (/\b(why|when) (did|have|has|was|were)\b|\bdid you\b|\bhave you\b/.test(t)) {
    for (const s of scores) if (INTENTS[s[0]].kind === 'action') s[1] = 0;
  }
  let best: [Intent, number] = ['unknown', 0];
  let second = 0;
  for (const s of scores) {
    if (s[1] > best[1]) { second = best[1]; best = s; } else if (s[1] > second) second = s[1];
  }
  const intent: Intent = best[1] >= MIN_SCORE ? best[0] : 'unknown';
  const margin = best[1] - second;
  const confidence = intent === 'unknown' ? 0 : Math.min(0.9, 0.5 + 0.1 * margin + 0.05 * best[1]);
  const args = extractArgs(intent, text);
  return { text, intent, args, confidence: Number(confidence.toFixed(2)), source: 'rules', commands: commandsFor(intent, args, text) };
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
