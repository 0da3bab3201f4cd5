// `mvp-node status | peers | jobs | drain | actors`: a running node as its HTTP API shows it, for
// people (aligned text) or scripts (`--json`: the API's own answers), and its drain (POST /drain).
// `actors describe NAME` prints an actor's machine as xstate JSON, for a visualizer. The
// node is found by node-api.ts; `status` exits 1 when the node is not ready (GET /health
// answered 503), after printing what it saw.
import { InvalidArgumentError, type Command } from 'commander';
import type { DrainAccepted, HealthBody, JobBody } from '../actors/api/messages.ts';
import type { PeerSummary } from '../actors/network/messages.ts';
import type { JobRecord, JobRecordStatus } from '../actors/scheduler/messages.ts';
import type { ActorInfo, MachineInfo } from '../runtime/supervisor.ts';
import { CommandFailedError } from './errors.ts';
import type { Config } from '../config/index.ts';
import { connect as connectTo, withApiOptions, type ApiOptions, type NodeApi } from './node-api.ts';

export interface StatusCommandsDeps {
  /** The configuration a command runs with (-c, env, root flags): its data_dir, node_id and api.token. */
  readonly config: (cmd: Command) => Config;
  /** Defaults to process.stdout. */
  readonly out?: (text: string) => void;
  /** Defaults to Date.now (ages in the tables). */
  readonly now?: () => number;
}

const JOB_STATUSES: readonly JobRecordStatus[] = ['queued', 'running', 'completed', 'cancelled', 'failed', 'timeout'];

/** "42s", "5m 3s", "2h 7m", "3d 4h". */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

const millis = (ms: number | null) => ms === null ? '-' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
/** A peer id is long; its tail tells peers apart (libp2p's own logs shorten the same way). */
const shortPeer = (id: string) => id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;

