// `mvp-node orchestrator decision|ask|metrics|status|export-data|confirm|reject|decisions`: the
// orchestrator of a running node, through its HTTP API (the URL from
// data directory of --node-id or the only node running there, or --api). `decision` and `ask` also work without
// a running node: a local orchestrator decides on this host's figures, executes nothing, and
// the output says so.
import { rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Config } from '../config/types.ts';
import { CommandFailedError } from './errors.ts';
import { findNode, NodeApi, NodeUnreachableError, NoRunningNodeError } from './node-api.ts';
import { loadCommandConfig } from './program.ts';
import { DECISION_TYPES, type DecisionType, type MetricsSnapshot } from '../decide/heuristics.ts';
import {
  EXPORT_FORMATS, RECENT_LIMIT,
  type AskResult, type DecisionRecord, type ExportFormat, type OrchestratorMetrics, type OrchestratorStatus, type RecentDecisions,
} from '../actors/orchestrator/messages.ts';
import type { NetworkStatus, PeerSummary } from '../actors/network/messages.ts';
import type { SchedulerStatus } from '../actors/scheduler/messages.ts';

export interface OrchestratorCommandDeps {
  /** Defaults to process.stdout. */
  readonly out?: (text: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Where a running node's API is, found as the other commands find it (node-api.ts: --api, else
 * the data directory of --node-id, or the only node running there); `missing` says why none.
 */
export async function findNodeApi(config: Config, api?: string): Promise<NodeApi | { missing: string }> {
  try {
    const { url } = await findNode({ ...(api !== undefined ? { api } : {}), dataDir: config.node.data_dir, ...(config.node.node_id !== undefined ? { nodeId: config.node.node_id } : {}) });
    return new NodeApi(url, config.api.token || undefined);
  } catch (err) {
    if (err instanceof NoRunningNodeError) return { missing: err.message };
    throw err;
  }
}

/** A decision or an answer may run the orchestrator's model: longer than a status request. */
const DECIDE_TIMEOUT_MS = 120_000;

// --- formatting --------------------------------------------------------------------------------

const pct = (n: number) => `${(n * 100).toFixed(1)} %`;

export function formatMetricsSnapshot(m: MetricsSnapshot): string {
  const load = m.queue_capacity > 0 ? Math.round((m.queue_depth / m.queue_capacity) * 100) : 0;
  return [
    `queue ${m.queue_depth}/${m.queue_capacity} (${load}%)`, `cpu ${m.cpu.toFixed(2)}/core`, `${Math.round(m.mem_free_mb)} MB free`, `${m.peers} peers`,
    ...(m.latency_ms !== undefined ? [`rtt ${m.latency_ms} ms`] : []), ...(m.failures_recent !== undefined ? [`${m.failures_recent} recent failures`] : []),
  ].join(', ');
}

const LOCAL_NOTE = 'LOCAL ORCHESTRATOR (no running node): decided on this host\'s figures; nothing was executed.';

export function formatDecision(d: DecisionRecord): string {
  const params = Object.entries(d.params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') || '(none)';
  const source = d.source === 'heuristic'
    ? `heuristic (rule ${d.rule}${d.fallback_reason ? `; the model's answer was not used: ${d.fallback_reason}` : ''})`
    : d.source === 'cache' ? `cache (reuses ${d.cached_from})` : d.source;
  let outcome: string = d.outcome;
  if (d.outcome === 'executed') outcome += ` — ${d.execution?.detail ?? ''}`;
  else if (d.outcome === 'held') outcome += ` for confirmation — run \`mvp-node orchestrator confirm ${d.id}\` or \`reject ${d.id}\``;
  if (d.outcome_reason && d.outcome !== 'executed') outcome += `\n                 (${d.outcome_reason})`;
  return [
    ...(d.local ? [LOCAL_NOTE] : []),
    `Decision ${d.id} (${d.decision_type})`,
    `    action:      ${d.action}`,
    `    parameters:  ${params}`,
    `    confidence:  ${d.confidence}`,
    `    reasoning:   ${d.reasoning}`,
    `    source:      ${source}`,
    `    latency:     ${d.latency_ms} ms${d.tokens ? ` (${d.tokens.input} tokens in, ${d.tokens.output} out)` : ''}`,
    `    outcome:     ${outcome}`,
    `    metrics:     ${formatMetricsSnapshot(d.metrics)}${d.metrics_missing.length ? ` (no answer from: ${d.metrics_missing.join(', ')})` : ''}`,
    ...(d.context ? [`    context:     ${d.context}`] : []),
  ].join('\n');
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

const ago = (ts: number) => `${Math.max(0, Math.round((Date.now() - ts) / 1000))} s ago`;

function formatAskData(r: AskResult): string {
  const { intent } = r.interpretation;
  const data = r.data as never;
  switch (intent) {
    case 'list_peers': {
      const peers = data as PeerSummary[];
      if (peers.length === 0) return 'No peers known.';
      return `${peers.filter((p) => p.connected).length} connected, ${peers.length} known\n${table(['PEER ID', 'NODE ID', 'CONNECTED', 'MODELS', 'LAST SEEN'],
        peers.map((p) => [p.peer_id, p.node_id ?? '-', p.connected ? 'yes' : 'no', p.models.join(',') || '-', ago(p.last_seen)]))}`;
    }
    case 'network_status': {
      const n = data as NetworkStatus;
      const dropped = Object.entries(n.dropped).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      return [`node ${n.node_id} (${n.peer_id})`, `peers: ${n.peers} connected, ${n.known} known${n.rtt_ms !== undefined ? `, mean rtt ${n.rtt_ms} ms` : ''}`,
        `gossip: ${n.received} received, ${n.accepted} accepted, ${n.duplicates} duplicates, ${n.published} published`, `dropped: ${dropped}`].join('\n');
    }
    case 'node_status': {
      const s = data as { node_id: string; peer_id: string; peers: number; known_peers: number; queue: SchedulerStatus | null; actors: Record<string, string> | null };
      return [`node ${s.node_id} (${s.peer_id})`, `peers: ${s.peers} connected, ${s.known_peers} known`,
        s.queue ? `queue: ${s.queue.depth}/${s.queue.capacity}, ${s.queue.busy_slots}/${s.queue.slots} slots busy` : 'queue: no answer',
        s.actors ? `actors: ${Object.entries(s.actors).map(([k, v]) => `${k} ${v}`).join(', ')}` : 'actors: no answer'].join('\n');
    }
    case 'queue_status': {
      const { queue: q, recent_jobs: jobs = [] } = data as { queue: SchedulerStatus; recent_jobs?: Array<{ job_id: string; executor: string; model: string; status: string; tokens_out: number; finished_at: number }> };
      const head = `queue: ${q.depth} waiting of ${q.capacity}; ${q.busy_slots}/${q.slots} slots busy; models: ${q.models.join(', ') || 'none'}`;
      if (jobs.length === 0) return `${head}
no finished jobs known yet`;
      return `${head}
latest jobs:
${table(['JOB ID', 'EXECUTOR', 'MODEL', 'STATUS', 'TOKENS', 'FINISHED'],
        jobs.map((j) => [`${j.job_id.slice(0, 12)}…`, `…${j.executor.slice(-8)}`, j.model, j.status, String(j.tokens_out), ago(j.finished_at)]))}`;
    }
    case 'list_models': {
      const m = data as { local: string[]; peers: Array<{ peer_id: string; node_id: string | null; models: string[] }> };
      return [`this node: ${m.local.join(', ') || 'none'}`, ...m.peers.map((p) => `${p.node_id ?? p.peer_id}: ${p.models.join(', ')}`)].join('\n');
    }
    case 'show_metrics': {
      const m = data as { node: MetricsSnapshot; missing: string[]; orchestrator: OrchestratorMetrics };
      return `node: ${formatMetricsSnapshot(m.node)}${m.missing.length ? ` (no answer from: ${m.missing.join(', ')})` : ''}\n${formatMetrics(m.orchestrator)}`;
    }
    case 'explain_decisions': {
      const list = data as DecisionRecord[];
      if (list.length === 0) return 'No decisions yet.';
      return list.map((d) => `${d.id}  ${d.action} → ${d.outcome} (${d.source}, confidence ${d.confidence})\n    ${d.reasoning}${d.outcome_reason ? `\n    ${d.outcome_reason}` : ''}`).join('\n');
    }
    default:
      return JSON.stringify(data, null, 2);
  }
}

export function formatAsk(r: AskResult): string {
  const i = r.interpretation;
  const lines = [
    ...(r.local ? [LOCAL_NOTE.replace('decided on this host\'s figures; ', '')] : []),
    `Intent: ${i.intent} (${i.source}${i.fallback_reason ? `, the model's answer was not used: ${i.fallback_reason}` : ''}, confidence ${i.confidence})`,
  ];
  if (i.check) {
    const verdict = { agreed: 'the rules agree: through the safety rules as usual', question: 'the rules read a question: answered, the model\'s action not run', unconfirmed: 'the rules do not agree: held for confirmation' }[i.check.verdict];
    lines.push(`Model read: ${i.check.model_intent}; rules read: ${i.check.rules_intent} (${verdict})`);
  }
  if (i.commands.length) lines.push(`Commands: ${i.commands.map((c) => [c.command, ...c.args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ')).join('; ')}`);
  lines.push('');
  if (r.decision) lines.push(formatDecision({ ...r.decision, local: false }));
  else if (r.data !== undefined) lines.push(formatAskData(r));
  else lines.push(r.message);
  return lines.join('\n');
}

export function formatMetrics(m: OrchestratorMetrics): string {
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  const d = m.decisions;
  return [
    `Decisions:   ${d.total} (${kv(d.by_source)})`,
    `  by type:    ${kv(d.by_type)}`,
    `  by outcome: ${kv(d.by_outcome)}`,
    `  by action:  ${kv(d.by_action)}`,
    `Latency:     mean ${m.latency_ms.mean} ms, p50 ${m.latency_ms.p50} ms, p95 ${m.latency_ms.p95} ms, max ${m.latency_ms.max} ms (last ${m.latency_ms.count} decisions)`,
    `Cache:       hit rate ${pct(m.cache.hit_rate)} (${m.cache.hits} hits, ${m.cache.misses} misses), ${m.cache.size} entries`,
    `Safety:      ${kv(m.safety)}`,
    `Model:       ${m.llm.calls} calls, ${m.llm.tokens.input} tokens in, ${m.llm.tokens.output} out; fallbacks: ${kv(m.llm.fallbacks)}`,
    `Ask:         ${m.ask.total} (rules ${m.ask.by_source.rules}, llm ${m.ask.by_source.llm}, fallbacks ${m.ask.fallbacks})${Object.keys(m.ask.by_intent).length ? `; ${kv(m.ask.by_intent)}` : ''}`,
    `Training:    ${m.training.records} records, ${m.training.exports} automatic exports`,
  ].join('\n');
}

export function formatStatus(s: OrchestratorStatus): string {
  const model = s.model
    ? `${s.model_path} (${s.model_type}) on ${s.device.used} (requested ${s.device.requested}), ${s.model.threads} thread${s.model.threads > 1 ? 's' : ''}, context ${s.model.context_size}`
    : `none: heuristics decide, rules interpret ask (model_type ${s.model_type}, device ${s.device.requested})`;
  const t = s.training;
  return [
    `Orchestrator: ${s.enabled ? 'enabled' : 'disabled'}, mode ${s.mode}`,
    `    model:             ${model}`,
    `    decision timeout:  ${s.decision_timeout_ms} ms`,
    `    cache:             ${s.cache.enabled ? 'enabled' : 'disabled'}, ${s.cache.size}/${s.cache.max_entries} entries, ttl ${s.cache.ttl_seconds} s`,
    `    training data:     ${t.collect_data ? 'collecting' : 'not collecting'}, ${t.records} records (${t.pending} awaiting their outcome)${t.file ? ` in ${t.file}` : ''}`,
    `                       exported to ${t.export_path} every ${t.auto_export_threshold} records${t.last_export ? `; last ${t.last_export}` : ''}`,
    `    allowed actions:   ${s.safety.allowed_actions.join(', ') || 'none'}${s.safety.unavailable.length ? ` (not available yet: ${s.safety.unavailable.join(', ')})` : ''}`,
    `    confidence:        capped at ${s.safety.max_confidence_threshold}; held for confirmation above ${s.safety.require_confirmation_above} (expires after ${s.safety.confirmation_timeout_secs} s); ${s.safety.held} held now`,
  ].join('\n');
}

// --- the command -------------------------------------------------------------------------------

function parseDecisionType(v: string): DecisionType {
  if (!(DECISION_TYPES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of: ${DECISION_TYPES.join(', ')}.`);
  return v as DecisionType;
}

function parseFormat(v: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of: ${EXPORT_FORMATS.join(', ')}.`);
  return v as ExportFormat;
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > RECENT_LIMIT) throw new InvalidArgumentError(`expected an integer from 1 to ${RECENT_LIMIT}.`);
  return n;
}

interface CommonOpts { json?: boolean; api?: string; local?: boolean }

/** Adds `orchestrator` to the program with `.command()`, so it inherits help layout and exit handling. */
export function registerOrchestratorCommand(program: Command, deps: OrchestratorCommandDeps = {}): Command {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  const print = (json: boolean | undefined, value: unknown, text: string) => out(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
  const orch = program.command('orchestrator').description('Decisions, questions and training data of the LLM orchestrator').helpCommand(false);

  const context = (cmd: Command) => {
    const opts = cmd.optsWithGlobals<CommonOpts>();
    return { opts, config: loadCommandConfig(cmd, deps.env) };
  };

  /** The running node's API; a CommandFailedError naming what is missing when there is none. */
  async function nodeApi(cmd: Command): Promise<{ api: NodeApi; opts: CommonOpts; config: Config }> {
    const { opts, config } = context(cmd);
    const found = await findNodeApi(config, opts.api);
    if ('missing' in found) {
      throw new CommandFailedError(found.missing);
    }
    return { api: found, opts, config };
  }

  /** Through the node when one answers; otherwise by a local orchestrator (unless --api was given). */
  async function nodeOrLocal<T>(cmd: Command, remote: (api: NodeApi) => Promise<T>, local: (config: Config) => Promise<T>): Promise<T> {
    const { opts, config } = context(cmd);
    if (!opts.local) {
      const found = await findNodeApi(config, opts.api);
      if (!('missing' in found)) {
        try {
          return await remote(found);
        } catch (err) {
          // A stale api.json (the node died without removing it) means no running node.
          if (!(err instanceof NodeUnreachableError) || opts.api) throw err;
        }
      }
    }
    return local(config);
  }

  async function withLocal<T>(config: Config, fn: (o: import('../actors/orchestrator/orchestrator.ts').Orchestrator) => Promise<T>): Promise<T> {
    const { createLocalOrchestrator } = await import('../actors/orchestrator/local.ts');
    let o;
    try {
      o = await createLocalOrchestrator(config);
    } catch (err) {
      throw new CommandFailedError(`local orchestrator: ${(err as Error).message}`, { cause: err });
    }
    try {
      return await fn(o);
    } finally {
      await o.close();
    }
  }

  const apiUrlOption = ['--api <URL>', 'the node\'s HTTP API (default: found in the data directory of --node-id, or the only node running there)'] as const;

  orch.command('decision')
    .description('Ask for a decision: action, parameters, confidence, reasoning, and what became of it')
    .option('--context <TEXT>', 'the situation in words, e.g. "high CPU usage, queue full"')
    .option('--decision-type <TYPE>', `${DECISION_TYPES.join(', ')} [default: infrastructure]`, parseDecisionType)
    .option('--json', 'print the decision as one JSON object')
    .option('--local', 'decide with a local orchestrator even if a node is running')
    .option(...apiUrlOption)
    .action(async function (this: Command) {
      const o = this.opts<{ context?: string; decisionType?: DecisionType; json?: boolean }>();
      const type = o.decisionType ?? 'infrastructure';
      const d = await nodeOrLocal(this,
        async (api) => (await api.request<DecisionRecord>('POST', '/orchestrator/decision', { body: { decision_type: type, ...(o.context !== undefined ? { context: o.context } : {}) }, timeoutMs: DECIDE_TIMEOUT_MS })).body,
        (config) => withLocal(config, (l) => l.makeDecision(o.context, type)));
      print(o.json, d, formatDecision(d));
    });

  orch.command('ask')
    .description('Ask in plain words: "show me all connected nodes", "scale the queue to 200", "help"')
    .argument('<text...>', 'the request')
    .option('--json', 'print the interpretation and its result as one JSON object')
    .option('--local', 'interpret with a local orchestrator even if a node is running')
    .option(...apiUrlOption)
    .action(async function (this: Command, words: string[]) {
      const text = words.join(' ');
      const o = this.opts<{ json?: boolean }>();
      const r = await nodeOrLocal(this,
        async (api) => (await api.request<AskResult>('POST', '/orchestrator/ask', { body: { text }, timeoutMs: DECIDE_TIMEOUT_MS })).body,
        (config) => withLocal(config, (l) => l.ask(text)));
      print(o.json, r, formatAsk(r));
    });

  orch.command('metrics')
    .description('Decisions by source, type and outcome; latency; cache hit rate; safety events; model tokens')
    .option('--json', 'print one JSON object')
    .option(...apiUrlOption)
    .action(async function (this: Command) {
      const { api, opts } = await nodeApi(this);
      const m = (await api.get<OrchestratorMetrics>('/orchestrator/metrics').catch(unreachable)).body;
      print(opts.json, m, formatMetrics(m));
    });

  orch.command('status')
    .description('Whether the orchestrator runs, its model and device, cache, training data and safety settings')
    .option('--json', 'print one JSON object')
    .option(...apiUrlOption)
    .action(async function (this: Command) {
      const { api, opts } = await nodeApi(this);
      const s = (await api.get<OrchestratorStatus | { enabled: false }>('/orchestrator/status').catch(unreachable)).body;
      print(opts.json, s, 'mode' in s ? formatStatus(s) : 'Orchestrator: disabled on this node (orchestrator.enabled = false)');
    });

  orch.command('export-data')
    .description('Write the collected training data to a file')
    .requiredOption('--output <FILE>', 'where to write ("-" for stdout)')
    .option('--format <FORMAT>', `${EXPORT_FORMATS.join(' (one record per line), ')} (chat fine-tuning messages) [default: jsonl]`, parseFormat)
    .option(...apiUrlOption)
    .action(async function (this: Command) {
      const o = this.opts<{ output: string; format?: ExportFormat }>();
      const format = o.format ?? 'jsonl';
      const { api } = await nodeApi(this);
      const r = await api.request<string>('GET', `/orchestrator/export?format=${format}`, { text: true, timeoutMs: DECIDE_TIMEOUT_MS }).catch(unreachable);
      const records = Number(r.headers.get('x-records') ?? 0);
      if (o.output === '-') { out(r.body); return; }
      const file = resolve(o.output);
      // Write-then-rename: an interrupted export never leaves half a file under the name asked for.
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, r.body);
        await rename(tmp, file);
      } catch (err) {
        throw new CommandFailedError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
      }
      process.stderr.write(`Exported ${records} records (${format}) to ${file}\n`);
    });

  orch.command('confirm')
    .description('Execute a decision held for confirmation')
    .argument('<id>', 'the decision id')
    .option('--json', 'print the decision as one JSON object')
    .option(...apiUrlOption)
    .action(async function (this: Command, id: string) {
      const { api, opts } = await nodeApi(this);
      const d = (await api.request<DecisionRecord>('POST', `/orchestrator/decisions/${encodeURIComponent(id)}/confirm`, { timeoutMs: DECIDE_TIMEOUT_MS }).catch(unreachable)).body;
      print(opts.json, d, formatDecision(d));
      if (d.outcome === 'failed') throw new CommandFailedError(`decision ${id} was confirmed but failed: ${d.outcome_reason}`);
    });

  orch.command('reject')
    .description('Drop a decision held for confirmation, unexecuted')
    .argument('<id>', 'the decision id')
    .option('--reason <TEXT>', 'why (kept in the audit log and the training data)')
    .option('--json', 'print the decision as one JSON object')
    .option(...apiUrlOption)
    .action(async function (this: Command, id: string) {
      const { api, opts } = await nodeApi(this);
      const reason = this.opts<{ reason?: string }>().reason;
      const d = (await api.request<DecisionRecord>('POST', `/orchestrator/decisions/${encodeURIComponent(id)}/reject`, { body: reason ? { reason } : {} }).catch(unreachable)).body;
      print(opts.json, d, formatDecision(d));
    });

  orch.command('decisions')
    .description('The latest decisions, newest first')
    .option('--limit <N>', `how many (at most ${RECENT_LIMIT}) [default: 10]`, parseLimit)
    .option('--json', 'print one JSON object')
    .option(...apiUrlOption)
    .action(async function (this: Command) {
      const { api, opts } = await nodeApi(this);
      const limit = this.opts<{ limit?: number }>().limit ?? 10;
      const r = (await api.get<RecentDecisions>(`/orchestrator/decisions?limit=${limit}`).catch(unreachable)).body;
      print(opts.json, r, r.decisions.length ? r.decisions.map(formatDecision).join('\n\n') : 'No decisions yet.');
    });

  return orch;
}

function unreachable(err: unknown): never {
  if (err instanceof NodeUnreachableError) throw new CommandFailedError(`${err.message}; is the node still running?`);
  throw err;
}
