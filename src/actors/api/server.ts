// The HTTP side of the api actor: a fastify app with bearer-token authentication, JSON Schema
// validation of paths, query strings and bodies, JSON error bodies ({ code, message, retryable },
// the status from the error registry), the
// routes, the console's static files, and the browser-facing guards (CSP, foreign Origin); what
// the routes answer comes from the actor (ApiRoutes).
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../../runtime/log.ts';
import type { ActorInfo, KillMode, KillReply } from '../../runtime/supervisor.ts';
import type { Manifest } from '../../protocol/index.ts';
import type { BlockReply, PeerSummary } from '../network/messages.ts';
import type { BlockedPeer } from '../network/gate.ts';
import type { JobRecordStatus } from '../scheduler/messages.ts';
import type { CheckReport, Page, PageQuery, StoredJob, StoredReceipt, StoreStatus } from '../../store/store.ts';
import type { GatewayPort } from './gateway.ts';
import { METRICS_CONTENT_TYPE } from './metrics.ts';
import {
  ApiError, ApiListenError, BODY_LIMIT_BYTES,
  type ApiErrorBody, type DrainAccepted, type HealthBody, type JobBody, type OrchestrationBody, type SelfActionBody,
} from './messages.ts';
import { openaiRoutes } from './openai.ts';
import { ERRORS, errorCodeOf, type ErrorCode } from '../../errors/registry.ts';
import type { EventHub } from './events.ts';
import { ROOT_URL } from '../../paths.ts';

export interface ApiRoutes {
  health(): Promise<HealthBody>;
  actors(): Promise<ActorInfo[]>;
  kill(name: string, mode: KillMode): Promise<KillReply>;
  restart(name: string): Promise<ActorInfo>;
  /**
   * The api actor's own name. Killing or restarting it is answered 202 first and done once the
   * answer has been sent: the server answering is the one that goes.
   */
  self: string;
  peers(): Promise<PeerSummary[]>;
  /** The operator's block list; block / unblock fail with code `invalid_peer` for a bad peer id. */
  blocked(): Promise<BlockedPeer[]>;
  block(peer: string): Promise<BlockReply>;
  unblock(peer: string): Promise<{ peer_id: string; was_blocked: boolean }>;
  /** The store's job history, a page at a time (cursor: an item's `seq`). */
  jobs(query: PageQuery & { status?: JobRecordStatus }): Promise<Page<StoredJob>>;
  /** The store's receipt ledger, a page at a time. */
  receipts(query: PageQuery): Promise<Page<StoredReceipt>>;
  /** The store: path, size, counts, whether writes work; `check` reads every record. */
  store(): Promise<StoreStatus>;
  storeCheck(): Promise<Omit<CheckReport, 'path' | 'schema_version'>>;
  /** Throws ApiError `unknown_job` when neither a record nor a receipt is held. */
  job(id: string): Promise<JobBody>;
  manifest(): Promise<Manifest>;
  /** Begins the node's drain (as SIGTERM does); answers at once. */
  drain(): Promise<DrainAccepted>;
  orchestration(): Promise<OrchestrationBody>;
  /** The exposition text; throws ApiError `metrics_disabled` when metrics are off. */
  metrics(): Promise<string>;
}

export interface ApiServerInit {
  /** Set: every request needs `Authorization: Bearer <token>`. */
  token?: string;
  routes: ApiRoutes;
  log: Logger;
  /** Set: the OpenAI-compatible gateway under /v1 (openai.ts), running jobs through this port. */
  openai?: GatewayPort;
  /** Set: GET /events streams this hub's changes (events.ts). */
  events?: EventHub;
  /** The built console's directory, served at `/`; default: the one in this package. */
  consoleDir?: string;
}

/** Where the built console lives in this package (`npm run build:console` writes it). */
export const CONSOLE_DIR = fileURLToPath(new URL('console/dist/', ROOT_URL));

/**
 * Every answer's Content-Security-Policy: scripts, styles and connections from this origin only,
 * no inline script or style element, no plugins, no framing, no form posts elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** The console's files as URL paths ('/', '/assets/app.js', …): served without the token, they hold no data. */
function consoleFiles(dir: string): Set<string> {
  if (!existsSync(dir)) return new Set();
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => `/${relative(dir, join(e.parentPath, e.name)).split(sep).join('/')}`);
  return new Set(['/', ...files]);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a state-changing request is refused for its Origin, or undefined. Browsers send Origin on
 * cross-site POST/DELETE; a page elsewhere must not steer the node through a visitor's browser
 * (with a token kept by that page, or on a node without one). No Origin (the CLI, SDKs) passes.
 */
