// The store actor: the one owner of the node's LevelDB (src/store/). It opens the store at start
// (migrating an older data directory, refusing a damaged one), answers reads and writes by
// message, prunes on a timer when limits are set, and tells the network actor when writes fail
// (a full disk: the node stops claiming jobs) or work again. Reads go on either way.
//
// States: opening → open ⇄ read_only (writes fail: a full disk; reads go on), failed (could not open).
import { setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import { lifecycle } from '../../runtime/lifecycle.ts';
import type { Inbox, ReplyIn, RequestsIn } from '../../runtime/protocol.ts';
import { openStore, type NodeStore } from '../../store/store.ts';
import { SCHEMA_VERSION } from '../../store/layout.ts';
import type { StoreArgs, StoreProtocol, StoreWritable } from './messages.ts';

export type { StoreArgs } from './messages.ts';

const PRUNE_EVERY_MS = 60_000;

export default defineActor<StoreArgs | undefined, StoreProtocol>({
  machine: (ctx) => {
    const args = ctx.args ?? {};
    const limits = ctx.config.store;
    let store: NodeStore | undefined;
    let writable = true;

    const notify = (ok: boolean, error?: string) => {
      writable = ok;
      life.poke();
      if (ok) ctx.log.info({}, 'Store writes work again: the node claims jobs again');
      else ctx.log.error({ error, path: store?.path }, 'Store write failed: the node stops claiming jobs and keeps serving reads');
      ctx.send('network', { type: 'store.writable', writable: ok, ...(error !== undefined ? { error } : {}) } satisfies StoreWritable);
    };

    const open = async () => {
      store = await openStore({
        ...(args.nodeDir !== undefined ? { nodeDir: args.nodeDir } : {}),
        ...(args.legacy ? { legacy: args.legacy } : {}),
        create: true, now: () => ctx.clock.now(), log: ctx.log, onWritable: notify,
      });
      ctx.own(() => store?.close());
      const st = await store.status();
      ctx.log.info({ path: st.path, schema_version: SCHEMA_VERSION, receipts: st.receipts, jobs: st.jobs, size_bytes: st.size_bytes }, 'Store open');
      const pruning = limits.receipts_max_age_days + limits.receipts_max_count + limits.jobs_max_age_days + limits.jobs_max_count > 0;
      if (pruning) {
        const prune = () => store!.prune(limits).then(
          (n) => { if (n.receipts + n.jobs > 0) ctx.log.info(n, 'Store pruned'); },
          (err: Error) => ctx.log.warn({ err: err.message }, 'Store pruning failed'));
        void prune();
        const timer = ctx.clock.setInterval(() => void prune(), PRUNE_EVERY_MS);
        ctx.own(() => ctx.clock.clearInterval(timer));
      }
    };

    /** Answers a request with what `work` resolves to (the reply its protocol promises), or with its error. */
    const answer = <E extends RequestsIn<StoreProtocol> & { replyTo: string }>(e: E, work: () => Promise<ReplyIn<StoreProtocol, E['type']>>) => {
      let p: Promise<ReplyIn<StoreProtocol, E['type']>>;
      try { p = work(); } catch (err) { ctx.replyError(e.replyTo, err); return; }
      p.then((v) => ctx.answer(e, v), (err: unknown) => ctx.replyError(e.replyTo, err));
    };
    /** The protocol answers "none" with null, and a write with null once it is done. */
    const orNull = <T>(p: Promise<T | undefined>) => p.then((v) => v ?? null);
    const done = (p: Promise<void>) => p.then(() => null);
    const page = (e: { before?: string; after?: string; limit?: number }) => ({
      ...(e.before !== undefined ? { before: e.before } : {}), ...(e.after !== undefined ? { after: e.after } : {}), limit: e.limit ?? 100,
    });

    const life = lifecycle(ctx, open);
    return setup({
      types: { events: {} as Inbox<StoreProtocol> | { type: 'actor.changed' } },
      actors: life.actors,
      actions: life.actions,
      guards: { writable: () => writable, failing: () => !writable },
    }).createMachine({
      id: 'store',
      initial: 'opening',
      output: life.output,
      invoke: { src: 'changes' },
      states: {
        opening: life.starting('open'),
        open: { always: { guard: 'failing', target: 'read_only' } },
        read_only: { always: { guard: 'writable', target: 'open' } },
        failed: life.failed,
      },
      // Reads and writes are answered alike in open and read_only: a write in read_only fails
      // with the store's own error, which is what the asker should see.
      on: {
        'store.receipt_put': { actions: ({ event: e }) => answer(e, () => store!.putReceipt(e.receipt, e.role)) },
        'store.receipt': { actions: ({ event: e }) => answer(e, () => orNull(store!.receipt(e.job_id))) },
        'store.receipts': { actions: ({ event: e }) => answer(e, () => store!.receipts(page(e))) },
        'store.job': {
          actions: ({ event: e }) => {
            store!.recordJob(e.record).catch((err: Error) => ctx.log.debug({ job_id: e.record.id, err: err.message }, 'Job history not written'));
          },
        },
        'store.job_get': { actions: ({ event: e }) => answer(e, () => orNull(store!.job(e.id))) },
        'store.jobs': {
          actions: ({ event: e }) => answer(e, () => store!.jobs({ ...page(e), ...(e.status !== undefined ? { status: e.status } : {}) })),
        },
        'store.value_get': { actions: ({ event: e }) => answer(e, () => store!.getValue(e.name)) },
        'store.value_put': { actions: ({ event: e }) => answer(e, () => done(store!.putValue(e.name, e.value, e.durable))) },
        'store.value_delete': { actions: ({ event: e }) => answer(e, () => done(store!.deleteValue(e.name, e.durable))) },
        'store.values': { actions: ({ event: e }) => answer(e, () => store!.values(e.prefix)) },
        'store.status': { actions: ({ event: e }) => answer(e, () => store!.status()) },
        'store.check': { actions: ({ event: e }) => answer(e, () => store!.check()) },
      },
    });
  },
});
