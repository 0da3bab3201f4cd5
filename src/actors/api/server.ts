// The HTTP side of the api actor: a fastify app with bearer-token authentication, JSON error
// bodies ({ code, message }) and the routes; what the routes answer comes from the actor.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../../runtime/log.ts';
import type { ActorInfo } from '../../runtime/supervisor.ts';
import { ApiListenError, type ApiErrorBody, type HealthBody } from './messages.ts';
import { openaiRoutes } from './openai.ts';
import type { GatewayPort } from './gateway.ts';

export interface ApiRoutes {
  health(): Promise<HealthBody>;
  actors(): Promise<ActorInfo[]>;
}

export interface ApiServerInit {
  /** Set: every request needs `Authorization: Bearer <token>`. */
  token?: string;
  routes: ApiRoutes;
  log: Logger;
  /** Set: the OpenAI-compatible gateway under /v1 (openai.ts), running jobs through this port. */
  openai?: GatewayPort;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares digests, so neither the token's content nor its length leaks through timing. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

export function createApiServer({ token, routes, log, openai }: ApiServerInit): FastifyInstance {
  // forceCloseConnections: a client's idle keep-alive connection must not hold up the actor's stop.
  const app = Fastify({ logger: false, forceCloseConnections: true, return503OnClosing: true });
  const fail = (code: ApiErrorBody['code'], message: string): ApiErrorBody => ({ code, message });

  if (token !== undefined) {
    // onRequest runs before routing, so unknown routes answer 401 too and reveal nothing.
    app.addHook('onRequest', async (req, reply) => {
      if (bearerMatches(req.headers.authorization, token)) return;
      return reply.code(401).header('www-authenticate', 'Bearer')
        .send(fail('unauthorized', 'this API needs the header Authorization: Bearer <api.token>'));
    });
  }

  app.get('/health', async (_req, reply) => {
    const body = await routes.health();
    return reply.code(body.status === 'ok' ? 200 : 503).send(body);
  });
  app.get('/actors', async () => routes.actors());
  if (openai) void app.register(openaiRoutes, { prefix: '/v1', gateway: openai, log });

  app.setNotFoundHandler((req, reply) => reply.code(404).send(fail('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)));
  app.setErrorHandler<FastifyError>((err, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      log.error({ err, method: req.method, url: req.url }, 'HTTP API request failed');
      return reply.code(500).send(fail('internal', err.message));
    }
    return reply.code(status).send(fail('bad_request', err.message));
  });
  return app;
}

/** Listens and returns the URL clients use, with the port the OS picked when `port` is 0. */
export async function listenApi(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ApiListenError(host, port, 'address already in use');
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND') throw new ApiListenError(host, port, (err as Error).message);
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${h}:${addr.port}`;
}
