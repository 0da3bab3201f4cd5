// The executor's side of the job path (docs/ARCHITECTURE.md, "The job path"): claim offers this node can run, run the
// job a client brings over `/mvp/job/1.0.0` through the scheduler, stream its tokens back, and
// end with a signed receipt — on the stream, and put in the swarm's DHT (not gossiped). A draining node (drain())
// claims nothing more, hands queued jobs back and ends the jobs still running at its deadline
// with a failed receipt (reason `drain`); both reach the client as a retryable refusal.
import { createHash } from 'node:crypto';
import type { PrivateKey, Stream, Connection } from '@libp2p/interface';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/log.ts';
import { DRAIN_REASON, sealReceipt, type Envelope, type ModelManifest, type ReceiptBody, type WorkOfferBody } from '../protocol/index.ts';
import type { CanClaimReply, JobResult, SchedulerJob } from '../actors/scheduler/messages.ts';
import { JOB_PROTOCOL, JobStreamError, parseJobRequest, readLines, writeLine } from '../jobs/stream.ts';
import { RECEIPT_TOPIC, WORK_TOPIC } from '../protocol/topics.ts';
import { claimsOffer } from './claim-rule.ts';

/** Offers remembered (claimed or not), so a re-published offer is recognised. */
const MAX_OFFERS = 4096;

export interface ExecutorDeps {
  peerId: string;
  privateKey: PrivateKey;
  models: ModelManifest[];
  clock: Clock;
  log: Logger;
  publish(topic: string, type: 'job_claim', body: object): Promise<unknown>;
  /**
   * Share an envelope already sealed (the receipt the client got, byte for byte): the market
   * puts a receipt in the swarm's DHT on its k closest peers.
   */
  publishSealed(topic: string, env: Envelope): Promise<unknown>;
  canClaim(model: string, maxTokens: number): Promise<CanClaimReply>;
  queue(): Promise<{ depth: number; capacity: number; slots: number; busy_slots: number } | undefined>;
  /** scheduler.submit with the job's tokens streamed to this actor (see onToken). */
  submit(job: SchedulerJob): Promise<JobResult>;
  cancel(jobId: string): void;
  /** Puts a receipt this node sealed in its ledger; resolves once it is on disk (fsynced). */
  storeReceipt(receipt: Envelope<'receipt'>): Promise<unknown>;
  /** The protocol version its receipts are stamped with (versionOfScope); default PROTOCOL_VERSION. */
  protocolVersion?: string;
  /** The draw of the response-threshold rule (default Math.random). */
  rng?: () => number;
}

interface Offer {
  body: WorkOfferBody;
  at: number;
  claimed: boolean;
  /** How many times its client offered it so far (the stimulus's round). */
  round: number;
  /** Set once the job ran here: a client that asks again gets the same outcome, not a second run. */
  done?: { text: string; receipt: Envelope<'receipt'> };
}

/**
 * While a job waits or runs, the executor sends `{ t: 'alive' }` this often on its stream: the
 * client's lease (LEASE_MS) expires when no frame comes for that long, so a hung
 * executor loses the job like a dead one.
 */
export const KEEPALIVE_MS = 2000;
export const LEASE_MS = 10_000;
/**
 * A job's expected service time when nothing better is known: the unit of a node's backlog in
 * the claim rule's θ, and of the start estimate its claims carry.
 */
const MEAN_SERVICE_MS = 1000;
/**
 * A client opens its next job stream ahead of the job (a spare, so the job skips the stream's
 * opening); one that brings no request for this long is let go.
 */
export const SPARE_IDLE_MS = 60_000;
/** How long a claim holds a queue place for a job that has not arrived (the client chose another). */
const CLAIM_HOLD_MS = 5000;
/**
 * A client with a spare stream here may bring a job on it together with its offer, before any
 * claim: the request waits this long for this node to claim the job (then it starts at once),
 * and is refused after.
 */
export const AHEAD_WAIT_MS = 3000;
/**
 * A client turned away counts as waiting for this long (its offers come again every 2 s): while
 * others wait, no client holds more than its share of the queue (fair admission).
 */
