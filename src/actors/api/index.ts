// The api actor: an HTTP server, loopback by default, that shows and steers the
// node: health, actors (kill / restart), peers, jobs with their receipts, the node's manifest and
// Prometheus metrics, the OpenAI-compatible gateway under /v1 (openai.ts, gateway.ts), and the web
// console at / with its event stream GET /events (events.ts). Every
// answer is asked of the actor that knows it, at request time, so the api works the same inline
// or on its own thread. The server and api.json are released on stop (ctx.own).
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromPromise, setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import type { ActorAddress, NoExtra, RequestOf } from '../../runtime/protocol.ts';
import { SUPERVISOR, type ActorInfo, type KillReply, type SupervisorRequest } from '../../runtime/supervisor.ts';
import type { Manifest } from '../../protocol/index.ts';
import type { BlockReply, NetworkStatus, PeerSummary, QueueStatus } from '../network/messages.ts';
import type { BlockedPeer } from '../network/gate.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';
import type { JobRecordStatus, SchedulerMetrics } from '../scheduler/messages.ts';
import type { CheckReport, Page, PageQuery, StoredJob, StoredReceipt, StoreStatus } from '../../store/store.ts';
import { errorCodeOf } from '../../errors/registry.ts';
import { healthOf } from './health.ts';
import { ApiError, ApiListenError, type ApiArgs, type ApiFile, type ApiIn, type DrainAccepted } from './messages.ts';
import { renderMetrics } from './metrics.ts';
import { createApiServer, listenApi } from './server.ts';
import { NetworkGateway } from './gateway.ts';
import { registerOrchestratorRoutes } from './orchestrator-routes.ts';
import { ModelControl, registerModelRoutes } from './models.ts';
import type { PullProgress } from '../network/model-transfer.ts';
import { EventHub, type EventTopic } from './events.ts';
import type { RecentDecisions } from '../orchestrator/messages.ts';
import type { ConsensusStatus } from '../consensus/messages.ts';
import type { DistributedDecision } from '../consensus/router.ts';

export type { ApiArgs } from './messages.ts';

/** How long a route waits for another actor; a silent actor makes /health degraded, not slow. */
export const REQUEST_TIMEOUT_MS = 1000;
/** Killing waits for the actor to die; restarting, for it to stop and start again (a model reloads). */
const KILL_TIMEOUT_MS = 60_000;
/** Store reads (a page is read from one snapshot); a check reads every record. */
const STORE_TIMEOUT_MS = 5000;
const CHECK_TIMEOUT_MS = 120_000;
const RESTART_TIMEOUT_MS = 180_000;

/**
 * An actor's failure as the HTTP answer it becomes. Its registry code says the status (the
 * server's error handler); only the supervisor's `actor_down` means something else here: the
 * supervisor is never down, so the actor to kill or restart is not running.
 */
function asApiError(err: unknown, to: string): unknown {
  if (to === SUPERVISOR && errorCodeOf(err) === 'actor_down') return new ApiError('actor_not_running', (err as Error).message);
  return err;
}

