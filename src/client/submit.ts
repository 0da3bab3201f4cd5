// The light client behind `mvp-node submit`: joins the network without serving anything,
// offers a job (work_offer), picks one of the nodes that claim it (job_claim), assigns it
// (job_assign), brings the prompt over `/mvp/job/1.0.0`, streams the tokens and checks the
// signed receipt it ends with. DESIGN.md §4, client side.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { PrivateKey } from '@libp2p/interface';
import { buildLibp2p, type NetworkNode } from '../actors/network/libp2p.ts';
import { SYNC_PROTOCOL, parseResponse, readJson, writeJson } from '../actors/network/sync.ts';
import { LEASE_MS, WORK_TOPIC } from '../actors/network/executor.ts';
import {
  buildWorkOffer, createEnvelopeInspector, encodeEnvelope, sealEnvelope, sha256Hex, verifyReceipt,
  type Envelope, type JobClaimBody, type JobPriority, type Manifest, type ReceiptEnvelope,
} from '../protocol/index.ts';
import { JOB_PROTOCOL, parseJobFrame, readLines, writeLine } from '../jobs/stream.ts';

export interface SubmitOptions {
  bootstrap: string[];
  prompt: string;
  /** A model name some node serves; default: the first one found. */
  model?: string;
  maxTokens: number;
  temperature: number;
  seed?: number;
  priority: JobPriority;
  timeoutMs: number;
  /**
   * How long the executor may stay silent (no token, no keepalive) before the job moves to
   * another claimant. Default LEASE_MS (10 s); the executor sends a keepalive every 2 s.
   */
  leaseMs?: number;
  onToken?(text: string): void;
  /** Progress notes (joining, claims, chosen executor). */
  onNote?(text: string): void;
}

export interface SubmitResult { text: string; receipt: ReceiptEnvelope; executor: string }

/** No node took the job in time: nothing ran. */
export class NoExecutorError extends Error {
  override name = 'NoExecutorError';
}
/** The executor refused the job for now (its queue is full): offer it again. */
class BusyExecutorError extends Error {
  override name = 'BusyExecutorError';
}
/** The job ran (or was refused) but did not end with a valid receipt. */
export class JobFailedError extends Error {
  override name = 'JobFailedError';
}

const CLAIM_WINDOW_MS = 300;
const JOIN_TRIES = 5;
const REOFFER_MS = 2000;

export async function submitJob(opts: SubmitOptions): Promise<SubmitResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const note = opts.onNote ?? (() => {});
  const key = await generateKeyPair('Ed25519');
  const me = peerIdFromPrivateKey(key).toString();
  const node = await buildLibp2p({ privateKey: key, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 16, mdns: false });
  try {
    const pubsub = node.services.pubsub;
    pubsub.subscribe(WORK_TOPIC);
    const manifests = await join(node, opts.bootstrap, deadline);
    const model = opts.model ?? firstModel(manifests);
    if (!model) throw new NoExecutorError('no node on the network serves a model');
    refuseImpossible(manifests, model, opts.maxTokens);
    await until(() => pubsub.getSubscribers(WORK_TOPIC).length > 0, deadline, 'a peer to hear offers');

    const offer = buildWorkOffer({
      client: me, model, prompt_sha256: sha256Hex(opts.prompt), max_tokens: opts.maxTokens, temperature: opts.temperature,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }), priority: opts.priority, requirements: {},
    });
    const book = new ClaimBook(node, offer.job_id);
    const tried = new Set<string>();
    try {
      for (;;) {
        const claim = await book.next(tried, () => publish(node, key, me, WORK_TOPIC, 'work_offer', offer), deadline);
        if (!claim) break;
        tried.add(claim.executor);
        await publish(node, key, me, WORK_TOPIC, 'job_assign', { job_id: offer.job_id, executor: claim.executor, lease_ms: opts.leaseMs ?? LEASE_MS, attempt: tried.size });
        note(`job ${offer.job_id.slice(0, 12)} assigned to ${claim.executor}`);
        try {
          return await runOn(node, claim.executor, manifests, offer.job_id, opts, deadline);
        } catch (err) {
          if (err instanceof BusyExecutorError) {
            // Full for now: offer again; that node may claim the job once it has room.
            tried.delete(claim.executor);
            book.forget(claim.executor);
            note(err.message);
            continue;
          }
          if (err instanceof JobFailedError) throw err;
          note(`executor ${claim.executor} failed: ${(err as Error).message}; moving the job to another claimant`);
        }
      }
    } finally {
      book.close();
    }
    throw new NoExecutorError(`no node could run the job within ${Math.round(opts.timeoutMs / 1000)} s (model ${model}${tried.size ? `, ${tried.size} took it but none delivered` : ', no claims'})`);
  } finally {
    await Promise.resolve(node.stop()).catch(() => undefined);
  }
}