const WAITING_MS = 3000;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Refusals after which the client may offer the job again (scheduler error codes): the job did not run here. */
const RETRYABLE = new Set(['queue_full', 'draining']);
/** After the drain's deadline, how long cancelled jobs may take to end (the inference cancel grace). */
const DRAIN_CANCEL_GRACE_MS = 15_000;

/** The node is draining: this job stream is refused, retryably. */
class DrainingStreamError extends JobStreamError {
  override readonly code = 'draining';
}

/** What a drain did: jobs that finished in time, and those it ended with a failed receipt. */
export interface ExecutorDrainReport { finished: number; ended_by_drain: number }

/** Failures of this node's own actors while it held a job (runtime/errors.ts names). */
const LOST_INSIDE = new Set(['ActorDownError', 'RequestTimeoutError']);

function failedResult(jobId: string, reason: string): JobResult {
  return {
    job_id: jobId, status: 'failed', reason, text: '', tokens_in: 0, tokens_out: 0, queue_ms: 0,
    timings: { queue_ms: 0, load_ms: 0, first_token_ms: null, generation_ms: 0, tokens_per_s: 0 },
  };
}

export class JobExecutor {
  private readonly offers = new Map<string, Offer>();
  private readonly streams = new Map<string, Stream>();
  /** Claimed job id → when: until its job arrives (or CLAIM_HOLD_MS pass) a claim holds a queue place. */
  private readonly pending = new Map<string, number>();
  /** Clients whose offers were turned away for lack of room, and when last. */
  private readonly waiting = new Map<string, number>();
  readonly counters = { claimed: 0, declined: 0, executed: 0, refused_streams: 0, handed_back: 0, started_ahead: 0 };
  /** Jobs running here, by id: settles when the stream that brought it is done with it. */
  private readonly runs = new Map<string, Promise<void>>();
  /** Job streams whose client let them go: their job, cancelled, is not sealed, so it can be brought again. */
  private readonly abandoned = new WeakSet<Stream>();
  /** Requests that came ahead of this node's claim of their job, by job id: told when it claims. */
  private readonly ahead = new Map<string, (claimed: Offer) => void>();
  /** Set by beginDrain(): no more claims or job streams. */
  private draining = false;
  /** Jobs held and handed back so far when the drain began (its report counts from there). */
  private drainStart?: { held: number; handedBack: number };
  /** Jobs still running at the drain's deadline and cancelled by it: they end with a failed receipt, reason `drain`. */
  private readonly cutByDrain = new Set<string>();
  /** Receipts being gossiped; flushReceipts() waits for them. */
  private readonly publishing = new Set<Promise<unknown>>();
  /** Wakes a drain waiting for the running jobs to end. */
  private streamEnded?: () => void;

  constructor(private readonly deps: ExecutorDeps) {}

  static readonly protocol = JOB_PROTOCOL;

