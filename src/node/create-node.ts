// Composes one node: the supervision tree (docs/ARCHITECTURE.md, "The tree").
//
//   Supervisor (one_for_one)
//   ├── store         the node's LevelDB (receipt ledger, job history, reputation, block list,
//   │                 peer store, orchestration state): first, so everyone finds it open
//   ├── scheduler     job queue, dispatch to the inference actors, load manager (first, so the
//   │                 network can report it; jobs sent before a model is up wait in its mailbox)
//   ├── inference:<m> one per served model: a worker holding the model (before the network,
//   │                 so a model that cannot load stops the node before it announces anything)
//   ├── network       libp2p: gossip, mDNS, identify, peer table
//   ├── consensus     distributed orchestration: affinity, groups, coordinator epochs,
//   │                 adaptive consensus, partitions (on the network's heartbeats and mvp/1/orch)
//   ├── orchestrator  LLM or heuristic decisions under the safety rules, ask, training data
//   │                 (when orchestrator.enabled)
//   └── api           HTTP API on loopback: health, actors, peers, jobs, manifest, metrics, the
//                     OpenAI gateway and the orchestrator's routes (when api.enabled)
//
// createNode(config, { transport: 'memory' }) builds the same node in-process for simulation,
// without the api actor: hundreds of simulated nodes need no HTTP server each.
//
// Draining (drain(): SIGTERM, POST /drain) runs across the tree in this order: the network
// actor stops claiming and taking job streams, the scheduler hands its queued jobs back (their
// clients offer them again), running jobs get executor.drain_timeout_secs (the OpenAI gateway's
// requests in flight too), those left end with a failed receipt (reason `drain`), and receipts
// are flushed. Then the node may stop.
import { fileURLToPath } from 'node:url';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Supervisor, type ChildSpec } from '../runtime/supervisor.ts';
import { InlineHost, ThreadHost } from '../runtime/host.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { createLogger, type Logger, type LogOptions } from '../runtime/log.ts';
import type { Config } from '../config/types.ts';
import type { Transport } from '../actors/network/libp2p.ts';
import type { NetworkArgs } from '../actors/network/index.ts';
import type { ApiArgs } from '../actors/api/index.ts';
import type { DrainAccepted, HealthBody } from '../actors/api/messages.ts';
import { healthOf } from '../actors/api/health.ts';
import type { NetworkDrainReport, NetworkStatus } from '../actors/network/messages.ts';
import type { QueueStatus } from '../actors/scheduler/messages.ts';
import type { SchedulerArgs } from '../actors/scheduler/index.ts';
import type { StoreArgs } from '../actors/store/index.ts';
import type { OrchestratorArgs } from '../actors/orchestrator/index.ts';
import { validateModel } from '../models/index.ts';
import type { ConsensusArgs, ConsensusStatus } from '../actors/consensus/messages.ts';
import { loadIdentity, lockDataDir, type Identity } from './identity.ts';
import { inferenceChildSpec, resolveModels } from './models.ts';
import { readSwarmKey } from '../actors/network/swarm-key.ts';
import { srcModule } from '../paths.ts';

export interface CreateNodeOptions {
  transport?: Transport;
  clock?: Clock;
  /** Where log lines go (tests capture them); defaults to stdout. */
  logDestination?: NodeJS.WritableStream;
  /** Keep the key in the data directory (default for TCP); memory nodes use a fresh key. */
  persistIdentity?: boolean;
  /**
   * Serve the configured models (or a generated test model). Default: true for TCP nodes;
   * simulated memory nodes and light clients serve none.
   */
  serveModels?: boolean;
  /**
   * POST /drain asked this node to drain (the api actor's `node.drain`). Default: drain, then
   * stop. The program (run.ts) drains, stops and exits 0, as on SIGTERM.
   */
  onDrainRequest?: () => void;
}

/** What a drain did; `gateway_left`: OpenAI-gateway requests still running at its end (they fail). */
export interface DrainReport extends NetworkDrainReport { gateway_left: number }


/** The Health check log line: GET /health's figures (health.ts, one definition) and the gossip drops. */
export type HealthReport = HealthBody & { dropped: NetworkStatus['dropped'] };

export interface MvpNode {
  readonly nodeId: string;
  readonly peerId: string;
  readonly supervisor: Supervisor;
  readonly log: Logger;
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): Promise<HealthReport>;
  network(): Promise<NetworkStatus>;
  /** Runs the drain (see above) without stopping the node; later calls share the first one's answer. */
  drain(): Promise<DrainReport>;
}

