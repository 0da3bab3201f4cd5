// The api actor of DESIGN.md §1 (first subset): an HTTP server, loopback by default, showing the
// node's health (GET /health) and its supervision tree (GET /actors). Jobs, metrics and the
// OpenAI-compatible gateway come later. The server and api.json are released on stop (ctx.own).
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromPromise, setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import { SUPERVISOR, type ActorInfo, type SupervisorRequest } from '../../runtime/supervisor.ts';
import type { NetworkStatus, QueueStatus } from '../network/messages.ts';
import { healthOf } from './health.ts';
import type { ApiArgs, ApiFile, ApiIn } from './messages.ts';
import { createApiServer, listenApi } from './server.ts';
import { NetworkGateway } from './gateway.ts';
import { registerOrchestratorRoutes } from './orchestrator-routes.ts';

export type { ApiArgs } from './messages.ts';

/** How long a route waits for another actor; a silent actor makes /health degraded, not slow. */
export const REQUEST_TIMEOUT_MS = 1000;

export default defineActor<ApiArgs>({
  machine: (ctx) => {
    const cfg = ctx.config.api;
    const askSupervisor = () => ctx.request<ActorInfo[]>(SUPERVISOR, { type: 'supervisor.actors' } satisfies SupervisorRequest, REQUEST_TIMEOUT_MS);
    // Owned before the server, so released after it (reverse order): no request outlives its client.
    const gateway = new NetworkGateway({ ask: (msg, timeoutMs) => ctx.request('network', msg, timeoutMs), config: ctx.config, log: ctx.log });
    ctx.own(() => gateway.close());
    const app = createApiServer({
      token: cfg.token,
      log: ctx.log,
      routes: {
        async health() {
          const quiet = <T>(p: Promise<T>) => p.catch(() => undefined);
          const [network, queue, actors] = await Promise.all([
            quiet(ctx.request<NetworkStatus>('network', { type: 'network.status' }, REQUEST_TIMEOUT_MS)),
            quiet(ctx.request<QueueStatus>('scheduler', { type: 'scheduler.status' }, REQUEST_TIMEOUT_MS)),
            quiet(askSupervisor()),
          ]);
          return healthOf(ctx.args, { network, queue, actors }, ctx.clock.now(), ctx.config.executor.max_queue_size);
        },
        actors: askSupervisor,
      },
      openai: gateway,
    });
    registerOrchestratorRoutes(app, { request: (msg, ms) => ctx.request('orchestrator', msg, ms), config: ctx.config.orchestrator });
    ctx.own(() => app.close());
    let url = '';

    async function start(): Promise<void> {
      url = await listenApi(app, cfg.listen, cfg.port);
      if (ctx.args.dataDir !== '') {
        const file = join(ctx.args.dataDir, 'api.json');
        await writeFile(file, `${JSON.stringify({ url, pid: process.pid } satisfies ApiFile)}\n`, { mode: 0o600 });
        ctx.own(() => rm(file, { force: true }));
      }
      ctx.log.info({ url }, `API listening on ${url}`);
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
          },
        },
      },
    });
  },
});
