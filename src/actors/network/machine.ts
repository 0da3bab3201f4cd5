// The network actor's statechart, its states as an operator reads them in GET /actors:
//   starting  libp2p coming up (store asked, block list and scores restored, listening)
//   joining   up, and no peer connected yet since start (dialling bootstrap / known peers)
//   online    at least one peer connected (this node's own light clients aside)
//   isolated  was online, and no peer has been connected for ISOLATED_AFTER_MS
//   failed    the start threw (runtime/lifecycle.ts): the runner reports the crash with its error
// Connectivity is checked every CHECK_MS on the injected clock, and at once when a peer
// connects or disconnects. Requests are served in every state once the node is up. Its node is
// released by the runner when the actor stops or crashes (ctx.own).
import { fromCallback, setup } from 'xstate';
import { lifecycle } from '../../runtime/lifecycle.ts';
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys';
import type { ActorContext } from '../../runtime/actor.ts';
import type { Transport } from './libp2p.ts';
import { isOrchMessageType, type HeartbeatBody, type ModelManifest, type OrchMessageType } from '../../protocol/index.ts';
import type { NetworkDrainReport, NetworkProtocol, PeerManifest } from './messages.ts';
export { NETWORK_STATES, type NetworkState } from './messages.ts';
import { NetworkService, type KnownPeer, type NetworkStoreLink } from './service.ts';
import type { SharedFile } from './model-transfer.ts';
import type { BlockedPeer } from './gate.ts';
import type { SavedStanding } from '../../market/reputation.ts';
import type { StoreStatus, StoreWritable } from '../store/messages.ts';
import type { Inbox, NoExtra, RequestOf } from '../../runtime/protocol.ts';
import { submitReplyTimeoutMs, type ClaimableState } from '../scheduler/messages.ts';

export interface NetworkArgs {
  nodeId: string;
  /** The node's libp2p private key, protobuf-encoded (structured-cloneable for threads). */
  privateKey: Uint8Array;
  transport: Transport;
  /** The models this node serves, as its manifest lists them. */
  models: ModelManifest[];
  /** Their files, served to peers by sha256 (absent: none). */
  files?: SharedFile[];
  /** A private swarm's key file content, read and checked before the node starts. */
  swarmKey?: Uint8Array;
  /**
   * The TCP port the node got, kept across the actor's restarts (shared memory, so it survives
   * a worker thread too): with port 0 a restarted network actor takes back the port peers and
   * clients know, unless it was taken meanwhile. Absent: every start takes what the OS gives.
   */
  portCell?: Int32Array;
  /** Keep the peers it knows in the node's store, and dial them at start (a node with a data directory). */
  persistPeers?: boolean;
}

/** How often connectivity is checked (it is also checked at every connect and disconnect). */
export const CHECK_MS = 1000;
/** online → isolated once no peer has been connected for this long: a redial's gap is no isolation. */
export const ISOLATED_AFTER_MS = 3000;

/** Store requests; a receipt waits for its group's fsync, which a loaded disk can slow. */
const STORE_MS = 5000;
const RECEIPT_STORE_MS = 30_000;

function storeLink(ctx: ActorContext<NetworkArgs, NetworkProtocol>): NetworkStoreLink {
  const ask = <const M extends RequestOf<'store'>>(msg: M & NoExtra<M, RequestOf<'store'>>, ms = STORE_MS) => ctx.request('store', msg, ms);
  // Named values come back as stored: this actor wrote them, so it knows their shape.
  const value = <T>(name: string) => ask({ type: 'store.value_get', name }) as Promise<T | null>;
  return {
    keepsPeers: ctx.args.persistPeers === true,
    knownPeers: async () => (await value<KnownPeer[]>('peers')) ?? [],
    saveKnownPeers: (peers) => ask({ type: 'store.value_put', name: 'peers', value: peers, durable: false }),
    putReceipt: (receipt) => ask({ type: 'store.receipt_put', receipt, role: 'executor' }, RECEIPT_STORE_MS),
    blocked: async () => (await ask({ type: 'store.values', prefix: 'blocked/' })).map((v) => v.value as BlockedPeer),
    saveBlock: (b) => ask({ type: 'store.value_put', name: `blocked/${b.peer_id}`, value: b, durable: true }),
    dropBlock: (peer) => ask({ type: 'store.value_delete', name: `blocked/${peer}`, durable: true }),
    standings: async () => (await value<SavedStanding[]>('reputation')) ?? [],
    saveStandings: (list) => ask({ type: 'store.value_put', name: 'reputation', value: list, durable: false }),
  };
}