function foreignOrigin(req: FastifyRequest): string | undefined {
  if (SAFE_METHODS.has(req.method)) return undefined;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let host: string;
  try { host = new URL(origin).host; } catch { return `Origin ${origin} is not a URL`; }
  return host === req.headers.host ? undefined : `requests from the page at ${origin} may not change this node (only pages served by it may)`;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares digests, so neither the token's content nor its length leaks through timing. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

const KILL_MODES = ['terminate', 'throw'] as const;
const JOB_STATUSES = ['queued', 'running', 'completed', 'cancelled', 'failed', 'timeout'] as const;

const actorParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const peerParams = {
  type: 'object',
  required: ['peer'],
  properties: { peer: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/** A page of the store: `before` (older, newest first) or `after` (newer, oldest first) an item's `seq`. */
const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  before: { type: 'string', pattern: '^[0-9]{1,15}$' },
  after: { type: 'string', pattern: '^[0-9]{1,15}$' },
} as const;

/** The page's items as the body; the next page, when there is one, in a Link header (RFC 8288). */
function sendPage<T>(reply: FastifyReply, path: string, q: PageQuery & { status?: string }, page: Page<T>): T[] {
  if (page.next !== null) {
    const dir = q.after !== undefined ? 'after' : 'before';
    const params = new URLSearchParams({ [dir]: page.next, limit: String(q.limit), ...(q.status !== undefined ? { status: q.status } : {}) });
    reply.header('link', `<${path}?${params.toString()}>; rel="next"`);
  }
  return page.items;
}

/** Route schemas: fastify validates (ajv) before a handler runs; a mismatch is 400 `invalid_request`. */
const schemas = {
  kill: {
    params: actorParams,
    querystring: { type: 'object', additionalProperties: false, properties: { mode: { enum: KILL_MODES } } },
    body: { type: 'object', additionalProperties: false, properties: { how: { enum: KILL_MODES } } },
  },
  restart: {
    params: actorParams,
    body: { type: 'object', additionalProperties: false, properties: {} },
  },
  block: {
    params: peerParams,
    body: { type: 'object', additionalProperties: false, properties: {} },
  },
  unblock: { params: peerParams },
  drain: { body: { type: 'object', additionalProperties: false, properties: {} } },
  jobs: {
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: { ...pageQuery, status: { enum: JOB_STATUSES } },
      not: { required: ['before', 'after'] },
    },
  },
  receipts: {
    querystring: { type: 'object', additionalProperties: false, properties: pageQuery, not: { required: ['before', 'after'] } },
  },
  job: {
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } },
  },
} as const;

/** Fastify's own failures, by fastify's code, as registry codes (the status is the registry's). */
const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: `request body larger than ${BODY_LIMIT_BYTES} bytes` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'send the body as application/json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request' },
};

/** The one error body of the node API. */
export const errorBody = (code: ErrorCode, message: string): ApiErrorBody => ({ code, message, retryable: ERRORS[code].retryable });

