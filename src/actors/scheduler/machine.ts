// The scheduler actor's machine, turning messages into calls on the Dispatcher (dispatch.ts) and
// its dispatches into `inference.generate` requests to the `inference:<model>` actors. A job's
// submitter is answered when the inference actor answers. Its states:
//
//   starting → accepting ⇄ full → draining
//
// `accepting` takes submissions; `full` is a queue at its capacity (a submission is refused with
// QueueFullError until a job leaves the queue or the capacity grows); `draining` (scheduler.drain)
// refuses every submission and claim for good while the running jobs end. Every state answers
// status, cancels and the rest alike; the state follows the queue (guards re-evaluated after each
// event, and after each job that ends: life.poke).
//
// A job whose inference actor dies under it (ActorDownError) or never answers (the backstop
// timeout of timeouts.ts) ends `failed` with the reason; it is not retried here. Tokens go
// straight from the inference actor to the job's stream_to, so the scheduler cannot know whether
// the client already saw part of an answer; a retry could stream a second one. Retrying is the
// network's lease: the offerer re-offers a failed job. Jobs still queued when an
// inference actor goes down wait for its restart (`sys.actor_up`) and run then.
import { setup } from 'xstate';
import type { ActorContext } from '../../runtime/actor.ts';
import { lifecycle, type ChangedEvent } from '../../runtime/lifecycle.ts';
import type { Inbox } from '../../runtime/protocol.ts';
import { inferenceAddress, type GenerateRequest, type GenerateResult } from '../inference/messages.ts';
import { Dispatcher, resultWithoutOutput, type Dispatch, type Ending } from './dispatch.ts';
import { DEFAULT_LOAD_THRESHOLDS, canClaim, type HostReadings, type LoadThresholds } from './load.ts';
import { JobHistory } from './history.ts';
import { DRAIN_REASON, DrainingError } from './errors.ts';
import type { CanClaimReply, CancelReply, ClaimableState, DrainReply, SchedulerMetrics, SchedulerProtocol, SchedulerStatus } from './messages.ts';
import { JobStats } from './stats.ts';
import { inferenceReplyTimeoutMs } from './timeouts.ts';

/** Structured-cloneable start arguments of the scheduler actor. */
export interface SchedulerArgs {
  /** The models served here; slots = the sum of their sequences. */
  models: Array<{ name: string; sequences: number; /** default `model.max_context_length` */ contextSize?: number }>;
  /** Load manager limits (load.ts), each defaulting to DEFAULT_LOAD_THRESHOLDS. */
  load?: Partial<LoadThresholds>;
  /** Queue aging: one priority level per this many ms waited (default 30 s). */
  agingMs?: number;
  /** Finished results kept for repeated ids (default 512). */
  finishedCapacity?: number;
  /** Job records kept for GET /jobs (default 1000). */
  historyCapacity?: number;
  /** The actor told the claim verdicts whenever they change (`network.claimable`); none by default. */
  claimableTo?: 'network';
}

/** The claim verdicts are checked this often besides every change of the queue: memory and load move on their own. */
const CLAIMABLE_CHECK_MS = 1000;