  /**
   * An offer heard on `topic` (its model's offer shard, or the broadcast work topic): claimed
   * there, by the response-threshold rule (claim-rule.ts), when this node can run it.
   */
  async onOffer(env: Envelope<'work_offer'>, topic: string = WORK_TOPIC): Promise<void> {
    const offer = env.body;
    if (this.draining || offer.client !== env.from) return;
    // Claimed once, never again; an offer not claimed (queue full, say) is weighed again when
    // its client re-publishes it, so a job refused under load is taken once room frees up.
    const known = this.offers.get(offer.job_id);
    if (known?.claimed) return;
    const entry: Offer = known ?? { body: offer, at: this.deps.clock.now(), claimed: false, round: 0 };
    entry.round++;
    if (!known) this.remember(offer.job_id, entry);
    const model = this.deps.models.find((m) => m.name === offer.model);
    if (!model) return;
    if (offer.requirements.model && offer.requirements.model !== model.sha256) return;
    if (offer.requirements.min_context && model.context_length < offer.requirements.min_context) return;
    const verdict: CanClaimReply = await this.deps.canClaim(offer.model, offer.max_tokens).catch((err: Error) => ({ ok: false, reason: err.message }));
    if (!verdict.ok) {
      this.deps.log.debug({ job_id: offer.job_id, reason: verdict.reason }, 'Offer not claimed');
      return;
    }
    // One scheduler request per claim: the verdict carries the queue (a second request is
    // only for a scheduler that does not send it).
    const q = verdict.queue ?? await this.deps.queue().catch(() => undefined);
    // A claim reserves room until its job arrives: many offers at once must not all be
    // claimed against the same free queue places.
    const pending = this.pendingClaims();
    const now = this.deps.clock.now();
    if (q && q.depth + pending >= q.capacity) {
      this.waiting.set(offer.client, now);
      this.deps.log.debug({ job_id: offer.job_id, depth: q.depth, pending, capacity: q.capacity }, 'Offer not claimed: queue full with pending claims');
      return;
    }
    // Fair admission: while other clients wait for room here, a client holds at most an equal
    // share of the queue; its further offers are claimed once the others have had theirs.
    const share = q ? this.fairShare(offer.client, q.capacity, now) : Infinity;
    if (this.heldBy(offer.client) >= share) {
      this.waiting.set(offer.client, now);
      this.deps.log.debug({ job_id: offer.job_id, client: offer.client, share }, 'Offer not claimed: its client holds its share while others wait');
      return;
    }
    if (entry.claimed) return; // claimed meanwhile (a copy of the offer handled concurrently)
    this.waiting.delete(offer.client);
    const free = q ? Math.max(0, q.slots - q.busy_slots - pending) : 0;
    const waitMs = free > 0 ? 0 : ((q?.depth ?? 0) + 1) * MEAN_SERVICE_MS;
    // The response-threshold rule: an idle node nearly always claims, a queued one seldom until
    // the client's next offers (louder each round) find nobody freer.
    if (!claimsOffer(entry.round, waitMs, MEAN_SERVICE_MS, this.deps.rng ?? Math.random)) {
      this.counters.declined++;
      this.deps.log.debug({ job_id: offer.job_id, round: entry.round, wait_ms: waitMs }, 'Offer not claimed: the response threshold drew no');
      return;
    }
    entry.claimed = true;
    this.pending.set(offer.job_id, this.deps.clock.now());
    this.counters.claimed++;
    const waiting = this.ahead.get(offer.job_id);
    if (waiting) {
      // Its request is here already: the job starts first (a turn of the event loop lets its
      // scheduler request go out), then the claim is signed and gossiped.
      waiting(entry);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await this.deps.publish(topic, 'job_claim', {
      job_id: offer.job_id, executor: this.deps.peerId, model_sha256: model.sha256,
      queue_depth: q?.depth ?? 0, est_start_ms: Math.round(waitMs), capacity: free,
    });
  }

  onToken(jobId: string, text: string): void {
    const s = this.streams.get(jobId);
    // A stream that cannot be written any more: the client has gone (or moved the job on).
    if (s) void writeLine(s, { t: 'token', text }).catch(() => this.abandon(jobId, s));
  }

  /** A client that chose us brings the job's payload. */
  async handleStream(stream: Stream, connection: Connection): Promise<void> {
    const started = this.deps.clock.now();
    let jobId: string | undefined;
    let ended: (() => void) | undefined;
    try {
      const lines = readLines(stream);
      // A spare waits for its client's next job; one let go (closed, reset, idle too long)
      // before a request is no refusal.
      const idle = this.deps.clock.setTimeout(() => stream.abort(new Error(`no job within ${SPARE_IDLE_MS} ms`)), SPARE_IDLE_MS);
      const first = await lines.next()
        .catch((err: Error) => { if (err instanceof JobStreamError) throw err; return { done: true as const, value: undefined }; })
        .finally(() => this.deps.clock.clearTimeout(idle));
      if (first.done) {
        this.deps.log.debug({ peer: connection.remotePeer.toString() }, 'Job stream let go before a request (a spare)');
        if (stream.status === 'open') await stream.close().catch(() => undefined);
        return;
      }
      const req = parseJobRequest(first.value);
      jobId = req.job_id;
      let offer = this.offers.get(req.job_id);
      if (!offer?.claimed && !this.draining) {
        offer = await this.claimOf(req.job_id);
        // The client gave the job to another claimant meanwhile: nothing to run, nobody to tell.
        if (stream.status !== 'open') return;
        if (offer) this.counters.started_ahead++;
      }
      if (!offer || !offer.claimed) throw new JobStreamError(`job ${req.job_id} was not offered to and claimed by this node`);
      this.pending.delete(req.job_id);
      if (offer.body.client !== connection.remotePeer.toString()) throw new JobStreamError('only the client that offered a job may bring it');
      // The client's stream is its latest word: a job first assigned elsewhere (an executor that
      // then died) comes here on a later attempt, possibly before that job_assign does.
      if (sha256(req.prompt) !== offer.body.prompt_sha256) throw new JobStreamError('prompt does not match the offer\'s prompt_sha256');
      const previous = this.streams.get(req.job_id);
      if (previous && previous.status !== 'open') {
        // The client let that stream go (it gave the job, sent ahead here, to another claimant,
        // which failed it) and brings the job again: that run is cancelled, and this one goes on
        // once it has ended (with its outcome, if it finished first).
        this.abandon(req.job_id, previous);
        await this.runs.get(req.job_id);
      }
      if (offer.done) {
        // Asked again (the client lost our answer): the same outcome, never a second run.
        await writeLine(stream, { t: 'done', ...offer.done });
        await stream.close();
        return;
      }
      if (this.draining) throw new DrainingStreamError('this node is draining (shutting down): offer the job to another node');
      if (this.streams.has(req.job_id)) throw new JobStreamError(`job ${req.job_id} is already running here`);
      this.streams.set(req.job_id, stream);
      const run = Promise.withResolvers<void>();
      this.runs.set(req.job_id, run.promise);
      ended = () => { if (this.runs.get(req.job_id) === run.promise) this.runs.delete(req.job_id); run.resolve(); };
      const o = offer.body;
      // Taken now: the model may be unloaded while the job runs, and its receipt still names it.
      const modelSha256 = this.deps.models.find((m) => m.name === o.model)?.sha256;
      if (modelSha256 === undefined) throw new JobStreamError(`model ${o.model} is no longer served here`);
      const keepalive = this.deps.clock.setInterval(() => void writeLine(stream, { t: 'alive' }).catch(() => this.abandon(o.job_id, stream)), KEEPALIVE_MS);
      let result: JobResult;
      try {
        result = await this.deps.submit({
          id: o.job_id, client: o.client, priority: o.priority, model: o.model, prompt: req.prompt,
          max_tokens: o.max_tokens, temperature: o.temperature, ...(o.seed === undefined ? {} : { seed: o.seed }),
        });
      } catch (err) {
        // The job was accepted here and then lost by a crash inside this node (the scheduler
        // restarting, say): it ends in a signed receipt that says so, never in silence.
        if (!LOST_INSIDE.has((err as Error).name)) throw err;
        result = failedResult(o.job_id, `${(err as Error).message}`);
      } finally {
        this.deps.clock.clearInterval(keepalive);
      }
      if (this.abandoned.has(stream) && result.status === 'cancelled') {
        // Its client let the stream go (it gave the job, sent ahead here, to another claimant;
        // or it went away): nothing ran to its end, so nothing is sealed, and the client may
        // still bring the job here (the other claimant failed), where it runs anew.
        return;
      }
      if (result.status === 'cancelled' && result.reason === DRAIN_REASON) {
        // Taken out of the queue by the drain before it started: nothing ran, the client offers it again.
        this.counters.handed_back++;
        throw new DrainingStreamError('this node is draining (shutting down) and handed the queued job back: offer it to another node');
      }
      if (result.status !== 'completed' && this.cutByDrain.has(o.job_id)) {
        // Still running at the drain's deadline: a signed failed receipt records the cut, and
        // the client is told to offer the job again (the receipt of its next run replaces this one).
        const receipt = await this.seal(o, modelSha256, req.prompt, { ...result, status: 'failed', reason: DRAIN_REASON }, started);
        // Kept like any receipt this node signs; the node is stopping, so a store that fails only costs a log line.
        await this.deps.storeReceipt(receipt).catch((err: Error) => this.deps.log.warn({ err, job_id: o.job_id }, 'Drain receipt not kept in the store'));
        this.gossipReceipt(receipt);
        await writeLine(stream, { t: 'error', reason: 'this node drained (shut down) before the job finished: offer it to another node', retry: true, receipt });
        await stream.close();
        return;
      }
      this.counters.executed++;
      const receipt = await this.seal(o, modelSha256, req.prompt, result, started);
      // Durable before anyone hears of it: a receipt the client holds is one this node kept.
      // Unstorable (a full disk), the job ends in an error frame that says so.
      await this.deps.storeReceipt(receipt).catch((err: Error) => {
        throw new Error(`the receipt could not be kept in this node's store: ${err.message}`, { cause: err });
      });
      offer.done = { text: result.text, receipt };
      await writeLine(stream, { t: 'done', text: result.text, receipt });
      await stream.close();
      this.gossipReceipt(receipt);
    } catch (err) {
      this.counters.refused_streams++;
      const reason = (err as Error).message;
      // Full after all (the claim's reservation expired, or jobs came from elsewhere), or
      // draining: the client may offer the job again, and a full node may claim it again once
      // it has room.
      const retry = RETRYABLE.has((err as { code?: string }).code ?? '');
      const offer = jobId === undefined ? undefined : this.offers.get(jobId);
      if (retry && offer) offer.claimed = false;
      this.deps.log.warn({ job_id: jobId, peer: connection.remotePeer.toString(), reason }, 'Job stream refused or failed');
      await writeLine(stream, { t: 'error', reason, ...(retry ? { retry: true } : {}) }).then(() => stream.close(), () => stream.abort(err as Error)).catch(() => undefined);
    } finally {
      if (jobId && this.streams.get(jobId) === stream) this.streams.delete(jobId);
      ended?.();
      this.streamEnded?.();
    }
  }

  /** Whether the node drains: it claims nothing and takes no job stream. */
  get isDraining(): boolean { return this.draining; }

  /** The drain's first step: from now on no offer is claimed and every new job stream is refused, retryably. */
  beginDrain(): void {
    this.draining = true;
    this.drainStart ??= { held: this.streams.size, handedBack: this.counters.handed_back };
  }

  /**
   * Waits up to timeoutMs for the jobs running here to end (queued ones are handed back by the
   * scheduler's drain); then cancels the rest, which end with a failed receipt (reason `drain`)
   * and a retryable refusal to their clients.
   */
  async drain(timeoutMs: number): Promise<ExecutorDrainReport> {
    this.beginDrain();
    // Counted from the drain's first step: a job that ended while the scheduler handed its
    // queue back (before this call) was finished by the drain all the same.
    const { held, handedBack } = this.drainStart!;
    await this.streamsEnded(timeoutMs);
    const left = [...this.streams.keys()];
    for (const id of left) {
      this.cutByDrain.add(id);
      this.deps.cancel(id);
    }
    if (left.length > 0) {
      this.deps.log.warn({ jobs: left }, 'Drain deadline passed: ending the jobs still running with a failed receipt (reason drain)');
      await this.streamsEnded(DRAIN_CANCEL_GRACE_MS);
    }
    return { finished: held - left.length - (this.counters.handed_back - handedBack), ended_by_drain: left.length };
  }

  /** Waits for the receipts being put in the DHT (a drain's flush step). */
  async flushReceipts(): Promise<void> {
    await Promise.allSettled([...this.publishing]);
  }

  private gossipReceipt(receipt: Envelope<'receipt'>): void {
    const p = this.deps.publishSealed(RECEIPT_TOPIC, receipt).catch(() => undefined);
    this.publishing.add(p);
    void p.finally(() => this.publishing.delete(p));
  }

  /** Resolves once no job stream is open, or after ms. */
  private async streamsEnded(ms: number): Promise<void> {
    const deadline = this.deps.clock.now() + ms;
    while (this.streams.size > 0 && this.deps.clock.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = this.deps.clock.setTimeout(() => resolve(), Math.min(250, Math.max(1, deadline - this.deps.clock.now())));
        this.streamEnded = () => { this.deps.clock.clearTimeout(t); resolve(); };
      });
      this.streamEnded = undefined;
    }
  }

  /** A request that came before its claim: the claimed offer once this node claims it, undefined after AHEAD_WAIT_MS. */
  private claimOf(jobId: string): Promise<Offer | undefined> {
    if (this.ahead.has(jobId)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (o: Offer | undefined) => {
        this.deps.clock.clearTimeout(timer);
        this.ahead.delete(jobId);
        resolve(o);
      };
      const timer = this.deps.clock.setTimeout(() => done(undefined), AHEAD_WAIT_MS);
      this.ahead.set(jobId, done);
    });
  }

  private abandon(jobId: string, stream: Stream): void {
    if (this.streams.get(jobId) !== stream) return;
    this.streams.delete(jobId);
    this.abandoned.add(stream);
    this.deps.log.info({ job_id: jobId }, 'Job abandoned: its client is gone');
    this.deps.cancel(jobId);
  }

  private async seal(o: WorkOfferBody, modelSha256: string, prompt: string, r: JobResult, startedAt: number): Promise<Envelope<'receipt'>> {
    const now = this.deps.clock.now();
    const body: ReceiptBody = {
      job_id: o.job_id, executor: this.deps.peerId, client: o.client, model: o.model, model_sha256: modelSha256,
      input_sha256: sha256(prompt), output_sha256: sha256(r.text), tokens_in: r.tokens_in, tokens_out: r.tokens_out,
      timings: {
        queue_ms: Math.round(r.queue_ms + r.timings.queue_ms), load_ms: 0,
        first_token_ms: Math.round(r.timings.first_token_ms ?? r.timings.generation_ms),
        generation_ms: Math.round(r.timings.generation_ms), tokens_per_s: r.timings.tokens_per_s,
      },
      status: r.status, ...(r.status === 'completed' ? {} : { reason: (r.reason ?? r.status).slice(0, 512) }),
      started_at: startedAt, finished_at: Math.max(startedAt, now),
    };
    return sealReceipt(this.deps.privateKey, body, now, this.deps.protocolVersion ? { v: this.deps.protocolVersion } : {});
  }

  /** Queue places a client's jobs hold here: claims not yet brought, and jobs queued or running. */
  private heldBy(client: string): number {
    let n = 0;
    for (const id of this.pending.keys()) if (this.offers.get(id)?.body.client === client) n++;
    for (const id of this.streams.keys()) if (this.offers.get(id)?.body.client === client) n++;
    return n;
  }

  /** The queue split evenly among this client and the others waiting (Infinity when none waits). */
  private fairShare(client: string, capacity: number, now: number): number {
    let others = 0;
    for (const [c, at] of this.waiting) {
      if (now - at > WAITING_MS) this.waiting.delete(c);
      else if (c !== client) others++;
    }
    return others === 0 ? Infinity : Math.max(1, Math.floor(capacity / (others + 1)));
  }

  /** Claims still waiting for their job; those older than CLAIM_HOLD_MS are let go. */
  private pendingClaims(): number {
    const now = this.deps.clock.now();
    // Insertion order is claim order: the expired ones are at the front.
    for (const [id, at] of this.pending) {
      if (now - at < CLAIM_HOLD_MS) break;
      this.pending.delete(id);
    }
    return this.pending.size;
  }

  private remember(id: string, o: Offer): void {
    if (this.offers.size >= MAX_OFFERS) this.offers.delete(this.offers.keys().next().value!);
    this.offers.set(id, o);
  }
}