export function createApiServer({ token, routes, log, openai, events, consoleDir = CONSOLE_DIR }: ApiServerInit): FastifyInstance {
  // forceCloseConnections: a client's idle keep-alive connection must not hold up the actor's stop.
  // removeAdditional off: fastify's ajv default silently drops fields a schema closes with
  // additionalProperties: false, so a misspelt field would be ignored instead of refused.
  const app = Fastify({
    logger: false, forceCloseConnections: true, return503OnClosing: true, bodyLimit: BODY_LIMIT_BYTES,
    ajv: { customOptions: { removeAdditional: false } },
  });
  /** Answers an error: the code's status, the one error body. */
  const fail = (reply: FastifyReply, code: ErrorCode, message: string) => reply.code(ERRORS[code].status).send(errorBody(code, message));
  // Bodies are JSON or nothing: a text/plain body is 415, not a string for a schema to puzzle over.
  app.removeContentTypeParser('text/plain');

  const consolePaths = consoleFiles(consoleDir);
  // /console.json: the console asks it before anything else, so a tab without a token shows the
  // login form instead of failing a request first. It tells only whether a token is needed.
  const publicFiles = new Set([...consolePaths, '/console.json']);
  app.get('/console.json', async () => ({ token_required: token !== undefined }));
  app.addHook('onRequest', async (req, reply) => {
    const why = foreignOrigin(req);
    if (why !== undefined) return fail(reply, 'foreign_origin', why);
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
  });

  if (token !== undefined) {
    // onRequest runs before routing, so unknown routes answer 401 too and reveal nothing.
    app.addHook('onRequest', async (req, reply) => {
      if ((req.method === 'GET' || req.method === 'HEAD') && publicFiles.has(req.url)) return;
      if (bearerMatches(req.headers.authorization, token)) return;
      return fail(reply.header('www-authenticate', 'Bearer'), 'unauthorized', 'this API needs the header Authorization: Bearer <api.token>');
    });
  }

  app.get('/health', async (_req, reply) => {
    const body = await routes.health();
    return reply.code(body.status === 'ok' ? 200 : 503).send(body);
  });
  app.get('/actors', async () => routes.actors());
  if (consolePaths.size > 0) {
    // wildcard off: one route per file found now, so nothing else under / is looked up on disk.
    void app.register(fastifyStatic, { root: consoleDir, wildcard: false, index: ['index.html'], decorateReply: false, maxAge: 0 });
  }
  if (events) {
    app.get('/events', (_req, reply) => {
      reply.hijack();
      events.attach(reply.raw);
    });
  }
  if (openai) void app.register(openaiRoutes, { prefix: '/v1', gateway: openai, log });

  /** A POST whose body is optional: no body reads as `{}`, then the schema applies. */
  const optionalBody = { preValidation: async (req: { body: unknown }) => { req.body ??= {}; } };

  /**
   * Answer first, act after the answer has left: for actions that take this server down. The
   * request then fails as its asker goes down, which is the expected end, not an error.
   */
  const afterAnswer = (reply: FastifyReply, act: () => Promise<unknown>) => {
    reply.raw.once('finish', () => { void act().catch((err: unknown) => log.debug({ err }, 'The api actor went down while killing or restarting itself')); });
  };

  app.post<{ Params: { name: string }; Querystring: { mode?: KillMode }; Body: { how?: KillMode } }>(
    '/actors/:name/kill', { schema: schemas.kill, ...optionalBody }, async (req, reply) => {
      const { name } = req.params;
      const { mode } = req.query;
      const { how } = req.body;
      if (mode !== undefined && how !== undefined && mode !== how) {
        throw new ApiError('invalid_request', `?mode=${mode} and body "how": "${how}" disagree; give one`);
      }
      const chosen = mode ?? how ?? 'terminate';
      if (name === routes.self) {
        afterAnswer(reply, () => routes.kill(name, chosen));
        return reply.code(202).send({ name, accepted: true, message: `the ${name} actor is killed (${chosen}) once this answer is sent; its supervisor restarts it on the same port` } satisfies SelfActionBody);
      }
      return routes.kill(name, chosen);
    });

  app.post<{ Params: { name: string } }>('/actors/:name/restart', { schema: schemas.restart, ...optionalBody }, async (req, reply) => {
    const { name } = req.params;
    if (name === routes.self) {
      afterAnswer(reply, () => routes.restart(name));
      return reply.code(202).send({ name, accepted: true, message: `the ${name} actor restarts once this answer is sent, on the same port` } satisfies SelfActionBody);
    }
    return routes.restart(name);
  });

  app.get('/peers', async () => routes.peers());
  app.get('/peers/blocked', async () => routes.blocked());
  app.post<{ Params: { peer: string } }>('/peers/:peer/block', { schema: schemas.block, ...optionalBody }, async (req) => routes.block(req.params.peer));
  app.delete<{ Params: { peer: string } }>('/peers/:peer/block', { schema: schemas.unblock }, async (req) => routes.unblock(req.params.peer));
  app.get<{ Querystring: PageQuery & { status?: JobRecordStatus } }>('/jobs', { schema: schemas.jobs },
    async (req, reply) => sendPage(reply, '/jobs', req.query, await routes.jobs(req.query)));
  app.get<{ Querystring: PageQuery }>('/receipts', { schema: schemas.receipts },
    async (req, reply) => sendPage(reply, '/receipts', req.query, await routes.receipts(req.query)));
  app.get('/store', async () => routes.store());
  app.get('/store/check', async () => routes.storeCheck());
  app.get<{ Params: { id: string } }>('/jobs/:id', { schema: schemas.job }, async (req) => routes.job(req.params.id));
  app.get('/manifest', async () => routes.manifest());
  app.post('/drain', { schema: schemas.drain, ...optionalBody }, async (_req, reply) => reply.code(202).send(await routes.drain()));
  app.get('/orchestration', async () => routes.orchestration());
  app.get('/metrics', async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await routes.metrics()));

  app.setNotFoundHandler((req, reply) => fail(reply, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  // By registry code, wherever the error was raised (a route, or another actor on another thread:
  // its code crossed the MessagePort with it); then fastify's own failures; the rest is a bug.
  app.setErrorHandler<FastifyError>((err, req, reply) => {
    const code = errorCodeOf(err);
    if (code !== undefined) {
      if (ERRORS[code].status === 500) log.error({ err, method: req.method, url: req.url }, 'HTTP API request failed');
      return fail(reply, code, err.message);
    }
    if (err.validation) return fail(reply, 'invalid_request', err.message);
    const known = FASTIFY_CODES[err.code];
    if (known) return fail(reply, known.code, known.message ?? err.message);
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Another of fastify's refusals, with its own 4xx.
      return reply.code(err.statusCode).send(errorBody('bad_request', err.message));
    }
    log.error({ err, method: req.method, url: req.url }, 'HTTP API request failed');
    return fail(reply, 'internal', err.message);
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
