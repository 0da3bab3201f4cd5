// The node's event stream as the page reads it: NDJSON lines `{ seq, type, data }` arriving in
// arbitrary chunks. A line that is not a well-formed event is ignored and counted; a jump in seq
// means lines were lost, and the page resynchronises from the REST routes.

export const FEED_TOPICS = ['peers', 'actors', 'jobs', 'orchestration', 'decisions', 'models'] as const;
export type FeedTopic = (typeof FEED_TOPICS)[number];

export type FeedEvent =
  | { seq: number; type: 'hello'; data: { node_id: string; peer_id: string; sample_ms: number } }
  | { seq: number; type: 'ping'; data: unknown }
  | { seq: number; type: 'actor_down'; data: { name: string; reason: string } }
  | { seq: number; type: 'actor_up'; data: { name: string } }
  | { seq: number; type: FeedTopic; data: unknown };

export interface FeedDiagnostics { events: number; malformed: number; gaps: number; lastMalformed?: string }

/** A line longer than this is dropped as malformed rather than held in memory. */
export const MAX_LINE_CHARS = 8 * 1024 * 1024;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Why `data` does not fit `type`, or undefined when it does. */
export function shapeProblem(type: string, data: unknown): string | undefined {
  switch (type) {
    case 'hello': return isObject(data) && typeof data.peer_id === 'string' ? undefined : 'hello without a peer_id';
    case 'ping': return undefined;
    case 'actor_down': case 'actor_up': return isObject(data) && typeof data.name === 'string' ? undefined : `${type} without a name`;
    case 'peers': case 'actors': case 'jobs': return Array.isArray(data) ? undefined : `${type} is not a list`;
    case 'orchestration': return isObject(data) ? undefined : 'orchestration is not an object';
    case 'decisions': return isObject(data) && Array.isArray(data.decisions) ? undefined : 'decisions without a list';
    case 'models': return isObject(data) && Array.isArray(data.loaded) && Array.isArray(data.swarm) && Array.isArray(data.pulls)
      ? undefined : 'models without its loaded, swarm and pulls lists';
    default: return `unknown event type ${JSON.stringify(type).slice(0, 40)}`;
  }
}

export interface FeedHandlers {
  event(e: FeedEvent): void;
  /** Lines between `expected` and `got` never arrived. */
  gap(expected: number, got: number): void;
}

export class FeedReader {
  readonly diagnostics: FeedDiagnostics = { events: 0, malformed: 0, gaps: 0 };
  private buffer = '';
  private lastSeq = 0;

  constructor(private readonly on: FeedHandlers) {}

  /** A new connection: its first line is seq 1 again. */
  reset(): void {
    this.buffer = '';
    this.lastSeq = 0;
  }

  push(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() !== '') this.line(line);
    }
    if (this.buffer.length > MAX_LINE_CHARS) {
      this.buffer = '';
      this.malformed(`a line longer than ${MAX_LINE_CHARS} characters`);
    }
  }

  private line(line: string): void {
    let msg: unknown;
    try { msg = JSON.parse(line); } catch { return this.malformed('not JSON'); }
    if (!isObject(msg) || !Number.isSafeInteger(msg.seq) || (msg.seq as number) < 1) return this.malformed('no seq');
    const seq = msg.seq as number;
    // A well-numbered line counts as received even when its content is bad: no resync for it.
    if (seq !== this.lastSeq + 1) {
      this.diagnostics.gaps += 1;
      this.on.gap(this.lastSeq + 1, seq);
    }
    this.lastSeq = seq;
    const problem = typeof msg.type !== 'string' ? 'no type' : shapeProblem(msg.type, msg.data);
    if (problem !== undefined) return this.malformed(problem);
    this.diagnostics.events += 1;
    this.on.event(msg as unknown as FeedEvent);
  }

  private malformed(why: string): void {
    this.diagnostics.malformed += 1;
    this.diagnostics.lastMalformed = why;
  }
}