/** Connect to the bootstrap peers and learn the network's manifests from them (manifest sync). */
async function join(node: NetworkNode, bootstrap: string[], deadline: number): Promise<Manifest[]> {
  if (bootstrap.length === 0) throw new NoExecutorError('submit needs --bootstrap <multiaddr> (a node of the network)');
  const errors: string[] = [];
  const peers: string[] = [];
  // A busy node resets connections beyond its inbound rate limit: retry with backoff while
  // the job has time (at most JOIN_TRIES times), all bootstrap addresses at once.
  await Promise.all(bootstrap.map(async (a) => {
    let wait = 250;
    for (let attempt = 1; ; attempt++) {
      try {
        const conn = await node.dial(multiaddr(a), { signal: AbortSignal.timeout(Math.max(1000, Math.min(10_000, deadline - Date.now()))) });
        peers.push(conn.remotePeer.toString());
        return;
      } catch (err) {
        if (attempt >= JOIN_TRIES || Date.now() + wait >= deadline) {
          errors.push(`Failed to dial bootstrap peer ${a}: ${(err as Error).message}`);
          return;
        }
        await sleep(wait * (0.5 + Math.random()));
        wait = Math.min(2000, wait * 2);
      }
    }
  }));
  if (peers.length === 0) throw new NoExecutorError(errors.join('; '));
  const inspector = createEnvelopeInspector();
  const manifests = new Map<string, Manifest>();
  for (const p of peers) {
    try {
      const stream = await node.dialProtocol(peerIdFromString(p), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
      await writeJson(stream, { since: 0 });
      for (const text of parseResponse(await readJson(stream)).announces) {
        const r = await inspector.open(new TextEncoder().encode(text), { now: Date.now() });
        if (r.ok && r.envelope.type === 'announce') manifests.set(r.envelope.from, r.envelope.body as Manifest);
      }
    } catch { /* a peer that cannot sync still relays gossip */ }
  }
  return [...manifests.values()];
}

/**
 * A job no node of the network could run is refused here, with the reason, rather than offered
 * until the timeout. Only when the manifests are known: with none, the offer goes out anyway.
 */
function refuseImpossible(manifests: Manifest[], model: string, maxTokens: number): void {
  if (manifests.length === 0) return;
  const serving = manifests.flatMap((m) => m.models.filter((x) => x.name === model));
  if (serving.length === 0) {
    const known = [...new Set(manifests.flatMap((m) => m.models.map((x) => x.name)))];
    throw new NoExecutorError(`no node serves model ${model} (the network serves: ${known.join(', ') || 'nothing'})`);
  }
  const largest = Math.max(...serving.map((x) => x.context_length));
  if (maxTokens >= largest) throw new NoExecutorError(`max_tokens ${maxTokens} does not fit the context of any node serving ${model} (largest: ${largest} tokens)`);
}

function firstModel(manifests: Manifest[]): string | undefined {
  const all = manifests.flatMap((m) => m.models);
  return (all.find((m) => !m.test_model) ?? all[0])?.name;
}

async function publish(node: NetworkNode, key: PrivateKey, me: string, topic: string, type: 'work_offer' | 'job_assign', body: object): Promise<void> {
  const env = await sealEnvelope(key, me, type, body as never, { now: Date.now() });
  await node.services.pubsub.publish(topic, encodeEnvelope(env));
}

/**
 * The claims for one job, gathered for as long as the job is open: a claim that arrives late
 * is still there when the first executor fails.
 */
class ClaimBook {
  private readonly claims = new Map<string, JobClaimBody>();
  private readonly inspector = createEnvelopeInspector();
  private firstAt = 0;
  private lastOffer = 0;
  private readonly onMessage = (e: CustomEvent<{ topic: string; data: Uint8Array }>) => {
    if (e.detail.topic !== WORK_TOPIC) return;
    void this.inspector.open(e.detail.data, { now: Date.now() }).then((r) => {
      if (!r.ok || r.envelope.type !== 'job_claim') return;
      const c = (r.envelope as Envelope<'job_claim'>).body;
      if (c.job_id !== this.jobId || this.claims.has(c.executor)) return;
      this.claims.set(c.executor, c);
      this.firstAt ||= Date.now();
    });
  };

  constructor(private readonly node: NetworkNode, private readonly jobId: string) {
    node.services.pubsub.addEventListener('message', this.onMessage as never);
  }

  close(): void { this.node.services.pubsub.removeEventListener('message', this.onMessage as never); }

  /** Drop an executor's claim (it refused the job for now); a new claim from it counts again. */
  forget(executor: string): void {
    this.claims.delete(executor);
    if (this.claims.size === 0) this.firstAt = 0;
  }

  /**
   * The best claim from an executor not tried yet: once CLAIM_WINDOW_MS have passed since the
   * first claim (so competitors can answer), ranked by free slots, expected start, queue depth.
   * While there is none, the offer goes out again every REOFFER_MS (same job id: nodes that saw
   * it do not claim twice). Undefined at the deadline.
   */
  async next(tried: ReadonlySet<string>, offer: () => Promise<void>, deadline: number): Promise<JobClaimBody | undefined> {
    while (Date.now() < deadline) {
      const fresh = [...this.claims.values()].filter((c) => !tried.has(c.executor));
      if (fresh.length > 0 && Date.now() - this.firstAt >= CLAIM_WINDOW_MS) {
        return fresh.sort((a, b) => Number(b.capacity > 0) - Number(a.capacity > 0) || a.est_start_ms - b.est_start_ms || a.queue_depth - b.queue_depth)[0];
      }
      if (fresh.length === 0 && Date.now() - this.lastOffer >= REOFFER_MS) {
        await offer();
        this.lastOffer = Date.now();
      }
      await sleep(50);
    }
    return undefined;
  }
}

async function runOn(node: NetworkNode, executor: string, manifests: Manifest[], jobId: string, opts: SubmitOptions, deadline: number): Promise<SubmitResult> {
  const addrs: Multiaddr[] = (manifests.find((m) => m.peer_id === executor)?.addrs ?? [])
    .map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${executor}`));
  if (node.getConnections(peerIdFromString(executor)).length === 0 && addrs.length > 0) {
    await node.dial(addrs, { signal: AbortSignal.timeout(10_000) });
  }
  const stream = await node.dialProtocol(peerIdFromString(executor), JOB_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  const timer = setTimeout(() => stream.abort(new Error('job timed out')), Math.max(1, deadline - Date.now()));
  // The lease: every frame renews it; an executor silent for leaseMs (hung, partitioned) loses the job.
  const leaseMs = opts.leaseMs ?? LEASE_MS;
  let lease = setTimeout(() => {}, 0);
  const renew = () => {
    clearTimeout(lease);
    lease = setTimeout(() => stream.abort(new Error(`lease expired: no word from the executor for ${leaseMs} ms`)), leaseMs);
  };
  try {
    renew();
    await writeLine(stream, { job_id: jobId, prompt: opts.prompt });
    for await (const line of readLines(stream)) {
      renew();
      const f = parseJobFrame(line);
      if (f.t === 'alive') continue;
      if (f.t === 'token') { opts.onToken?.(f.text); continue; }
      if (f.t === 'error' && f.retry) throw new BusyExecutorError(`executor ${executor} is busy (${f.reason}); offering the job again`);
      if (f.t === 'error') throw new JobFailedError(`executor ${executor} refused the job: ${f.reason}`);
      const v = await verifyReceipt(f.receipt, { text: f.text, prompt: opts.prompt });
      if (!v.ok) throw new JobFailedError(`receipt from ${executor} failed verification: ${v.check}: ${v.reason}`);
      if (v.receipt.body.job_id !== jobId) throw new JobFailedError(`receipt from ${executor} is for another job`);
      if (v.receipt.from !== executor) throw new JobFailedError(`receipt signed by ${v.receipt.from}, not the executor ${executor}`);
      return { text: f.text, receipt: v.receipt, executor };
    }
    throw new Error('job stream ended without a receipt');
  } finally {
    clearTimeout(timer);
    clearTimeout(lease);
  }
}

async function until(cond: () => boolean, deadline: number, what: string): Promise<void> {
  while (!cond()) {
    if (Date.now() >= deadline) throw new NoExecutorError(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