export function networkMachine(ctx: ActorContext<NetworkArgs, NetworkProtocol>) {
  /** The scheduler's latest claim verdicts: a yes that fits is claimed on without a request. */
  let claimable: ClaimableState | undefined;
  const service = new NetworkService({
    store: storeLink(ctx),
    config: ctx.config,
    nodeId: ctx.args.nodeId,
    ...(ctx.args.portCell ? { portCell: ctx.args.portCell } : {}),
    privateKey: privateKeyFromProtobuf(ctx.args.privateKey),
    transport: ctx.args.transport,
    // A copy: setModels changes it in place, and the supervisor's copy changes only by update_args.
    models: [...ctx.args.models],
    files: ctx.args.files ?? [],
    ...(ctx.args.swarmKey ? { swarmKey: ctx.args.swarmKey } : {}),
    clock: ctx.clock,
    log: ctx.log,
    queue: () => ctx.request('scheduler', { type: 'scheduler.status' }, 1000),
    canClaim: (model, maxTokens) => {
      const m = claimable?.models[model];
      if (claimable && m?.ok && maxTokens >= 1 && maxTokens < m.context_size) return Promise.resolve({ ok: true, queue: claimable.queue });
      return ctx.request('scheduler', { type: 'scheduler.can_claim', model, max_tokens: maxTokens }, 1000);
    },
    submit: (job) => ctx.request('scheduler', { type: 'scheduler.submit', job, stream_to: ctx.name },
      submitReplyTimeoutMs(ctx.config, job, 60_000)),
    cancel: (jobId) => void ctx.request('scheduler', { type: 'scheduler.cancel', job_id: jobId }, 1000).catch(() => undefined),
    // Orchestration gossip goes to the consensus actor (when orchestration is on: else no such actor listens).
    ...(ctx.config.distributed_orchestration.enabled ? {
      onHeartbeat: (from: string, body: HeartbeatBody) => ctx.send('consensus', { type: 'consensus.heartbeat', peer: from, ...(body.orch ? { orch: body.orch } : {}) }),
      onOrch: (from: string, msgType: OrchMessageType, body: unknown) => ctx.send('consensus', { type: 'consensus.gossip', peer: from, msg_type: msgType, body }),
    } : {}),
  });
  ctx.own(() => service.stop());

  const start = async () => {
    // Writes may have failed before this (re)start: ask, then follow the store's word.
    const st = await ctx.request('store', { type: 'store.status' }, STORE_MS);
    service.setStoreWritable(st.writable);
    await service.start();
    service.onConnectivity(() => check?.());
  };

  /** Sends the machine a connectivity check (set while the machine runs). */
  let check: (() => void) | undefined;
  /** When a peer was last seen connected (the injected clock). */
  let lastConnectedAt = -Infinity;
  const connected = () => service.isRunning ? service.connectedPeerCount() : 0;

  const life = lifecycle(ctx, start);

  return setup({
    types: { events: {} as Inbox<NetworkProtocol> | { type: 'network.check' } },
    actors: {
      ...life.actors,
      watch: fromCallback(({ sendBack }) => {
        check = () => {
          if (!service.isRunning) return;
          if (connected() > 0) lastConnectedAt = ctx.clock.now();
          sendBack({ type: 'network.check' });
        };
        const timer = ctx.clock.setInterval(() => check?.(), CHECK_MS);
        return () => { ctx.clock.clearInterval(timer); check = undefined; };
      }),
    },
    guards: {
      up: () => service.isRunning,
      hasPeers: () => connected() > 0,
      lostPeers: () => connected() === 0 && ctx.clock.now() - lastConnectedAt >= ISOLATED_AFTER_MS,
    },
    actions: life.actions,
  }).createMachine({
    id: 'network',
    initial: 'starting',
    output: life.output,
    invoke: { src: 'watch' },
    // The actor's protocol, served in every state once the node is up (before, unanswered).
    on: {
      'store.writable': { actions: ({ event }) => service.setStoreWritable(event.writable) },
      'network.status': { guard: 'up', actions: ({ event }) => ctx.answer(event, service.status()) },
      'network.peers': { guard: 'up', actions: ({ event }) => ctx.answer(event, service.peers()) },
      'network.models': { guard: 'up', actions: ({ event }) => ctx.answer(event, service.models()) },
      'network.manifests': {
        guard: 'up',
        actions: ({ event }) => {
          const now = ctx.clock.now();
          ctx.answer(event, service.peerTable.entries().flatMap((e) => e.manifest
            ? [{ peer_id: e.peerId, state: service.peerTable.state(e, now), manifest: e.manifest } satisfies PeerManifest] : []));
        },
      },
      'network.block': {
        guard: 'up',
        actions: ({ event }) => {
          service.block(event.peer_id).then((b) => ctx.answer(event, b), (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.unblock': {
        guard: 'up',
        actions: ({ event }) => {
          service.unblock(event.peer_id).then((was) => ctx.answer(event, { peer_id: event.peer_id, was_blocked: was }),
            (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.blocked': { guard: 'up', actions: ({ event }) => ctx.answer(event, service.gate.list()) },
      'network.local_client': {
        guard: 'up',
        actions: ({ event }) => { service.addLocalClient(event.peer_id); ctx.answer(event, null); },
      },
      'network.adjust_gossip': {
        guard: 'up',
        actions: ({ event }) => {
          try { ctx.answer(event, service.adjustGossip(event.heartbeat_factor)); } catch (err) { ctx.replyError(event.replyTo, err); }
        },
      },
      'network.receipt': {
        guard: 'up',
        actions: ({ event }) => { service.receipt(event.job_id).then((r) => ctx.answer(event, r), (err: unknown) => ctx.replyError(event.replyTo, err)); },
      },
      'network.providers': {
        guard: 'up',
        actions: ({ event }) => {
          if (!/^[0-9a-f]{64}$/.test(event.sha256)) { ctx.replyError(event.replyTo, new TypeError(`not a sha256 in hex: ${event.sha256}`)); return; }
          service.dht.findProviders(event.sha256, 15_000).then((ps) => ctx.answer(event, ps.map((p) => p.id.toString())), (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.receipts': {
        guard: 'up',
        actions: ({ event }) => ctx.answer(event, service.receipts.recent(Math.min(1000, Math.max(1, event.limit ?? 100)))),
      },
      'network.manifest': {
        guard: 'up',
        actions: ({ event }) => {
          service.manifest().then((m) => ctx.answer(event, m), (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.drain': {
        guard: 'up',
        actions: ({ event }) => {
          const { executor } = service;
          executor.beginDrain();
          ctx.request('scheduler', { type: 'scheduler.drain' }, 5000)
            .catch((err: Error) => { ctx.log.warn({ err: err.message }, 'The scheduler did not answer the drain: its queued jobs end with it'); return undefined; })
            .then(async (s) => ({ handed_back: s?.handed_back.length ?? 0, ...await executor.drain(event.timeout_ms) }) satisfies NetworkDrainReport)
            .then((r) => ctx.answer(event, r), (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.flush_receipts': {
        guard: 'up',
        actions: ({ event }) => { void service.executor.flushReceipts().then(() => ctx.answer(event, null)); },
      },
      'inference.token': { guard: 'up', actions: ({ event }) => service.executor.onToken(event.job_id, event.text) },
      'network.claimable': { actions: ({ event }) => { claimable = event.state; } },
      // Orchestration: the consensus actor's gossip out, and its heartbeat summary.
      'network.orch_publish': {
        guard: 'up',
        actions: ({ event }) => {
          if (!isOrchMessageType(event.msg_type)) { ctx.replyError(event.replyTo, new TypeError(`not an orchestration message type: ${event.msg_type}`)); return; }
          service.publishOrch(event.msg_type, event.body).then((env) => ctx.answer(event, { id: env.id }), (err) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.set_models': {
        guard: 'up',
        actions: ({ event }) => {
          service.setModels(event.models, event.files).then(() => ctx.answer(event, null), (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.pull': {
        guard: 'up',
        actions: ({ event }) => {
          service.puller.pull(event.sha256, event.dir).then((p) => ctx.answer(event, p), (err: unknown) => ctx.replyError(event.replyTo, err));
        },
      },
      'network.pulls': { guard: 'up', actions: ({ event }) => ctx.answer(event, service.puller.list()) },
      'network.cancel_pull': { guard: 'up', actions: ({ event }) => ctx.answer(event, { sha256: event.sha256, cancelled: service.puller.cancel(event.sha256) }) },
      'network.orch_state': { guard: 'up', actions: ({ event }) => service.setOrchSummary(event.summary, event.scope) },
    },
    states: {
      starting: life.starting('joining'),
      joining: { on: { 'network.check': { guard: 'hasPeers', target: 'online' } } },
      online: { on: { 'network.check': { guard: 'lostPeers', target: 'isolated' } } },
      isolated: { on: { 'network.check': { guard: 'hasPeers', target: 'online' } } },
      failed: life.failed,
    },
  });
}
