// The job marketplace as a part of the network actor: the executor side (claim offers this node
// can run, run the jobs clients bring over /mvp/job/1.0.0), the receipt book (the receipts this
// node signed, holds as a DHT replica, or looked up) and the reputation it keeps of its peers
// from what they claimed and delivered. Receipts are not gossiped: the executor puts each in the
// swarm's DHT (the network's shareReceipt), and a job seen assigned whose receipt never reached
// this node is looked up there (findReceipt) before its executor is blamed. It reaches gossip only
// through the network's publish, and the node's store for its receipts and the saved scores.
import type { PrivateKey } from '@libp2p/interface';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/log.ts';
import type { Envelope, MessageBody, MessageType, ModelManifest } from '../protocol/index.ts';
import type { CanClaimReply, JobResult, SchedulerJob } from '../actors/scheduler/messages.ts';
import { JOB_PROTOCOL, MAX_JOB_STREAMS } from '../jobs/stream.ts';
import { JobExecutor } from './executor.ts';
import { ReceiptBook, type ReceiptRefusal } from './receipts.ts';
import { Reputation, type SavedStanding } from './reputation.ts';
import { Timers, type Startable } from '../actors/network/lifecycle.ts';
import type { ProtocolHandler } from '../actors/network/transport.ts';

/** Scores are saved this often when they changed (they may lag a crash by as much). */
const STANDINGS_SAVE_MS = 10_000;
/** DHT lookups of overdue receipts under way at once; past it, an overdue executor is blamed unlooked. */
const OVERDUE_LOOKUPS = 8;

export interface MarketDeps {
  peerId: string;
  privateKey: PrivateKey;
  models: ModelManifest[];
  clock: Clock;
  log: Logger;
  /** Job timeout, for how long an assignment to another node is watched for its receipt. */
  jobTimeoutMs: number;
  /** The protocol version this node's receipts are stamped with. */
  protocolVersion?: string;
  publish<T extends MessageType>(topic: string, type: T, body: MessageBody<T>): Promise<unknown>;
  publishSealed(topic: string, env: Envelope): Promise<unknown>;
  /** Puts a receipt this node signed in the swarm's DHT (resolves when the put is over). */
  shareReceipt(receipt: Envelope<'receipt'>): Promise<unknown>;
  /** Looks a job's receipt up in the swarm's DHT (validated there); undefined when none is found. */
  findReceipt(jobId: string): Promise<Envelope<'receipt'> | undefined>;
  queue(): Promise<{ depth: number; capacity: number; slots: number; busy_slots: number } | undefined>;
  canClaim(model: string, maxTokens: number): Promise<CanClaimReply>;
  submit(job: SchedulerJob): Promise<JobResult>;
  cancel(jobId: string): void;
  store: {
    putReceipt(receipt: Envelope<'receipt'>): Promise<unknown>;
    standings(): Promise<SavedStanding[]>;
    saveStandings(s: SavedStanding[]): Promise<unknown>;
  };
}

export class JobMarket implements Startable {
  readonly executor: JobExecutor;
  readonly receipts: ReceiptBook;
  readonly reputation = new Reputation();
  private readonly timers: Timers;
  /** False while the store's writes fail (a full disk): the node then claims no job. */
  private storeWritable = true;
  private savedChanges = 0;

  /** @param nextChange the change number a stored receipt takes (shared with the peer table, for manifest sync) */
  constructor(private readonly deps: MarketDeps, nextChange: () => number) {
    this.timers = new Timers(deps.clock, deps.log);
    this.receipts = new ReceiptBook(undefined, nextChange);
    this.executor = new JobExecutor({
      peerId: deps.peerId, privateKey: deps.privateKey, models: deps.models, clock: deps.clock, log: deps.log,
      publish: (topic, type, body) => deps.publish(topic, type, body as MessageBody<typeof type>),
      publishSealed: (topic, env) => {
        if (env.type !== 'receipt') return deps.publishSealed(topic, env);
        // Its own receipt: booked here, and put in the DHT rather than gossiped to everyone.
        this.receipts.accept(env as Envelope<'receipt'>);
        return deps.shareReceipt(env as Envelope<'receipt'>);
      },
      canClaim: (model, maxTokens) => this.storeWritable ? deps.canClaim(model, maxTokens)
        : Promise.resolve({ ok: false, reason: 'the store cannot be written (see the log): no receipt could be kept' }),
      submit: deps.submit, queue: deps.queue, cancel: deps.cancel,
      storeReceipt: (receipt) => deps.store.putReceipt(receipt),
      ...(deps.protocolVersion ? { protocolVersion: deps.protocolVersion } : {}),
    });
  }

  /** The job stream protocol it serves (registered by the transport). */
  readonly handler: ProtocolHandler = {
    protocol: JOB_PROTOCOL, maxInboundStreams: MAX_JOB_STREAMS,
    handle: (stream, connection) => this.executor.handleStream(stream, connection),
  };