export default defineActor<ApiArgs>({
  machine: (ctx) => {
    const cfg = ctx.config.api;
    const ask = <N extends ActorAddress, const M extends RequestOf<N>>(to: N, msg: M & NoExtra<M, RequestOf<N>>, timeoutMs = REQUEST_TIMEOUT_MS) =>
      ctx.request(to, msg, timeoutMs).catch((err: unknown) => { throw asApiError(err, to); });
    const askSupervisor = <const M extends RequestOf<typeof SUPERVISOR>>(msg: M & NoExtra<M, RequestOf<typeof SUPERVISOR>>, timeoutMs?: number) => ask(SUPERVISOR, msg, timeoutMs);
    const quiet = <T>(p: Promise<T>) => p.catch(() => undefined);
    // Owned before the server, so released after it (reverse order): no request outlives its client.
    const gateway = new NetworkGateway({
      ask: (actor, msg, timeoutMs) => ctx.request(actor, msg, timeoutMs), config: ctx.config, log: ctx.log,
      ...(ctx.args.swarmKey ? { swarmKey: ctx.args.swarmKey } : {}),
    });
    ctx.own(() => gateway.close());

    const pullDir = join(ctx.args.dataDir || join(ctx.config.node.data_dir, ctx.args.nodeId), 'pulled');
    const models = new ModelControl({ config: ctx.config, ask, pullDir });

    // Each topic of the console's feed is what the matching REST route answers, so a page can
    // resynchronise from either.
    const api = {
      peers: () => ask('network', { type: 'network.peers' }),
      actors: () => askSupervisor({ type: 'supervisor.actors' }),
      jobs: (q: PageQuery & { status?: JobRecordStatus }) => ask('store', { type: 'store.jobs', ...q }, STORE_TIMEOUT_MS),
      async orchestration() {
        const [status, recent] = await Promise.all([
          ask('consensus', { type: 'consensus.status' }),
          ask('consensus', { type: 'consensus.recent', limit: 20 }),
        ]);
        return { ...status, recent: recent.decisions };
      },
    };
    const topics: Record<EventTopic, () => Promise<unknown>> = {
      peers: api.peers,
      actors: api.actors,
      jobs: async () => (await api.jobs({ limit: 100 })).items,
      orchestration: api.orchestration,
      decisions: () => ask('orchestrator', { type: 'orchestrator.recent', limit: 20 }),
      // This node's models, the swarm's and the pulls (GET /models): pull progress moves live.
      models: () => models.list(),
    };
    const hub = new EventHub({ read: (t) => topics[t](), node: { node_id: ctx.args.nodeId, peer_id: ctx.args.peerId } });

    const app = createApiServer({
      token: cfg.token,
      events: hub,
      log: ctx.log,
      routes: {
        self: ctx.name,
        async health() {
          const [network, queue, actors, consensus] = await Promise.all([
            quiet(ask('network', { type: 'network.status' })),
            quiet(ask('scheduler', { type: 'scheduler.status' })),
            quiet(askSupervisor({ type: 'supervisor.actors' })),
            quiet(ask('consensus', { type: 'consensus.status' })),
          ]);
          return healthOf(ctx.args, { network, queue, actors, consensus }, ctx.clock.now(), ctx.config.executor.max_queue_size);
        },
        orchestration: api.orchestration,
        actors: api.actors,
        kill: (name, mode) => askSupervisor({ type: 'supervisor.kill', name, mode }, KILL_TIMEOUT_MS),
        restart: (name) => askSupervisor({ type: 'supervisor.restart', name }, RESTART_TIMEOUT_MS),
        peers: api.peers,
        blocked: () => ask('network', { type: 'network.blocked' }),
        block: (peer) => ask('network', { type: 'network.block', peer_id: peer }),
        unblock: (peer) => ask('network', { type: 'network.unblock', peer_id: peer }),
        jobs: api.jobs,
        receipts: (q) => ask('store', { type: 'store.receipts', ...q }, STORE_TIMEOUT_MS),
        store: () => ask('store', { type: 'store.status' }, STORE_TIMEOUT_MS),
        storeCheck: () => ctx.request('store', { type: 'store.check' }, CHECK_TIMEOUT_MS),
        async job(id) {
          // The ledger first (receipts of jobs run or asked for here), then the network's book
          // of receipts heard by gossip.
          const [job, kept] = await Promise.all([
            ask('store', { type: 'store.job_get', id }, STORE_TIMEOUT_MS),
            ask('store', { type: 'store.receipt', job_id: id }, STORE_TIMEOUT_MS),
          ]);
          const receipt = kept?.receipt ?? await ask('network', { type: 'network.receipt', job_id: id });
          if (job === null && receipt === null) throw new ApiError('unknown_job', `this node has no record and no receipt of job ${id}`);
          return { job, receipt };
        },
        manifest: () => ask('network', { type: 'network.manifest' }),
        // The node answers this one in its supervisor's name (create-node.ts).
        drain: () => ask(SUPERVISOR, { type: 'node.drain' }),
        async metrics() {
          if (!ctx.config.monitoring.metrics_enabled) {
            throw new ApiError('metrics_disabled', 'metrics are off on this node (monitoring.metrics_enabled = false)');
          }
          const [scheduler, network, actors, pulls, store] = await Promise.all([
            quiet(ask('scheduler', { type: 'scheduler.metrics' })),
            quiet(ask('network', { type: 'network.status' })),
            quiet(askSupervisor({ type: 'supervisor.actors' })),
            quiet(ask('network', { type: 'network.pulls' })),
            quiet(ask('store', { type: 'store.status' })),
          ]);
          return renderMetrics(ctx.args, { scheduler, network, actors, store, ...(pulls ? { pulls } : {}) }, ctx.clock.now());
        },
      },
      openai: gateway,
    });
    registerModelRoutes(app, models);
    registerOrchestratorRoutes(app, { request: (msg, ms) => ctx.request('orchestrator', msg, ms), config: ctx.config.orchestrator });
    ctx.own(() => app.close());
    // Owned after the server, so released before it: open streams end instead of holding up close.
    ctx.own(() => hub.close());
    let url = '';

    async function start(): Promise<void> {
      const cell = ctx.args.portCell;
      const previous = cell ? Atomics.load(cell, 0) : 0;
      if (cfg.port === 0 && previous > 0) {
        // Restarted: where clients already know to look, unless someone took the port meanwhile.
        url = await listenApi(app, cfg.listen, previous).catch(async (err: unknown) => {
          if (!(err instanceof ApiListenError)) throw err;
          ctx.log.warn({ port: previous, err: err.message }, 'The API\'s previous port is taken; listening on a new one');
          return listenApi(app, cfg.listen, 0);
        });
      } else {
        url = await listenApi(app, cfg.listen, cfg.port);
      }
      if (cell) Atomics.store(cell, 0, Number(new URL(url).port));
      if (ctx.args.dataDir !== '') {
        const file = join(ctx.args.dataDir, 'api.json');
        await writeFile(file, `${JSON.stringify({ url, pid: process.pid } satisfies ApiFile)}\n`, { mode: 0o600 });
        ctx.own(() => rm(file, { force: true }));
      }
      ctx.log.info({ url }, `API listening on ${url}`);
      ctx.log.info({ url: `${url}/` }, `Console at ${url}/`);
    }

    return setup({
      types: { events: {} as ApiIn },
      actors: { listen: fromPromise(start) },
      actions: {
        ready: () => ctx.ready(),
        fail: (_, params: { error: unknown }) => { throw params.error; },
      },
    }).createMachine({
      id: 'api',
      initial: 'starting',
      states: {
        starting: {
          invoke: {
            src: 'listen',
            onDone: { target: 'running', actions: 'ready' },
            onError: { actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        running: {
          on: {
            'api.url': { actions: ({ event }) => ctx.reply(event.replyTo, url) },
            'sys.actor_down': { actions: ({ event }) => hub.actorDown(event.name, event.reason) },
            'sys.actor_up': { actions: ({ event }) => hub.actorUp(event.name) },
            'api.drain': { actions: ({ event }) => { void gateway.drain(event.timeout_ms).then((r) => ctx.reply(event.replyTo, r)); } },
          },
        },
      },
    });
  },
});
