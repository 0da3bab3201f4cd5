// Real `mvp-node` processes for orchestration tests: spawn a cluster on loopback (one config
// file for all, each with its own node id in one data directory), kill -9 a member, restart it
// with the same identity and election ledger, read each member's GET /orchestration, and cut or
// heal links through the peer block list (POST / DELETE /peers/:peer/block). Every status read
// feeds `holders`, the check of one coordinator per group and epoch.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, spawnNode, type NodeProcess } from './proc.ts';
import { tmpDir } from './config.ts';
import type { OrchestrationBody } from '../../src/actors/api/messages.ts';

export interface Member { id: string; peerId: string; url: string; port: number; proc: NodeProcess }

export interface Failover {
  victim: Member;
  survivors: Member[];
  /** The record the survivors agreed on. */
  next: OrchestrationBody;
  agreedMs: number;
  /** By survivor node id: when it first marked the victim suspect (or worse), and dead. */
  suspectMs: Map<string, number>;
  deadMs: Map<string, number>;
}

/** Config for emergent mode with heartbeat_timeout_secs `t` (and no periodic health log). */
export const emergentToml = (t: number) => [
  '[distributed_orchestration]', 'mode = "emergent"', `heartbeat_timeout_secs = ${t}`, 'consensus_timeout_ms = 2000',
  '[monitoring]', 'health_check_interval_secs = 3600',
].join('\n');

export class ProcCluster {
  readonly dir = tmpDir('mvp-orch-procs-');
  private readonly cfg = join(this.dir, 'node.toml');
  /** Running members by node id. */
  readonly members = new Map<string, Member>();
  readonly holders = new HolderLog();

  constructor(toml: string) { writeFileSync(this.cfg, toml); }

  /** Starts `ids`: the first alone, then the others bootstrapping to it, all at once. */
  async start(ids: readonly string[]): Promise<Member[]> {
    const first = await this.spawn(ids[0]!);
    return [first, ...await Promise.all(ids.slice(1).map((id) => this.spawn(id)))];
  }

  /** Starts one member (again, after a kill: same node id, data directory and so identity), bootstrapping to a running one. */
  async spawn(id: string): Promise<Member> {
    const boot = [...this.members.values()][0];
    const proc = spawnNode(['-c', this.cfg, '--node-id', id, '--port', '0', '--data-dir', this.dir,
      ...(boot ? ['--bootstrap', `/ip4/127.0.0.1/tcp/${boot.port}/p2p/${boot.peerId}`] : [])]);
    const port = await listenPort(proc);
    const api = await proc.waitFor((l) => l.msg.startsWith('API listening on'), 60_000, 'the API');
    const started = await proc.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
    const m: Member = { id, peerId: String(started.peer_id), url: String(api.url), port, proc };
    this.members.set(id, m);
    return m;
  }

  /** kill -9; resolves once the process is gone. */
  async kill(id: string): Promise<void> {
    const m = this.members.get(id)!;
    this.members.delete(id);
    await m.proc.stop('SIGKILL');
  }

  live(): Member[] { return [...this.members.values()]; }

  byPeer(peerId: string): Member | undefined { return this.live().find((m) => m.peerId === peerId); }

  async status(m: Member): Promise<OrchestrationBody> {
    const r = await fetch(`${m.url}/orchestration`, { signal: AbortSignal.timeout(3000) });
    if (!r.ok) throw new Error(`${m.id}: GET /orchestration answered ${r.status}`);
    const s = await r.json() as OrchestrationBody;
    this.holders.see(s);
    return s;
  }

  /** Each member's status; undefined for one that did not answer. */
  poll(members: readonly Member[]): Promise<Array<OrchestrationBody | undefined>> {
    return Promise.all(members.map((m) => this.status(m).catch(() => undefined)));
  }