  /** Restores the saved scores; run before the transport starts (gossipsub asks them). */
  async restore(): Promise<void> {
    this.reputation.restore(await this.deps.store.standings());
    this.savedChanges = this.reputation.changes;
  }

  start(): void {
    this.timers.every(STANDINGS_SAVE_MS, () => this.saveStandings());
    this.timers.every(1000, () => this.checkOverdue());
  }

  /** Overdue lookups at once, at most. */
  private lookingUp = 0;

  /**
   * Jobs seen assigned whose receipt did not reach this node by their due time: looked up in the
   * DHT (a receipt is put on a few replicas, not gossiped), and only a receipt found nowhere
   * blames its executor.
   */
  private checkOverdue(): void {
    const now = this.deps.clock.now();
    for (const { jobId, executor } of this.reputation.overdue(now)) {
      if (this.lookingUp >= OVERDUE_LOOKUPS) { this.reputation.penalise(executor, 'undelivered', now); continue; }
      this.lookingUp++;
      void this.deps.findReceipt(jobId).then((found) => {
        if (this.timers.stopped) return;
        // A receipt found was validated by the DHT (booking it twice is a no-op).
        if (found) this.onRecord(found);
        if (!this.reputation.hasDelivered(jobId, executor)) this.reputation.penalise(executor, 'undelivered', this.deps.clock.now());
      }, () => undefined).finally(() => { this.lookingUp--; });
    }
  }

  /**
   * A receipt record the DHT validated (a replica put here, or a lookup's answer): booked, and
   * its executor credited the first time this node sees it.
   */
  onRecord(receipt: Envelope<'receipt'>): void {
    const { job_id: jobId, executor } = receipt.body;
    if (this.receipts.get(jobId)?.id === receipt.id) return;
    if (this.receipts.accept(receipt)) return;
    if (executor !== this.deps.peerId) this.reputation.delivered(jobId, executor, this.deps.clock.now());
  }

  stop(): void { this.timers.stop(); }

  /** The store actor's word on whether writes work (a full disk: no claims until they do). */
  setStoreWritable(writable: boolean): void { this.storeWritable = writable; }

  /**
   * An offer, claim, assignment or receipt from gossip, inspected; anything else is no business
   * of the market. A refusal returns its drop reason.
   */
  onMessage(env: Envelope, now: number, topic?: string): ReceiptRefusal | 'low_reputation' | undefined {
    switch (env.type) {
      case 'work_offer':
        this.receipts.offer((env as Envelope<'work_offer'>).body.job_id, env.from);
        void this.executor.onOffer(env as Envelope<'work_offer'>, topic).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'Handling an offer failed'));
        return undefined;
      case 'job_assign': {
        // The client's job stream is what hands a job over; the assignment tells every node
        // whose receipt will count for the job.
        const a = (env as Envelope<'job_assign'>).body;
        // Watched for its receipt until the job's time is up (the executor's own limit, then a
        // lease); a job given to this node is not (its receipt never comes back by gossip).
        const due = a.executor === this.deps.peerId ? Infinity : now + this.deps.jobTimeoutMs + a.lease_ms;
        if (this.receipts.assign(env.from, a.job_id, a.executor, a.attempt)) this.reputation.assigned(a.job_id, a.executor, a.attempt, due, now);
        return undefined;
      }
      case 'job_claim':
        // A peer that took jobs and never ran them (or worse) is not offered to clients again.
        return this.reputation.refusesClaims(env.from, now) ? 'low_reputation' : undefined;
      case 'receipt': {
        const jobId = (env as Envelope<'receipt'>).body.job_id;
        const refused = this.receipts.accept(env as Envelope<'receipt'>);
        if (!refused) {
          this.reputation.delivered(jobId, env.from, now);
          return undefined;
        }
        // A late receipt for a job it was given (and then lost to a failover) is no forgery.
        if (!this.reputation.wasAssigned(jobId, env.from)) this.reputation.penalise(env.from, 'bad_receipt', now);
        this.deps.log.debug({ job_id: jobId, from: env.from, reason: refused }, 'Receipt refused');
        return refused;
      }
      default:
        return undefined;
    }
  }

  /** A receipt manifest sync brought: proof of what its executor did, booked like a gossiped one. */
  acceptSynced(env: Envelope<'receipt'>): ReceiptRefusal | undefined { return this.receipts.accept(env); }

  private saveStandings(): void {
    const changes = this.reputation.changes;
    if (changes === this.savedChanges) return;
    this.deps.store.saveStandings(this.reputation.standings()).then(
      () => { this.savedChanges = changes; },
      (err: Error) => this.deps.log.debug({ err: err.message }, 'Reputation scores not saved'));
  }
}
