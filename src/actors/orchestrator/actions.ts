// The orchestrator's actions that the consensus actor carries out: start_election and
// migrate_context. Two steps:
//
// 1. resolve (before the safety gate): a migrate_context proposal names a strategy
//    (`target: least_loaded_peer | peer_with_most_memory`) or nothing; it is turned into what
//    will actually happen — `model` (a model served here: the one the context text names, else
//    the largest), `target_peer` / `target_node` (the peer the text names, else the best live
//    peer by the strategy among those not serving the model yet) and `unload_source` — so a
//    held decision shows the operator exactly what `confirm` will do. When it cannot be
//    resolved, `params.unresolved` says why and the gate refuses it. start_election gets its
//    `group` (default `swarm`).
// 2. execute (after the gate): consensus.elect / consensus.migrate.
import type { ActorContext } from '../../runtime/actor.ts';
import type { Manifest } from '../../protocol/index.ts';
import type { PeerManifest } from '../network/messages.ts';
import type { ElectionAnswer } from '../consensus/messages.ts';
import type { Migration } from '../consensus/messages.ts';
import type { Decision } from '../../decide/heuristics.ts';
import { OWNER_TIMEOUT_MS, type ExecutionResult } from './messages.ts';

export const MIGRATION_STRATEGIES = ['least_loaded_peer', 'peer_with_most_memory'] as const;

/** A live peer's load as its manifest says: busy slots and queue per slot. */
function loadOf(p: PeerManifest): number {
  const slots = Math.max(1, p.manifest.capacity?.slots ?? 1);
  const l = p.manifest.load;
  return l ? (l.busy_slots + l.queue_depth) / slots + l.cpu / 100 : Infinity;
}

/** Picks the peer a strategy prefers among candidates (none: undefined). */
export function pickTarget(candidates: readonly PeerManifest[], strategy: string): PeerManifest | undefined {
  const sorted = [...candidates].sort(strategy === 'peer_with_most_memory'
    ? (a, b) => (b.manifest.load?.mem_free_mb ?? 0) - (a.manifest.load?.mem_free_mb ?? 0) || loadOf(a) - loadOf(b)
    : (a, b) => loadOf(a) - loadOf(b) || (b.manifest.load?.mem_free_mb ?? 0) - (a.manifest.load?.mem_free_mb ?? 0));
  return sorted[0];
}

const mentions = (text: string | undefined, word: string) =>
  text !== undefined && word.length > 0 && new RegExp(`(^|[^A-Za-z0-9._-])${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9._-])`).test(text);

export interface ResolveSources {
  manifest(): Promise<Manifest>;
  peers(): Promise<PeerManifest[]>;
}

/** See the module header, step 1. Never throws: what it cannot resolve is in `params.unresolved`. */
export async function resolveDecision(d: Decision, context: string | undefined, src: ResolveSources): Promise<Decision> {
  if (d.action === 'start_election') {
    return { ...d, params: { ...d.params, group: typeof d.params.group === 'string' ? d.params.group : 'swarm' } };
  }
  if (d.action !== 'migrate_context') return d;
  const params: Record<string, unknown> = { ...d.params };
  const out = (): Decision => ({ ...d, params });
  params.unload_source = params.unload_source === true;
  let mine: Manifest;
  let peers: PeerManifest[];
  try {
    [mine, peers] = await Promise.all([src.manifest(), src.peers()]);
  } catch (err) {
    params.unresolved = `the network did not answer: ${(err as Error).message}`;
    return out();
  }
  const wanted = typeof params.model === 'string' ? params.model : undefined;
  const model = wanted !== undefined
    ? mine.models.find((m) => m.name === wanted || m.sha256 === wanted)
    : mine.models.find((m) => mentions(context, m.name)) ?? [...mine.models].sort((a, b) => (b.size ?? 0) - (a.size ?? 0))[0];
  if (!model) {
    params.unresolved = wanted !== undefined ? `model ${wanted} is not served here` : 'no model is served here: there is nothing to migrate';
    return out();
  }
  params.model = model.name;
  params.sha256 = model.sha256;
  const live = peers.filter((p) => p.state === 'alive' && p.peer_id !== mine.peer_id);
  const named = typeof params.target_peer === 'string' ? params.target_peer : undefined;
  let target: PeerManifest | undefined;
  if (named !== undefined) {
    target = peers.find((p) => p.peer_id === named || p.manifest.node_id === named);
    if (!target) { params.unresolved = `no known peer ${named}`; return out(); }
  } else {
    target = live.find((p) => mentions(context, p.manifest.node_id));
    if (!target) {
      const strategy = typeof params.target === 'string' && (MIGRATION_STRATEGIES as readonly string[]).includes(params.target) ? params.target : 'least_loaded_peer';
      const without = live.filter((p) => !p.manifest.models.some((m) => m.sha256 === model.sha256));
      target = pickTarget(without, strategy);
      if (!target) {
        params.unresolved = live.length === 0 ? 'no live peer to migrate to' : `every live peer serves ${model.name} already`;
        return out();
      }
    }
  }
  params.target_peer = target.peer_id;
  params.target_node = target.manifest.node_id;
  return out();
}

/** Carries out start_election and migrate_context through the consensus actor; undefined for other actions. */
export async function executeConsensusAction(ctx: Pick<ActorContext, 'request'>, d: Decision): Promise<ExecutionResult | undefined> {
  if (d.action === 'start_election') {
    const group = typeof d.params.group === 'string' ? d.params.group : 'swarm';
    const r = await ctx.request('consensus', { type: 'consensus.elect', group }, OWNER_TIMEOUT_MS + 500);
    const holder = r.holder ? (r.holder.node_id || r.holder.peer_id) : 'none';
    if (r.state === 'lost') return { ok: false, detail: `election in ${group} lost: epoch ${r.epoch_before} → ${r.epoch}, holder ${holder}`, result: r };
    return {
      ok: true,
      detail: r.state === 'won' ? `group ${group}: epoch ${r.epoch_before} → ${r.epoch}, this node holds it`
        : `group ${group}: running for epoch ${r.epoch_before + 1} (votes still out; GET /orchestration shows the result)`,
      result: r,
    };
  }
  if (d.action === 'migrate_context') {
    const m = await ctx.request('consensus', {
      type: 'consensus.migrate', model: d.params.model as string, target: d.params.target_peer as string, unload_source: d.params.unload_source === true,
    }, OWNER_TIMEOUT_MS + 2000);
    return {
      ok: true,
      detail: `migration ${m.id}: asked ${m.target_node ?? m.target} to serve ${m.model}; `
        + (m.unload_source ? 'this node unloads its copy once the target serves it (min_replicas permitting)' : 'this node keeps its copy'),
      result: m,
    };
  }
  return undefined;
}
