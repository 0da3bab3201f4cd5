// GET /events: the console's one live feed. While at least one client listens, the hub samples
// the node's state by topic (peers, actors, jobs, orchestration, decisions, models) and sends a
// topic's whole current value whenever it changed, as one NDJSON line
// `{ "seq": n, "type": topic, "data": … }`. Supervisor news (an actor down or up) is pushed at
// once and triggers a fresh sample, so a short crash is seen even between samples.
//
// Each line's seq is one more than the last: a client that sees a gap (this hub skips lines for a
// client whose socket is not draining) resynchronises from the REST routes.
import type { ServerResponse } from 'node:http';

/** What the page can subscribe to: one topic per REST route it would otherwise read. */
export const EVENT_TOPICS = ['peers', 'actors', 'jobs', 'orchestration', 'decisions', 'models'] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

/** One line of the stream. `hello` opens it; `ping` keeps idle connections honest. */
export type NodeEvent =
  | { seq: number; type: 'hello'; data: { node_id: string; peer_id: string; sample_ms: number } }
  | { seq: number; type: 'ping'; data: { at: number } }
  | { seq: number; type: 'actor_down'; data: { name: string; reason: string } }
  | { seq: number; type: 'actor_up'; data: { name: string } }
  | { seq: number; type: EventTopic; data: unknown };

export interface EventHubInit {
  /** Reads one topic's current value; a rejection (its actor is down) skips it this round. */
  read(topic: EventTopic): Promise<unknown>;
  node: { node_id: string; peer_id: string };
  /** Between samples, ms: a change reaches the page within this plus one request. */
  sampleMs?: number;
  pingMs?: number;
  /** Lines are skipped for a client with more than this many bytes unsent. */
  maxBufferedBytes?: number;
}

interface Client { res: ServerResponse; seq: number }

export class EventHub {
  private readonly clients = new Set<Client>();
  /** The last value sent per topic, as JSON: a topic is sent again only when this changes. */
  private readonly last = new Map<EventTopic, string>();
  private sampleTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private again = false;
  private readonly sampleMs: number;
  private readonly pingMs: number;
  private readonly maxBuffered: number;

  constructor(private readonly init: EventHubInit) {
    this.sampleMs = init.sampleMs ?? 400;
    this.pingMs = init.pingMs ?? 5000;
    this.maxBuffered = init.maxBufferedBytes ?? 1024 * 1024;
  }

  /** Takes over a response: headers, hello, every topic's current value, then changes until it closes. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, seq: 0 };
    this.clients.add(client);
    const drop = () => {
      if (!this.clients.delete(client)) return;
      if (this.clients.size === 0) this.idle();
    };
    res.on('close', drop);
    // A client that went away mid-write: drop it; nothing it does may reach the actor as an error.
    res.on('error', drop);
    this.send(client, 'hello', { ...this.init.node, sample_ms: this.sampleMs });
    // A newcomer needs every topic, not only what changes next.
    for (const [topic, json] of this.last) this.sendRaw(client, topic, json);
    if (this.sampleTimer === undefined) {
      this.sampleTimer = setInterval(() => this.sample(), this.sampleMs);
      this.pingTimer = setInterval(() => this.broadcast('ping', { at: Date.now() }), this.pingMs);
    }
    this.sample();
  }

  /** Supervisor news: sent now, and the actors topic sampled again right away. */
  actorDown(name: string, reason: string): void {
    this.broadcast('actor_down', { name, reason });
    this.sample();
  }

  actorUp(name: string): void {
    this.broadcast('actor_up', { name });
    this.sample();
  }

  /** Ends every stream (the server is stopping). */
  close(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.idle();
  }

  private idle(): void {
    clearInterval(this.sampleTimer);
    clearInterval(this.pingTimer);
    this.sampleTimer = undefined;
    this.pingTimer = undefined;
    // Nobody listens: what was last sent means nothing to the next client.
    this.last.clear();
  }

  /** One sample at a time; a request during one queues exactly one more. */
  private sample(): void {
    if (this.clients.size === 0) return;
    if (this.sampling) { this.again = true; return; }
    // Reads are caught per topic in sampleOnce; the catch only keeps a bug from becoming an
    // unhandled rejection that would take the actor down with every console attached.
    this.sampling = this.sampleOnce().catch(() => undefined).finally(() => {
      this.sampling = undefined;
      if (this.again) { this.again = false; this.sample(); }
    });
  }

  private async sampleOnce(): Promise<void> {
    const values = await Promise.all(EVENT_TOPICS.map((t) => this.init.read(t).then((v) => ({ ok: true as const, v }), () => ({ ok: false as const }))));
    EVENT_TOPICS.forEach((topic, i) => {
      const r = values[i]!;
      if (!r.ok) return;
      const json = JSON.stringify(r.v);
      if (this.last.get(topic) === json) return;
      this.last.set(topic, json);
      for (const c of this.clients) this.sendRaw(c, topic, json);
    });
  }

  private broadcast(type: NodeEvent['type'], data: unknown): void {
    for (const c of this.clients) this.send(c, type, data);
  }

  private send(c: Client, type: NodeEvent['type'], data: unknown): void {
    this.sendRaw(c, type, JSON.stringify(data));
  }

  /** Every line takes a seq; a line a slow client cannot take is skipped, leaving a gap it sees. */
  private sendRaw(c: Client, type: string, dataJson: string): void {
    c.seq += 1;
    if (c.res.writableEnded || c.res.destroyed || c.res.writableLength > this.maxBuffered) return;
    c.res.write(`{"seq":${c.seq},"type":${JSON.stringify(type)},"data":${dataJson}}\n`);
  }
}
