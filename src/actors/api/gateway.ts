// The api actor's way into the network for the OpenAI gateway: one light client joined to this
// node (its own listen address as bootstrap), joined again when its connection goes (the
// network actor restarted, maybe on another port), and the models this node knows of. The
// client's pick among the claimants is a job_routing decision of this node's decision router
// (the consensus actor): it knows which peers are dead and their affinity, counts the decision
// and its latency, and takes valuable jobs to the LLM or to consensus as configured.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { LightClient, type JobOptions, type JobRouter, type SubmitResult } from '../../client/submit.ts';
import type { DistributedDecision } from '../consensus/router.ts';
import type { Config } from '../../config/types.ts';
import type { Ask } from '../../runtime/protocol.ts';
import type { Logger } from '../../runtime/log.ts';
import type { NetworkStatus, ServedModel } from '../network/messages.ts';
import { CodedError } from '../../errors/registry.ts';

/** A job as the gateway gives it: the limits and priority are the gateway's. */
export type GatewayJob = Omit<JobOptions, 'timeoutMs' | 'claimTimeoutMs' | 'priority'>;

/** What the OpenAI routes need from the network (an interface, so they can be served without one). */
export interface GatewayPort {
  /** Every model served on the network as this node knows it, its own first. */
  models(): Promise<ServedModel[]>;
  /** Runs a job on the network (locally or on a peer) and returns its verified receipt. */
  run(job: GatewayJob): Promise<SubmitResult>;
}

/** The receipt of a job the gateway ran could not be put in the node's store (a full disk). */
export class ReceiptNotStoredError extends CodedError {
  override name = 'ReceiptNotStoredError';
  constructor(message: string, options?: ErrorOptions) { super('receipt_not_stored', message, options); }
}

/** This node's network actor did not answer, or its light client could not join it. */
export class NetworkUnavailableError extends CodedError {
  override name = 'NetworkUnavailableError';
  constructor(message: string, options?: ErrorOptions) { super('network_unavailable', message, options); }
}

export interface NetworkGatewayInit {
  /** A request to an actor of this node (ctx.request). */
  ask: Ask;
  config: Readonly<Config>;
  log: Logger;
  /** The node's swarm key (a private swarm): the light client joins with it. */
  swarmKey?: Uint8Array;
}

const ASK_TIMEOUT_MS = 2000;
const JOIN_TIMEOUT_MS = 10_000;
/** Beyond the claim wait and the executor's own job limit: streams, receipt, failover. */
const JOB_MARGIN_MS = 30_000;
/** A receipt waits for its group's fsync. */
const STORE_TIMEOUT_MS = 30_000;

export class NetworkGateway implements GatewayPort {
  private client?: LightClient;
  /** The peer id of this node's network actor the client joined through. */
  private via = '';
  private joining?: Promise<LightClient>;
  private closed = false;
  /** Set by drain(): new jobs are refused (503), those in flight may finish. */
  private draining = false;
  private inFlight = 0;

  constructor(private readonly init: NetworkGatewayInit) {}

  async models(): Promise<ServedModel[]> {
    try {
      return await this.init.ask('network', { type: 'network.models' }, ASK_TIMEOUT_MS);
    } catch (err) {
      throw new NetworkUnavailableError(`this node's network actor did not answer: ${(err as Error).message}`, { cause: err });
    }
  }

  async run(job: GatewayJob): Promise<SubmitResult> {
    if (this.draining) throw new NetworkUnavailableError('this node is draining (shutting down): send the request to another node');
    this.inFlight++;
    try {
      const client = await this.connect();
      const claimTimeoutMs = this.init.config.api.gateway_timeout_secs * 1000;
      const result = await client.submit({
        ...job,
        priority: 'normal',
        claimTimeoutMs,
        timeoutMs: claimTimeoutMs + this.init.config.executor.job_timeout_secs * 1000 + JOB_MARGIN_MS,
      });
      // This node asked for the job: the receipt goes in its ledger, on disk before the answer.
      try {
        await this.init.ask('store', { type: 'store.receipt_put', receipt: result.receipt, role: 'client' }, STORE_TIMEOUT_MS);
      } catch (err) {
        throw new ReceiptNotStoredError(`the job ran but its receipt could not be kept in this node's store: ${(err as Error).message}`, { cause: err });
      }
      return result;
    } finally {
      this.inFlight--;
    }
  }

