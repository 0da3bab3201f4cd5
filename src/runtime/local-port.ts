// The channel between an inline actor and its supervisor. It keeps a MessagePort's contract —
// every message a structured clone, delivered in order, later than the post — but delivers on
// the microtask queue instead of a later turn of the event loop. Hundreds of nodes in one
// process keep that loop busy, and a request takes four hops (actor → supervisor → actor and
// back): over MessagePorts each hop waited for a whole turn, and a store request of the 49th
// simulated node took more than 5 s. Threaded actors keep real MessagePorts.
import type { Transferable } from 'node:worker_threads';

/** What runActor and the hosts use of a port: a worker_threads MessagePort, or a LocalPort. */
export interface ActorPort<In> {
  /** `transfer`: what moves with the message (a MessagePort), as postMessage's transfer list. */
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (message: In) => void): unknown;
  off(event: 'message', listener: (message: In) => void): unknown;
  close(): void;
}

export class LocalPort<In> implements ActorPort<In> {
  private peer!: LocalPort<unknown>;
  private readonly listeners: Array<(message: In) => void> = [];
  private readonly inbox: In[] = [];
  private scheduled = false;
  /** No more posts from either end (what was posted before is still delivered). */
  private closed = false;

  /** Two connected ends, like `new MessageChannel()`. */
  static channel<A, B>(): { port1: LocalPort<A>; port2: LocalPort<B> } {
    const port1 = new LocalPort<A>();
    const port2 = new LocalPort<B>();
    port1.peer = port2 as LocalPort<unknown>;
    port2.peer = port1 as LocalPort<unknown>;
    return { port1, port2 };
  }

  postMessage(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.closed) return;
    this.peer.inbox.push(structuredClone(message, transfer ? { transfer: [...transfer] } : undefined));
    this.peer.schedule();
  }

  on(_event: 'message', listener: (message: In) => void): this {
    this.listeners.push(listener);
    // Like a MessagePort, messages wait for the first listener.
    this.schedule();
    return this;
  }

  off(_event: 'message', listener: (message: In) => void): this {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
    return this;
  }

  close(): void {
    this.closed = true;
    this.peer.closed = true;
  }

  private schedule(): void {
    if (this.scheduled || this.listeners.length === 0 || this.inbox.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    while (this.inbox.length > 0 && this.listeners.length > 0) {
      const m = this.inbox.shift()!;
      try {
        for (const l of [...this.listeners]) l(m);
      } catch (err) {
        // A listener's exception is uncaught, as from a MessagePort's; the rest still arrive.
        this.schedule();
        throw err;
      }
    }
  }
}