export function schedulerMachine(ctx: ActorContext<SchedulerArgs | undefined, SchedulerProtocol>, readings: HostReadings) {
  const args: SchedulerArgs = ctx.args ?? { models: [] };
  const book = new Dispatcher<string>({
    models: args.models.map((m) => ({ name: m.name, sequences: m.sequences, contextSize: m.contextSize ?? ctx.config.model.max_context_length })),
    capacity: ctx.config.executor.max_queue_size,
    ...(args.agingMs !== undefined ? { agingMs: args.agingMs } : {}),
    ...(args.finishedCapacity !== undefined ? { finishedCapacity: args.finishedCapacity } : {}),
  });
  const limits: LoadThresholds = { ...DEFAULT_LOAD_THRESHOLDS, maxLoadPerCore: ctx.config.executor.max_load_per_core, ...args.load };
  const history = new JobHistory(args.historyCapacity, (record) => ctx.send('store', { type: 'store.job', record }));
  const stats = new JobStats(book.modelNames);
  const life = lifecycle(ctx);
  let stopped = false;
  /** Set by scheduler.drain: submissions are refused from then on. */
  let draining = false;
  ctx.own(() => { stopped = true; });
  /** Models being retired → who waits for their last job to end. */
  const retiring = new Map<string, string[]>();
  const checkRetired = () => {
    for (const [name, waiters] of retiring) {
      if (!book.retired(name)) continue;
      retiring.delete(name);
      ctx.log.info({ model: name }, 'Model retired: its last job has ended');
      for (const w of waiters) ctx.reply(w, { model: name, retired: true });
    }
  };

  /** `ran`: the inference actor answered (the result's timings are real). */
  const answer = ({ result, model, waiters }: Ending<string>, ran: boolean) => {
    ctx.log.debug({ job_id: result.job_id, status: result.status, queue_ms: result.queue_ms, waiters: waiters.length }, 'Job ended');
    history.ended(result, ran, ctx.clock.now());
    stats.ended(model, result, ran);
    for (const w of waiters) ctx.reply(w, result);
  };

  const settle = (id: string, result: GenerateResult, ran: boolean) => {
    if (stopped) return;
    const ending = book.finish(id, result);
    if (ending) answer(ending, ran);
    checkRetired();
    pump();
    life.poke();
  };

  const run = ({ job, streamTo }: Dispatch) => {
    const to = inferenceAddress(job.model);
    const req: GenerateRequest = {
      type: 'inference.generate', job_id: job.id, prompt: job.prompt, max_tokens: job.max_tokens, temperature: job.temperature,
      ...(job.seed !== undefined ? { seed: job.seed } : {}),
      ...(job.timeout_ms !== undefined ? { timeout_ms: job.timeout_ms } : {}),
      ...(streamTo !== undefined ? { stream_to: streamTo } : {}),
    };
    ctx.request(to, req, inferenceReplyTimeoutMs(ctx.config, job.timeout_ms)).then(
      (result) => settle(job.id, result, true),
      (err: Error) => {
        // A wedged actor may still hold the job: ask it to let go (a no-op if it has not got it).
        if (err.name === 'RequestTimeoutError') ctx.send(to, { type: 'inference.cancel', job_id: job.id });
        ctx.log.warn({ job_id: job.id, model: job.model, err: err.message }, 'Job lost its inference actor');
        settle(job.id, resultWithoutOutput(job.id, 'failed', `${to} did not finish the job: ${err.message}`), false);
      },
    );
  };

  const pump = () => {
    const now = ctx.clock.now();
    for (const d of book.dispatch(now)) { history.started(d.job.id, now); run(d); }
    tellClaimable();
  };

  /** Sends the claim verdicts (ClaimableState) to claimableTo when they differ from the last sent. */
  let lastClaimable = '';
  const tellClaimable = () => {
    const to = args.claimableTo;
    if (to === undefined || stopped) return;
    const models: ClaimableState['models'] = {};
    for (const name of book.modelNames) {
      const m = book.model(name);
      if (m) models[name] = { ok: !draining && canClaim({ model: name, max_tokens: 1 }, book, readings, limits).ok, context_size: m.contextSize };
    }
    const { depth, capacity, busy_slots, slots } = book.status();
    const state: ClaimableState = { models, queue: { depth, capacity, busy_slots, slots } };
    const json = JSON.stringify(state);
    if (json === lastClaimable) return;
    lastClaimable = json;
    ctx.send(to, { type: 'network.claimable', state });
  };
  if (args.claimableTo !== undefined) {
    const check = ctx.clock.setInterval(tellClaimable, CLAIMABLE_CHECK_MS);
    ctx.own(() => ctx.clock.clearInterval(check));
  }

  const modelOf = (actor: string) => actor.startsWith('inference:') ? actor.slice('inference:'.length) : undefined;

  const full = () => book.status().depth >= book.capacity;
  return setup({
    types: { events: {} as Inbox<SchedulerProtocol> | ChangedEvent },
    actors: life.actors,
    actions: life.actions,
    guards: { draining: () => draining, full: () => !draining && full(), room: () => !draining && !full() },
  }).createMachine({
    id: 'scheduler',
    initial: 'starting',
    output: life.output,
    invoke: { src: 'changes' },
    states: {
      starting: life.starting('accepting'),
      accepting: { always: [{ guard: 'draining', target: 'draining' }, { guard: 'full', target: 'full' }] },
      full: { always: [{ guard: 'draining', target: 'draining' }, { guard: 'room', target: 'accepting' }] },
      draining: {},
      failed: life.failed,
    },
    on: {
      'scheduler.submit': {
        actions: ({ event }) => {
          const now = ctx.clock.now();
          if (draining) {
            stats.refusedWith('draining');
            ctx.replyError(event.replyTo, new DrainingError());
            return;
          }
          const a = book.submit(event.job, event.replyTo, event.stream_to ?? event.from, now);
          if (a.kind === 'refused') {
            stats.refusedWith((a.error as { code?: string }).code ?? a.error.name);
            ctx.replyError(event.replyTo, a.error);
          } else if (a.kind === 'finished') {
            ctx.answer(event, a.result);
          } else if (a.kind === 'queued') {
            history.queued(event.job, now);
            pump();
          }
        },
      },
      'scheduler.cancel': {
        actions: ({ event }) => {
          const id = event.job_id;
          let reply: CancelReply;
          const ending = book.cancelQueued(id, 'cancelled while queued', ctx.clock.now());
          const model = book.runningModel(id);
          if (ending) {
            answer(ending, false);
            reply = { job_id: id, cancelled: true, state: 'queued' };
          } else if (model !== undefined) {
            // The inference actor ends the job in-band; its result reaches the waiters as usual.
            ctx.send(inferenceAddress(model), { type: 'inference.cancel', job_id: id });
            reply = { job_id: id, cancelled: true, state: 'running' };
          } else {
            reply = { job_id: id, cancelled: false, state: book.stateOf(id) ?? 'unknown' };
          }
          if (event.replyTo !== undefined) ctx.answer(event, reply);
          tellClaimable();
        },
      },
      'scheduler.drain': {
        actions: ({ event }) => {
          draining = true;
          const endings = book.cancelAllQueued(DRAIN_REASON, ctx.clock.now());
          for (const e of endings) answer(e, false);
          ctx.log.info({ handed_back: endings.length, running: book.runningIds().length }, 'Scheduler draining: queued jobs handed back');
          ctx.answer(event, { handed_back: endings.map((e) => e.result.job_id), running: book.runningIds() } satisfies DrainReply);
          tellClaimable();
        },
      },
      'scheduler.can_claim': {
        actions: ({ event }) => {
          if (draining) { ctx.answer(event, { ok: false, reason: 'the node is draining' } satisfies CanClaimReply); return; }
          const { depth, capacity, busy_slots, slots } = book.status();
          ctx.answer(event, { ...canClaim({ model: event.model, max_tokens: event.max_tokens }, book, readings, limits), queue: { depth, capacity, busy_slots, slots } } satisfies CanClaimReply);
        },
      },
      'scheduler.status': { actions: ({ event }) => ctx.answer(event, book.status() satisfies SchedulerStatus) },
      'scheduler.jobs': {
        actions: ({ event }) => ctx.answer(event, history.list(Math.min(1000, Math.max(1, event.limit ?? 100)), event.status)),
      },
      'scheduler.job': { actions: ({ event }) => ctx.answer(event, history.get(event.job_id) ?? null) },
      'scheduler.metrics': {
        actions: ({ event }) => ctx.answer(event, { queue: book.status(), ...stats.snapshot() } satisfies SchedulerMetrics),
      },
      'scheduler.add_model': {
        actions: ({ event }) => {
          const m = event.model;
          if (retiring.has(m.name)) { ctx.replyError(event.replyTo, new Error(`model ${m.name} is still being retired here`)); return; }
          const added = book.addModel({ name: m.name, sequences: m.sequences, contextSize: m.contextSize ?? ctx.config.model.max_context_length });
          if (added) stats.addModel(m.name);
          ctx.answer(event, book.status());
          pump();
        },
      },
      'scheduler.retire_model': {
        actions: ({ event }) => {
          const reason = `model ${event.name} was unloaded from this node before the job started`;
          const endings = book.retireModel(event.name, reason, ctx.clock.now());
          if (!endings) { ctx.answer(event, { model: event.name, retired: false }); return; }
          for (const e of endings) answer(e, false);
          retiring.set(event.name, [...(retiring.get(event.name) ?? []), event.replyTo]);
          checkRetired();
          tellClaimable();
        },
      },
      'scheduler.set_capacity': {
        actions: ({ event }) => { book.capacity = event.capacity; ctx.answer(event, book.status()); tellClaimable(); },
      },
      // Queued jobs for a restarting model stay here (cancellable) until it is back.
      'sys.actor_down': {
        actions: ({ event }) => { const m = modelOf(event.name); if (m !== undefined) book.setModelUp(m, false); tellClaimable(); },
      },
      'sys.actor_up': {
        actions: ({ event }) => {
          const m = modelOf(event.name);
          if (m !== undefined && book.setModelUp(m, true)) pump();
          // A restarted network actor knows no verdicts: it is told them all again.
          if (event.name === args.claimableTo) lastClaimable = '';
          tellClaimable();
        },
      },
    },
  });
}