const actorModule = (name: string) => fileURLToPath(srcModule(`actors/${name}/index.ts`));

async function ephemeralIdentity(nodeId: string | undefined): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(privateKey).toString();
  return { nodeId: nodeId ?? `node-${peerId.slice(-8)}`, peerId, privateKey, dir: '' };
}

export async function createNode(config: Readonly<Config>, opts: CreateNodeOptions = {}): Promise<MvpNode> {
  const transport = opts.transport ?? 'tcp';
  const clock = opts.clock ?? systemClock;
  const persist = opts.persistIdentity ?? transport === 'tcp';
  const id = persist ? await loadIdentity(config.node.data_dir, config.node.node_id) : await ephemeralIdentity(config.node.node_id);
  // Decided here, once: inside a worker thread stdout is never a TTY, so threaded actors must be
  // told which format the main thread's terminal gets.
  const pretty = opts.logDestination === undefined && Boolean(process.stdout.isTTY);
  const logOptions: LogOptions = { level: config.monitoring.log_level, nodeId: id.nodeId, destination: opts.logDestination, pretty };
  const log = createLogger(logOptions);
  const { destination: _d, ...threadLogOptions } = logOptions;
  // libp2p's memory transport only works within one thread: simulated nodes run inline.
  const placement = (name: keyof Config['runtime']['placement']) => transport === 'memory' ? 'inline' as const : config.runtime.placement[name];
  const shutdownMs = config.runtime.shutdown_timeout_ms;
  // Read and checked before anything starts: a bad key file stops the node with its reason.
  const swarmKey = config.network.swarm_key === undefined ? undefined : readSwarmKey(config.network.swarm_key);
  if (swarmKey) log.info({ swarm_key: config.network.swarm_key }, 'Private swarm: only peers holding this swarm key can connect');
  const models = (opts.serveModels ?? transport === 'tcp') ? await resolveModels(config, log) : [];
  const networkArgs: NetworkArgs = {
    nodeId: id.nodeId, privateKey: privateKeyToProtobuf(id.privateKey), transport, models: models.map((m) => m.manifest),
    files: models.map((m) => ({ sha256: m.manifest.sha256, path: m.path })),
    portCell: new Int32Array(new SharedArrayBuffer(4)), ...(swarmKey ? { swarmKey } : {}),
    persistPeers: persist,
  };
  // A node with a data directory keeps its store there; simulated nodes keep one in memory.
  const storeArgs: StoreArgs = persist ? { nodeDir: id.dir, legacy: { dataDir: config.node.data_dir, peerId: id.peerId } } : {};
  const children: ChildSpec[] = [
    { name: 'store', module: actorModule('store'), restart: 'permanent', shutdownMs, placement: placement('store'), args: storeArgs },
    {
      name: 'scheduler', module: actorModule('scheduler'), restart: 'permanent', shutdownMs, placement: placement('scheduler'),
      args: { models: models.map((m) => ({ name: m.name, sequences: m.sequences })), claimableTo: 'network' } satisfies SchedulerArgs,
    },
    ...models.map((m) => inferenceChildSpec(m, shutdownMs, placement('inference'))),
    { name: 'network', module: actorModule('network'), restart: 'permanent', shutdownMs, placement: placement('network'), args: networkArgs },
    {
      name: 'consensus', module: actorModule('consensus'), restart: 'permanent', shutdownMs, placement: placement('consensus'),
      args: { models: models.map((m) => m.name), ...(persist ? { dataDir: id.dir } : {}) } satisfies ConsensusArgs,
    },
  ];
  if (config.orchestrator.enabled) {
    // Same rule as served models: a configured orchestrator model that fails the checks stops
    // the node before anything starts. With a model the actor is `native`: never terminated,
    // since terminating a thread while llama.cpp decodes aborts the process (ARCHITECTURE.md).
    const orchModel = config.orchestrator.model_path;
    if (orchModel) await validateModel(orchModel);
    children.push({
      name: 'orchestrator', module: actorModule('orchestrator'), restart: 'permanent',
      shutdownMs: orchModel ? Math.max(shutdownMs, 12_000) : shutdownMs,
      placement: placement('orchestrator'), ...(orchModel ? { native: true } : {}),
      args: { dataDir: id.dir, nodeId: id.nodeId } satisfies OrchestratorArgs,
    });
  }
  const startedAt = clock.now();
  if (config.api.enabled && transport !== 'memory') {
    const apiArgs: ApiArgs = {
      dataDir: id.dir, nodeId: id.nodeId, peerId: id.peerId, startedAt, portCell: new Int32Array(new SharedArrayBuffer(4)),
      ...(swarmKey ? { swarmKey } : {}),
    };
    children.push({ name: 'api', module: actorModule('api'), restart: 'permanent', shutdownMs, placement: placement('api'), args: apiArgs });
  }
  const env = { config, clock, log, logOptions: threadLogOptions };
  let drained: Promise<DrainReport> | undefined;
  const drainTimeoutMs = config.executor.drain_timeout_secs * 1000;
  const supervisor: Supervisor = new Supervisor({
    strategy: 'one_for_one',
    intensity: config.runtime.restart_intensity,
    periodMs: config.runtime.restart_period_secs * 1000,
    children,
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) },
    clock,
    log,
    answer(msg) {
      if (msg.type !== 'node.drain') return undefined;
      if (!drained) {
        if (opts.onDrainRequest) opts.onDrainRequest();
        else void node.drain().then(() => node.stop());
      }
      return Promise.resolve({ draining: true, timeout_secs: config.executor.drain_timeout_secs } satisfies DrainAccepted);
    },
  });
  /**
   * The drain's receipts flush, its last step before the node stops: every receipt this node
   * signed has left it. Receipts live in memory and are gossiped, so this waits for that gossip.
   */
  const flushReceipts = () => supervisor.request('network', { type: 'network.flush_receipts' }, 10_000)
    .catch((err: Error) => log.warn({ err: err.message }, 'Receipts not flushed: the network actor did not answer'));
  const runDrain = async (): Promise<DrainReport> => {
    log.info({ timeout_secs: config.executor.drain_timeout_secs }, 'Draining: claiming no more jobs, handing queued ones back, letting running ones finish');
    const hasApi = children.some((c) => c.name === 'api');
    const [net, gateway] = await Promise.all([
      supervisor.request<NetworkDrainReport>('network', { type: 'network.drain', timeout_ms: drainTimeoutMs }, drainTimeoutMs + 30_000)
        .catch((err: Error) => { log.warn({ err: err.message }, 'The network actor did not drain'); return undefined; }),
      hasApi ? supervisor.request<{ left: number }>('api', { type: 'api.drain', timeout_ms: drainTimeoutMs }, drainTimeoutMs + 30_000)
        .catch((err: Error) => { log.warn({ err: err.message }, 'The api actor did not drain'); return undefined; }) : undefined,
    ]);
    await flushReceipts();
    const report: DrainReport = { handed_back: net?.handed_back ?? 0, finished: net?.finished ?? 0, ended_by_drain: net?.ended_by_drain ?? 0, gateway_left: gateway?.left ?? 0 };
    log.info(report, 'Drained');
    return report;
  };
  let release: (() => Promise<void>) | undefined;

  const node: MvpNode = {
    nodeId: id.nodeId,
    peerId: id.peerId,
    supervisor,
    log,
    async start() {
      if (persist) release = await lockDataDir(id.dir);
      try {
        await supervisor.start();
      } catch (err) {
        await release?.();
        throw err;
      }
    },
    async stop() {
      await supervisor.stop();
      await release?.();
    },
    network: () => supervisor.request<NetworkStatus>('network', { type: 'network.status' }, 2000),
    drain: () => (drained ??= runDrain()),
    async health() {
      const [net, q, orch] = await Promise.all([
        node.network().catch(() => undefined),
        supervisor.request<QueueStatus>('scheduler', { type: 'scheduler.status' }, 2000).catch(() => undefined),
        supervisor.request<ConsensusStatus>('consensus', { type: 'consensus.status' }, 2000).catch(() => undefined),
      ]);
      const answers = { ...(net ? { network: net } : {}), ...(q ? { queue: q } : {}), ...(orch ? { consensus: orch } : {}), actors: supervisor.actors() };
      return { ...healthOf({ nodeId: id.nodeId, peerId: id.peerId, startedAt }, answers, clock.now(), config.executor.max_queue_size), dropped: net?.dropped ?? {} };
    },
  };
  return node;
}
