// How CLI commands reach a running node's HTTP API: `--api <url>`, or the api.json a node writes
// into its data directory (`<data_dir>/<node-id>/api.json`, removed when it stops), for the node
// named by --node-id or the only one running there. Every failure is a CommandFailedError with
// a one-line reason (exit 1).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import type { ApiErrorBody, ApiFile } from '../actors/api/messages.ts';
import { CommandFailedError } from './errors.ts';

/** How long a command waits for the node to answer one request. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface FindNodeOptions {
  /** `--api <url>`: taken as is. */
  api?: string;
  dataDir: string;
  /** `--node-id`: only this node's api.json. */
  nodeId?: string;
}

export interface FoundNode { url: string; nodeId?: string }

interface Running { nodeId: string; url: string }

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The node in `dir`, when its api.json names a live process (a node killed outright leaves its file behind). */
async function runningIn(dir: string, nodeId: string): Promise<Running | undefined> {
  let file: ApiFile;
  try {
    file = JSON.parse(await readFile(join(dir, nodeId, 'api.json'), 'utf8')) as ApiFile;
  } catch {
    return undefined;
  }
  if (typeof file?.url !== 'string' || typeof file.pid !== 'number' || !isAlive(file.pid)) return undefined;
  return { nodeId, url: file.url };
}

/** No node runs where the command looked (exit 1; commands with a local fallback use it instead). */
export class NoRunningNodeError extends CommandFailedError {}

const noNode = (dir: string) =>
  new NoRunningNodeError(`no running node found in ${dir}: start one with \`npx mvp-node\` or pass --api <url>`);

export async function findNode({ api, dataDir, nodeId }: FindNodeOptions): Promise<FoundNode> {
  if (api !== undefined) {
    let url: URL;
    try { url = new URL(api); } catch { throw new CommandFailedError(`--api ${api} is not a URL (e.g. http://127.0.0.1:8080)`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CommandFailedError(`--api ${api} is not an http(s) URL`);
    return { url: api.replace(/\/+$/, '') };
  }
  if (nodeId !== undefined) {
    const found = await runningIn(dataDir, nodeId);
    if (!found) throw noNode(join(dataDir, nodeId));
    return found;
  }
  let entries: string[];
  try {
    entries = (await readdir(dataDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    throw noNode(dataDir);
  }
  const running = (await Promise.all(entries.map((id) => runningIn(dataDir, id)))).filter((r): r is Running => r !== undefined);
  if (running.length === 0) throw noNode(dataDir);
  if (running.length > 1) {
    throw new CommandFailedError(`${running.length} nodes run in ${dataDir}: ${running.map((r) => `${r.nodeId} (${r.url})`).join(', ')}; pick one with --node-id <id> or --api <url>`);
  }
  return running[0]!;
}

/** The options every command that talks to a running node takes. */
export interface ApiOptions { api?: string; token?: string; json?: boolean }

export const withApiOptions = (cmd: Command) => cmd
  .option('--api <URL>', "the node's API (default: found in the data directory of --node-id, or the only node running there)")
  .option('--token <TOKEN>', 'bearer token, if the node has api.token set (default: MVP_NODE_API_TOKEN, then api.token of --config)')
  .option('--json', 'print the API\'s JSON answer instead of text');

/** The API of the node a command's options and its loaded configuration point at. */
export async function connect(cmd: Command, config: Config): Promise<NodeApi> {
  const o = cmd.opts<ApiOptions>();
  const found = await findNode({ api: o.api, dataDir: config.node.data_dir, nodeId: config.node.node_id });
  return new NodeApi(found.url, o.token ?? config.api.token);
}

/** The node did not answer at all (nothing listening, no answer in time, not HTTP). */
export class NodeUnreachableError extends CommandFailedError {}

export interface ApiAnswer<T> { status: number; body: T; headers: Headers }

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Non-2xx statuses whose body is still the answer (GET /health is 503 with its full body when the node is not ready). */
  accept?: number[];
  /** Default REQUEST_TIMEOUT_MS; an orchestrator decision may run the model for longer. */
  timeoutMs?: number;
  /** The answer is text (an export), not JSON. */
  text?: boolean;
}

/** A node's API as the CLI uses it: JSON requests, every failure a one-line CommandFailedError. */
export class NodeApi {
  constructor(readonly url: string, private readonly token?: string) {}

  get<T>(path: string, accept: number[] = []): Promise<ApiAnswer<T>> { return this.request<T>('GET', path, { accept }); }

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<ApiAnswer<T>> {
    const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : e.cause?.code ?? e.cause?.message ?? e.message;
      throw new NodeUnreachableError(`cannot reach the node's API at ${this.url}: ${why}`, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try { body = JSON.parse(text); } catch { body = undefined; }
    if (res.ok || opts.accept?.includes(res.status)) {
      if (opts.text) return { status: res.status, body: text as T, headers: res.headers };
      if (body === undefined) throw new CommandFailedError(`${this.url}${path} answered ${res.status} with something other than JSON: is this an mvp-node API?`);
      return { status: res.status, body: body as T, headers: res.headers };
    }
    if (res.status === 401) {
      throw new CommandFailedError(`the node's API at ${this.url} needs its token: pass --token <token> or set MVP_NODE_API_TOKEN`);
    }
    const e = body as Partial<ApiErrorBody> | undefined;
    throw new CommandFailedError(`${this.url}${path} answered ${res.status}${e?.code ? ` ${e.code}: ${e.message}` : ''}`);
  }
}
