// Transport and libp2p lifecycle: builds the node (listening where the config says, taking back
// the port a restarted actor had), registers the stream protocols the other parts serve, logs
// connections, and stops the node last. Connection policy comes from the other parts as
// callbacks: who may connect in (bootstrap.ts), who is blocked (blocklist.ts), and what
// gossipsub adds to a peer's score (the marketplace's reputation).
import type { Connection, Stream } from '@libp2p/interface';
import type { PrivateKey } from '@libp2p/interface';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Config } from '../../config/types.ts';
import { buildLibp2p, type NetworkNode, type Transport } from './libp2p.ts';
import type { Startable } from './lifecycle.ts';
import { CodedError } from '../../errors/registry.ts';

export class BindError extends CodedError {
  override name = 'BindError';
  constructor(readonly port: number, cause: string) {
    super('bind_failed', `Failed to bind to port ${port}: ${cause}. Use a different port or let the system auto-assign: --port 0`);
  }
}

export interface TransportInit {
  config: Readonly<Config>;
  nodeId: string;
  privateKey: PrivateKey;
  transport: Transport;
  /** See NetworkArgs.portCell. */
  portCell?: Int32Array;
  swarmKey?: Uint8Array;
  clock: Clock;
  log: Logger;
  /** Peer ids allowed in when auto_accept_peers is false. */
  acceptOnly(): ReadonlySet<string>;
  blocked(peer: string): boolean;
  appScore(peer: string): number;
}

/** A stream protocol served by one of the parts. */
export interface ProtocolHandler {
  protocol: string;
  handle(stream: Stream, connection: Connection): void | Promise<void>;
  maxInboundStreams?: number;
}

export class NetworkTransport implements Startable {
  private node?: NetworkNode;
  /** Handshakes that failed right after the swarm key exchange; when the last warning was logged. */
  private keyMismatches = 0;
  private keyMismatchLoggedAt = -Infinity;

  constructor(private readonly init: TransportInit, private readonly protocols: () => readonly ProtocolHandler[]) {}

  get libp2p(): NetworkNode {
    if (!this.node) throw new Error('network is not started');
    return this.node;
  }

  get started(): boolean { return this.node !== undefined; }

  get peerId(): string { return this.libp2p.peerId.toString(); }

  get suspectedKeyMismatches(): number { return this.keyMismatches; }

  /** Peer ids with an open connection now. */
  connectedPeers(): Set<string> { return new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString())); }

  async start(): Promise<void> {
    const { config, transport } = this.init;
    const port = config.node.listen_port;
    const listenOn = (p: number) => transport === 'memory'
      ? [`/memory/${this.init.nodeId}-${Math.random().toString(36).slice(2, 10)}`]
      : [`/ip4/${config.node.listen_host}/tcp/${p}`];
    const build = (p: number) => buildLibp2p({
      privateKey: this.init.privateKey,
      transport,
      listen: listenOn(p),
      maxPeers: config.network.max_peers,
      mdns: config.network.mdns_enabled && transport === 'tcp',
      acceptOnly: config.network.auto_accept_peers ? undefined : () => this.init.acceptOnly(),
      blocked: (peer) => this.init.blocked(peer),
      appScore: (peer) => this.init.appScore(peer),
      ...(this.init.swarmKey ? { swarmKey: this.init.swarmKey, onSwarmKeyMismatch: (addr: string) => this.swarmKeyMismatch(addr) } : {}),
    });
    // With --port 0, a restarted network actor takes back the port it had (peers and clients
    // hold that address); if someone else took it meanwhile, any free port.
    const cell = this.init.portCell;
    const previous = port === 0 && transport === 'tcp' && cell ? Atomics.load(cell, 0) : 0;
    try {
      this.node = previous ? await build(previous).catch(() => build(0)) : await build(port);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (/EADDRINUSE|address already in use/i.test(msg) || (err as { code?: string }).code === 'EADDRINUSE') throw new BindError(port, 'address already in use');
      if (/EACCES|EADDRNOTAVAIL|listen/i.test(msg)) throw new BindError(port, msg);
      throw err;
    }
    const node = this.node;
    const bound = node.getMultiaddrs().map((a) => a.getComponents().find((c) => c.name === 'tcp')?.value).find(Boolean);
    if (port === 0 && bound && cell) Atomics.store(cell, 0, Number(bound));
    for (const p of this.protocols()) {
      await node.handle(p.protocol, (stream, connection) => p.handle(stream, connection),
        { runOnLimitedConnection: false, ...(p.maxInboundStreams ? { maxInboundStreams: p.maxInboundStreams } : {}) });
    }
    node.addEventListener('peer:connect', (e) => this.init.log.info({ peer: e.detail.toString() }, 'Peer connected'));
    node.addEventListener('peer:disconnect', (e) => this.init.log.info({ peer: e.detail.toString() }, 'Peer disconnected'));
  }

  /** Logs where the node listens (once every part is started). */
  logListening(): void {
    for (const a of this.libp2p.getMultiaddrs()) this.init.log.info({ addr: a.toString() }, `Listening on ${a.toString()}`);
  }

  async stop(): Promise<void> { await this.node?.stop(); }

  private swarmKeyMismatch(remoteAddr: string): void {
    this.keyMismatches++;
    const now = this.init.clock.now();
    // At most one line per 10 s: a scanner without the key must not flood the log.
    if (now - this.keyMismatchLoggedAt < 10_000) return;
    this.keyMismatchLoggedAt = now;
    this.init.log.warn({ remote: remoteAddr, suspected_key_mismatches: this.keyMismatches },
      'Handshake failed right after the swarm key exchange: suspected swarm key mismatch (the other end has another network.swarm_key, or none)');
  }
}