  /**
   * Polls `members` (every 100 ms after the last answers) until `done`, given every status,
   * returns a value; `each` sees every complete poll first. Fails naming `what`.
   */
  async watch<V>(members: readonly Member[], timeoutMs: number, what: string,
    done: (all: OrchestrationBody[]) => V | undefined, each?: (all: OrchestrationBody[]) => void): Promise<V> {
    const end = performance.now() + timeoutMs;
    let last: Array<OrchestrationBody | undefined> = [];
    while (performance.now() < end) {
      last = await this.poll(members);
      if (last.every((s) => s !== undefined)) {
        each?.(last as OrchestrationBody[]);
        const v = done(last as OrchestrationBody[]);
        if (v !== undefined) return v;
      }
      await sleep(100);
    }
    const seen = last.map((s) => s && { self: s.self?.node_id, epoch: s.epoch, coordinator: s.coordinator?.node_id, members: s.members, partition: s.partition.state });
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(seen)}`);
  }

  /** Blocks (or, with `lift`, unblocks) each of `to` at `at`; fails naming the refusal. */
  async block(at: Member, to: readonly Member[], lift = false): Promise<void> {
    for (const t of to) {
      const r = await fetch(`${at.url}/peers/${t.peerId}/block`, { method: lift ? 'DELETE' : 'POST', signal: AbortSignal.timeout(3000) });
      if (!r.ok) throw new Error(`${at.id}: ${lift ? 'unblocking' : 'blocking'} ${t.id} answered ${r.status} ${await r.text()}`);
    }
  }

  /**
   * kill -9 the coordinator `current` names, then watch the survivors until they agree on
   * another with a higher epoch: times from the kill (ms) until each survivor marked it suspect
   * and dead, and until the agreement.
   */
  async killCoordinator(current: OrchestrationBody, timeoutMs = 20_000): Promise<Failover> {
    const victim = this.byPeer(current.coordinator!.peer_id)!;
    const survivors = this.live().filter((m) => m !== victim);
    const suspectMs = new Map<string, number>();
    const deadMs = new Map<string, number>();
    const t0 = performance.now();
    await this.kill(victim.id);
    const next = await this.watch(survivors, timeoutMs, `the survivors to agree on a coordinator after ${victim.id}`, (ss) => {
      const a = agreement(ss, survivors);
      return a && a.epoch > current.epoch ? a : undefined;
    }, (ss) => {
      const now = performance.now() - t0;
      for (const s of ss) {
        const l = liveness(s, victim.peerId);
        if (l !== 'alive' && !suspectMs.has(s.self!.node_id)) suspectMs.set(s.self!.node_id, now);
        if (l === 'dead' && !deadMs.has(s.self!.node_id)) deadMs.set(s.self!.node_id, now);
      }
    });
    return { victim, survivors, next, agreedMs: performance.now() - t0, suspectMs, deadMs };
  }

  async stop(): Promise<void> {
    await Promise.all(this.live().map((m) => m.proc.stop('SIGKILL')));
    this.members.clear();
  }
}

/** All `members` agree on a record naming one of them, whose electorate is all of them (for ProcCluster.watch). */
export const settled = (members: readonly Member[]) => (all: OrchestrationBody[]): OrchestrationBody | undefined => {
  const a = agreement(all, members);
  return a && all.every((s) => s.members === members.length && s.groups.find((g) => g.group === 'swarm')?.electorate === members.length) ? a : undefined;
};

/** The swarm record every listed status holds, when they all hold the same one and its holder is among `among`. */
export function agreement(all: readonly OrchestrationBody[], among: readonly Member[]): OrchestrationBody | undefined {
  const first = all[0];
  if (!first?.coordinator || first.epoch === 0) return undefined;
  const same = all.every((s) => s.epoch === first.epoch && s.lineage === first.lineage && s.coordinator?.peer_id === first.coordinator!.peer_id);
  return same && among.some((m) => m.peerId === first.coordinator!.peer_id) ? first : undefined;
}

/** The liveness `s` gives `peerId` ('gone' once forgotten). */
export function liveness(s: OrchestrationBody, peerId: string): 'alive' | 'suspect' | 'dead' | 'gone' {
  return s.peers.find((p) => p.peer_id === peerId)?.status ?? 'gone';
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every (group, lineage, epoch) → holder seen in any status: the invariant "at most one
 * coordinator per group per epoch" holds while `conflicts` stays empty.
 */
export class HolderLog {
  readonly holders = new Map<string, string>();
  readonly conflicts: string[] = [];
  statuses = 0;

  see(s: OrchestrationBody): void {
    this.statuses++;
    for (const g of s.groups) {
      if (!g.lineage || !g.holder || g.epoch === 0) continue;
      const key = `${g.group} ${g.lineage} ${g.epoch}`;
      const seen = this.holders.get(key);
      if (seen === undefined) this.holders.set(key, g.holder.peer_id);
      else if (seen !== g.holder.peer_id) this.conflicts.push(`${key}: ${seen} and ${g.holder.peer_id} (reported by ${s.self?.node_id})`);
    }
  }
}