  /**
   * The node drains: refuse new jobs, wait up to timeoutMs for those in flight (a job this node
   * hands back is offered again by this gateway's client, to the other nodes). Answers how
   * many are still running (they fail when the node stops).
   */
  async drain(timeoutMs: number): Promise<{ left: number }> {
    this.draining = true;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return { left: this.inFlight };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.joining?.catch(() => undefined);
    await this.client?.close();
  }

  /** Job routing by this node's decision router; a consensus decision may take every round. */
  private readonly route: JobRouter = async (job, candidates) => {
    const o = this.init.config.distributed_orchestration;
    const d = await this.init.ask('consensus', {
      type: 'consensus.decide', decision_type: 'job_routing',
      context: { model: job.model, candidates, ...(job.value === undefined ? {} : { job_value: job.value }), urgency: job.priority === 'high' ? 1 : 0 },
    }, ASK_TIMEOUT_MS + o.consensus_timeout_ms * o.max_consensus_rounds);
    const how = `${d.strategy_used}${d.fallback ? ` (${d.fallback})` : ''}, ${d.path} in group ${d.group}, ${d.latency_ms} ms`;
    // The job must run: a routing the group did not agree to still names the best claimant known.
    return { executor: d.decision.choice, how: d.agreed ? how : `${how}, not agreed (${d.consensus?.outcome ?? 'no outcome'})` };
  };

  /** The joined client; one join at a time, shared by the requests that wait for it. */
  private connect(): Promise<LightClient> {
    if (this.closed) return Promise.reject(new NetworkUnavailableError('the API is stopping'));
    // Connected to this node's network, not merely to some peer: a restarted network actor
    // (another port, perhaps) needs the client registered and joined again.
    if (this.client?.connectedTo(this.via)) return Promise.resolve(this.client);
    this.joining ??= this.join().finally(() => { this.joining = undefined; });
    return this.joining;
  }

  private async join(): Promise<LightClient> {
    const stale = this.client;
    this.client = undefined;
    await stale?.close();
    let client: LightClient;
    let status: NetworkStatus;
    try {
      status = await this.init.ask('network', { type: 'network.status' }, ASK_TIMEOUT_MS);
      const key = await generateKeyPair('Ed25519');
      // Registered before it dials: let in whatever auto_accept_peers says, not counted as a peer.
      await this.init.ask('network', { type: 'network.local_client', peer_id: peerIdFromPrivateKey(key).toString() }, ASK_TIMEOUT_MS);
      client = await LightClient.join({
        bootstrap: [ownAddress(status)], timeoutMs: JOIN_TIMEOUT_MS, privateKey: key, route: this.route,
        ...(this.init.swarmKey ? { swarmKey: this.init.swarmKey } : {}),
      });
    } catch (err) {
      throw new NetworkUnavailableError(`the gateway could not join the network through this node: ${(err as Error).message}`, { cause: err });
    }
    if (this.closed) {
      await client.close();
      throw new NetworkUnavailableError('the API is stopping');
    }
    this.client = client;
    this.via = status.peer_id;
    this.init.log.info({ peer: client.peerId }, 'OpenAI gateway joined the network through this node');
    return client;
  }
}

/** One of the node's listen addresses, loopback first (the client runs on the same host). */
function ownAddress(status: NetworkStatus): string {
  const loopback = status.listen.find((a) => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/'));
  const addr = loopback ?? status.listen[0];
  if (!addr) throw new Error('the node listens on no address');
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${status.peer_id}`;
}