/** Columns padded to their widest cell; the last column is not padded. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export function formatStatus(url: string, h: HealthBody, actors: readonly ActorInfo[]): string {
  const models = Object.entries(h.models);
  const troubled = actors.filter((a) => a.restarts > 0 || a.crashes > 0 || a.status !== 'running');
  const rows: Array<[string, string]> = [
    ['Node', `${h.node_id} (${h.peer_id})`],
    ['Status', `${h.status}, up ${span(h.uptime_s * 1000)}`],
    ['API', url],
    ['Peers', `${h.peers} connected, ${h.known_peers} known`],
    ['Queue', `${h.queue.depth} waiting, capacity ${h.queue.capacity}`],
    ['Models', models.length ? models.map(([m, s]) => `${m} (${s})`).join(', ') : 'none'],
    ['Actors', actors.map((a) => `${a.name} ${a.status === 'running' ? a.state : a.status}${a.placement === 'thread' ? ' [thread]' : ''}`).join(', ')],
  ];
  if (troubled.length > 0) {
    rows.push(['Restarts', troubled.map((a) => `${a.name} ${a.restarts} (${a.crashes} crash${a.crashes === 1 ? '' : 'es'})`).join(', ')]);
  }
  return rows.map(([k, v]) => `${k.padEnd(9)}${v}`).join('\n') + '\n';
}

export function formatPeers(peers: readonly PeerSummary[], now: number): string {
  if (peers.length === 0) return 'No peers known.\n';
  const sorted = [...peers].sort((a, b) => Number(b.connected) - Number(a.connected) || b.last_seen - a.last_seen);
  return table(['PEER', 'NODE', 'CONNECTED', 'STATE', 'SCORE', 'LAST SEEN', 'MODELS'], sorted.map((p) => [
    p.peer_id, p.node_id ?? '-', p.connected ? 'yes' : 'no', p.state, String(p.score), `${span(now - p.last_seen)} ago`, p.models.join(', ') || '-',
  ]));
}

export function formatJobs(jobs: readonly JobRecord[], now: number): string {
  if (jobs.length === 0) return 'No jobs yet.\n';
  return table(['JOB', 'STATUS', 'MODEL', 'CLIENT', 'TOKENS', 'QUEUED', 'GENERATION', 'AGE'], jobs.map((j) => [
    j.id.slice(0, 12), j.status, j.model, shortPeer(j.client), `${j.tokens_in}→${j.tokens_out}`,
    millis(j.queue_ms), millis(j.generation_ms), `${span(now - j.queued_at)} ago`,
  ]));
}

export function formatJob({ job, receipt }: JobBody): string {
  const rows: Array<[string, string]> = [];
  if (job) {
    rows.push(
      ['Job', job.id], ['Status', `${job.status}${job.reason ? ` (${job.reason})` : ''}`], ['Model', job.model],
      ['Client', job.client], ['Priority', job.priority], ['Tokens', `${job.tokens_in} in, ${job.tokens_out} out (max ${job.max_tokens})`],
      ['Queued', new Date(job.queued_at).toISOString()], ['Waited', millis(job.queue_ms)],
      ['First token', millis(job.first_token_ms)], ['Generation', millis(job.generation_ms)],
    );
  } else if (receipt) {
    rows.push(['Job', receipt.body.job_id], ['Status', `${receipt.body.status} (known by its receipt only: run elsewhere)`]);
  }
  rows.push(['Receipt', receipt ? `${receipt.id}, executor ${receipt.body.executor}, ${receipt.body.tokens_out} tokens, ${receipt.body.status}` : 'none held here']);
  return rows.map(([k, v]) => `${k.padEnd(12)}${v}`).join('\n') + '\n';
}

export function formatActors(actors: readonly ActorInfo[]): string {
  return table(['ACTOR', 'STATUS', 'STATE', 'PLACEMENT', 'RESTARTS', 'CRASHES'], actors.map((a) => [
    a.name, a.status, a.state, a.placement, String(a.restarts), String(a.crashes),
  ]));
}

function positiveInt(max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > max) throw new InvalidArgumentError(`expected an integer from 1 to ${max}.`);
    return n;
  };
}

/** Adds status, peers, drain, actors and jobs to the program (after its other commands: help lists them in that order). */
export function registerStatusCommands(program: Command, deps: StatusCommandsDeps): void {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  const now = deps.now ?? Date.now;

  const connect = (cmd: Command): Promise<NodeApi> => connectTo(cmd, deps.config(cmd));

  withApiOptions(program.command('status').description('Show a running node\'s health, peers, queue, models and actors'))
    .action(async function (this: Command) {
      const api = await connect(this);
      const [health, actors] = await Promise.all([api.get<HealthBody>('/health', [503]), api.get<ActorInfo[]>('/actors')]);
      if (this.opts<ApiOptions>().json) out(`${JSON.stringify({ url: api.url, health: health.body, actors: actors.body })}\n`);
      else out(formatStatus(api.url, health.body, actors.body));
      if (health.body.status !== 'ok') throw new CommandFailedError(`node ${health.body.node_id} is not ready (${health.body.status})`);
    });

  withApiOptions(program.command('peers').description('List the peers a running node knows'))
    .action(async function (this: Command) {
      const api = await connect(this);
      const { body } = await api.get<PeerSummary[]>('/peers');
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : formatPeers(body, now()));
    });

  withApiOptions(program.command('drain').description('Drain a running node, as SIGTERM does: it finishes its running jobs, hands queued ones back, then exits'))
    .option('--wait', 'return once the node has exited')
    .action(async function (this: Command) {
      const o = this.opts<ApiOptions & { wait?: boolean }>();
      const api = await connect(this);
      const { body } = await api.request<DrainAccepted>('POST', '/drain', { body: {} });
      if (o.json) out(`${JSON.stringify(body)}\n`);
      else out(`Node at ${api.url} is draining: it claims no more jobs, hands queued ones back, gives running ones ${body.timeout_secs} s, then exits\n`);
      if (!o.wait) return;
      // Gone once its API stops answering; the drain takes the timeout, plus the cancel grace and the stop.
      const deadline = Date.now() + (body.timeout_secs + 60) * 1000;
      while (Date.now() < deadline) {
        try { await api.get('/health', [503]); } catch { if (!o.json) out('Node exited\n'); return; }
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new CommandFailedError(`the node at ${api.url} is still running ${body.timeout_secs + 60} s after the drain began`);
    });

  const actors = program.command('actors').description('List a running node\'s actors with their states, or describe one\'s machine');
  withApiOptions(actors.command('list', { isDefault: true }).description('List the actors: status, state, placement, restarts'))
    .action(async function (this: Command) {
      const api = await connect(this);
      const { body } = await api.get<ActorInfo[]>('/actors');
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : formatActors(body));
    });
  withApiOptions(actors.command('describe').description('Print an actor\'s machine as xstate JSON, for a state machine visualizer'))
    .argument('<name>', 'the actor (e.g. scheduler, inference:<model>)')
    .action(async function (this: Command, name: string) {
      const api = await connect(this);
      const { body } = await api.get<MachineInfo>(`/actors/${encodeURIComponent(name)}/machine`);
      // The definition alone is what a visualizer imports; --json adds the actor's status and state.
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : `${JSON.stringify(body.definition, null, 2)}\n`);
    });

  withApiOptions(program.command('jobs').description('List the jobs a running node ran or queued, or show one with its receipt'))
    .argument('[job-id]', 'show this job (its record and receipt)')
    .option('--limit <N>', 'most jobs to list, newest first [default: 20]', positiveInt(1000))
    .option('--status <STATUS>', `only jobs in this status (${JOB_STATUSES.join(', ')})`, (v: string) => {
      if (!(JOB_STATUSES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of: ${JOB_STATUSES.join(', ')}.`);
      return v as JobRecordStatus;
    })
    .action(async function (this: Command, jobId: string | undefined) {
      const o = this.opts<ApiOptions & { limit?: number; status?: JobRecordStatus }>();
      const api = await connect(this);
      if (jobId !== undefined) {
        // A node holding no copy of the receipt looks it up in the swarm's DHT (up to ~15 s).
        const { body } = await api.request<JobBody>('GET', `/jobs/${encodeURIComponent(jobId)}`, { timeoutMs: 30_000 });
        out(o.json ? `${JSON.stringify(body)}\n` : formatJob(body));
        return;
      }
      const query = new URLSearchParams({ limit: String(o.limit ?? 20), ...(o.status ? { status: o.status } : {}) });
      const { body } = await api.get<JobRecord[]>(`/jobs?${query}`);
      out(o.json ? `${JSON.stringify(body)}\n` : formatJobs(body, now()));
    });
}
