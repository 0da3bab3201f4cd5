// The page's view of the node: one connection to GET /events (fetch + stream reader, the token in
// a header), the state each topic last carried, and the page's own diagnostics. Lost lines or a
// new connection resynchronise every topic from the REST routes; a closed or silent stream
// shows "disconnected" and is retried until the node is back.
import { authHeaders, getJson, refusal, Unauthorized } from './api.ts';
import { FeedReader, shapeProblem, type FeedEvent, type FeedTopic } from './feed.ts';
import type { ActorInfo, DecisionRecord, JobRecord, ModelsBody, OrchestrationBody, PeerSummary } from './types.ts';

export type Connection = 'connecting' | 'live' | 'disconnected' | 'login';

export interface ActorNews { at: number; name: string; what: 'down' | 'up'; reason?: string }

export interface NodeView {
  self?: { node_id: string; peer_id: string };
  peers: PeerSummary[];
  actors: ActorInfo[];
  jobs: JobRecord[];
  orchestration?: OrchestrationBody;
  decisions: DecisionRecord[];
  models: ModelsBody;
  actorNews: ActorNews[];
}

export interface Diagnostics {
  events: number; malformed: number; gaps: number; resyncs: number; reconnects: number;
  lastMalformed?: string; lastEventAt?: number; lastError?: string;
}

/** Each topic from its REST route, exactly what the stream would carry. */
const REST: Record<FeedTopic, string> = {
  peers: '/peers',
  actors: '/actors',
  jobs: '/jobs?limit=100',
  orchestration: '/orchestration',
  decisions: '/orchestrator/decisions?limit=20',
  models: '/models',
};

/** No line at all (the node pings every 5 s) for this long: the connection is dead. */
const SILENCE_MS = 15_000;
const RETRY_MS = [500, 1000, 2000, 3000];
const NEWS_KEPT = 30;

const emptyView = (): NodeView => ({ peers: [], actors: [], jobs: [], decisions: [], models: { loaded: [], swarm: [], pulls: [] }, actorNews: [] });

export class NodeStore {
  view: NodeView = emptyView();
  connection: Connection = 'connecting';
  loginError: string | undefined;
  private readonly reader: FeedReader;
  private readonly listeners = new Set<() => void>();
  private resyncs = 0;
  private reconnects = 0;
  private lastEventAt: number | undefined;
  private lastError: string | undefined;
  private abort: AbortController | undefined;
  private running = false;

  constructor() {
    this.reader = new FeedReader({
      event: (e) => this.apply(e),
      gap: () => { void this.resync(); },
    });
  }

  get diagnostics(): Diagnostics {
    return {
      ...this.reader.diagnostics, resyncs: this.resyncs, reconnects: this.reconnects,
      ...(this.lastEventAt !== undefined ? { lastEventAt: this.lastEventAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void { for (const fn of this.listeners) fn(); }

  /** Connects, and keeps reconnecting, until the node asks for a token this page does not have. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loginError = undefined;
    void this.loop();
  }

  /** A fresh token: try again with it. */
  login(): void {
    this.connection = 'connecting';
    this.changed();
    this.start();
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    if (!savedTokenRefused()) {
      // No token in this tab: ask the node whether it needs one before asking it for data.
      const needs = await getJson<{ token_required?: boolean }>('/console.json').then((r) => r.token_required === true, () => false);
      if (needs) {
        this.running = false;
        this.connection = 'login';
        this.changed();
        return;
      }
    }
    while (this.running) {
      try {
        await this.follow();
        attempt = 0;
      } catch (err) {
        if (err instanceof Unauthorized) {
          this.running = false;
          this.view = emptyView();
          this.loginError = savedTokenRefused() ? 'The node refused this token.' : undefined;
          this.connection = 'login';
          this.changed();
          return;
        }
        this.lastError = err instanceof Error ? err.message : String(err);
      }
      this.connection = 'disconnected';
      this.changed();
      await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
      attempt += 1;
      this.reconnects += 1;
    }
  }

  /** One connection to /events, until it ends. */
  private async follow(): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const res = await fetch('/events', { headers: authHeaders({ accept: 'application/x-ndjson' }), signal: abort.signal, cache: 'no-store' });
    if (!res.ok || !res.body) throw await refusal(res);
    this.reader.reset();
    this.connection = 'live';
    this.changed();
    void this.resync();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let silence = setTimeout(() => abort.abort(), SILENCE_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        clearTimeout(silence);
        silence = setTimeout(() => abort.abort(), SILENCE_MS);
        this.reader.push(value);
      }
    } finally {
      clearTimeout(silence);
    }
  }

  /** Every topic from REST (after a gap or a new connection); a topic whose route fails keeps its value. */
  async resync(): Promise<void> {
    this.resyncs += 1;
    await Promise.all(Object.entries(REST).map(async ([topic, path]) => {
      try {
        const data = await getJson<unknown>(path);
        // The same shape rule as the stream's: an odd answer is ignored, never shown half-read.
        if (shapeProblem(topic, data) === undefined) this.set(topic as FeedTopic, data);
      } catch (err) {
        if (err instanceof Unauthorized) this.abort?.abort();
      }
    }));
    this.changed();
  }

  private apply(e: FeedEvent): void {
    this.lastEventAt = Date.now();
    switch (e.type) {
      case 'hello': this.view.self = { node_id: e.data.node_id, peer_id: e.data.peer_id }; break;
      case 'ping': break;
      case 'actor_down': this.news({ at: Date.now(), name: e.data.name, what: 'down', reason: e.data.reason }); break;
      case 'actor_up': this.news({ at: Date.now(), name: e.data.name, what: 'up' }); break;
      default: this.set(e.type, e.data);
    }
    this.changed();
  }

  private news(n: ActorNews): void {
    this.view.actorNews = [n, ...this.view.actorNews].slice(0, NEWS_KEPT);
    // Shown at once, before the next actors sample says the same.
    this.view.actors = this.view.actors.map((a) => (a.name === n.name ? { ...a, status: n.what === 'down' ? 'restarting' : 'running' } : a));
  }

  private set(topic: FeedTopic, data: unknown): void {
    const v = this.view;
    switch (topic) {
      case 'peers': v.peers = data as PeerSummary[]; break;
      case 'actors': v.actors = data as ActorInfo[]; break;
      case 'jobs': v.jobs = data as JobRecord[]; break;
      case 'orchestration': v.orchestration = data as OrchestrationBody; break;
      case 'decisions': v.decisions = (data as { decisions: DecisionRecord[] }).decisions; break;
      case 'models': v.models = data as ModelsBody; break;
    }
  }
}

/** Every model name the swarm serves (this node's first), as a chat may ask for it. */
export function modelNames(v: NodeView): string[] {
  return [...new Set([...v.models.loaded.map((m) => m.model), ...v.models.swarm.map((m) => m.name)])];
}

/** A token is saved in this tab (so a 401 means the node refused it). */
function savedTokenRefused(): boolean {
  return authHeaders().authorization !== undefined;
}
