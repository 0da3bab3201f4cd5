// The rules of coordinator elections, as pure functions over one group's
// ledger. The invariant they exist for: at most one holder per group, lineage and epoch.
//
// - A record (lineage, epoch, holder, electorate) is won by a claim that gathers grants from a
//   strict majority of the electorate of the latest record the candidate knows (its reference),
//   and also from a strict majority of every electorate its voters report having accepted since
//   that reference. A voter grants at most one claim per lineage and epoch, never one below an
//   epoch it has promised, and never one whose reference is older than a record it knows.
// - Why that suffices (the argument, spelt out in docs/DISTRIBUTED-ORCHESTRATION.md): two winners
//   of one epoch would need disjoint sets of voters. Any winner's voters include a majority of the
//   electorate of the newest record before the epoch, or report having accepted it, and then must
//   include a majority of it as well; two majorities of one set share a voter, who would have
//   granted two claims of one epoch.
// - A lineage is founded by one node alone (epoch 1, electorate = itself). Two lineages of the
//   same group (networks formed apart) merge when they meet: the record of higher epoch wins,
//   ties to the older founding; the losers adopt the winner's record and join its electorate.

export interface GroupRecord {
  lineage: string;
  epoch: number;
  holder: string;
  /** Undefined while known only from someone's heartbeat summary (enough to vote, not to run). */
  electorate?: readonly string[];
}

export interface Accepted { epoch: number; candidate: string; electorate: readonly string[] }

/** What a node must never forget of a group across restarts (persisted before each vote). */
export interface GroupLedger {
  record?: GroupRecord;
  /** Per lineage: the highest epoch granted (or claimed). */
  promised: Record<string, number>;
  /** Per lineage: claims granted and not yet superseded by a record known. */
  accepted: Record<string, Accepted[]>;
}

export const emptyLedger = (): GroupLedger => ({ promised: {}, accepted: {} });

/** A lineage id: base-36 founding time (fixed width, so older sorts first), '.', founder's peer id. */
export function newLineage(now: number, founder: string): string {
  return `${Math.max(0, Math.floor(now)).toString(36).padStart(10, '0')}.${founder}`;
}

/** Whether record `a` supersedes `b`: a higher epoch (of any lineage), ties to the older lineage. */
export function supersedes(a: Pick<GroupRecord, 'lineage' | 'epoch'>, b: Pick<GroupRecord, 'lineage' | 'epoch'> | undefined): boolean {
  if (!b) return true;
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  return a.lineage < b.lineage;
}

/** |voters ∩ set| > |set| / 2 */
export function hasMajority(set: readonly string[], voters: ReadonlySet<string>): boolean {
  let n = 0;
  for (const m of new Set(set)) if (voters.has(m)) n++;
  return 2 * n > new Set(set).size;
}

/**
 * The safety rule. `grants` maps each voter that granted the claim (the candidate included) to
 * the claims it reported having accepted since the reference. The claim wins when the granters
 * hold a strict majority of the reference electorate and of every reported electorate of an
 * epoch between the reference's and the claim's.
 */
export function electionWon(reference: Pick<GroupRecord, 'epoch' | 'electorate'>, epoch: number, grants: ReadonlyMap<string, readonly Accepted[]>): boolean {
  if (!reference.electorate) return false;
  const voters = new Set(grants.keys());
  if (!hasMajority(reference.electorate, voters)) return false;
  for (const reports of grants.values()) {
    for (const a of reports) {
      if (a.epoch <= reference.epoch || a.epoch >= epoch) continue;
      if (!hasMajority(a.electorate, voters)) return false;
    }
  }
  return true;
}

export interface Claim {
  lineage: string;
  epoch: number;
  candidate: string;
  electorate: readonly string[];
  ref_epoch: number;
}

export type Judgement =
  | { granted: true; report: Accepted[] }
  | { granted: false; reason: 'other_lineage' | 'promised' | 'stale_reference' | 'too_many_pending' | 'policy' };

/**
 * A voter's answer to a claim, from its ledger alone plus whether its policy backs the candidate
 * (liveness, never safety: a policy that always said yes would still keep one holder per epoch).
 * On a grant the caller must apply `grant` and persist the ledger before the vote leaves.
 */
export function judgeClaim(ledger: GroupLedger, claim: Claim, policyBacks: boolean, maxReported: number): Judgement {
  const rec = ledger.record;
  if (rec && rec.lineage !== claim.lineage) return { granted: false, reason: 'other_lineage' };
  const promised = ledger.promised[claim.lineage] ?? 0;
  const last = (ledger.accepted[claim.lineage] ?? []).at(-1);
  const repeat = last !== undefined && last.epoch === claim.epoch && last.candidate === claim.candidate;
  if (!repeat && claim.epoch <= promised) return { granted: false, reason: 'promised' };
  if (rec && claim.ref_epoch < rec.epoch) return { granted: false, reason: 'stale_reference' };
  if (!repeat && !policyBacks) return { granted: false, reason: 'policy' };
  const report = (ledger.accepted[claim.lineage] ?? []).filter((a) => a.epoch > claim.ref_epoch && a.epoch < claim.epoch);
  if (report.length > maxReported) return { granted: false, reason: 'too_many_pending' };
  return { granted: true, report };
}

/** Records a grant (or the candidate's vote for itself) in the ledger. */
export function grant(ledger: GroupLedger, claim: Claim): void {
  ledger.promised[claim.lineage] = Math.max(ledger.promised[claim.lineage] ?? 0, claim.epoch);
  const list = (ledger.accepted[claim.lineage] ??= []);
  if (!list.some((a) => a.epoch === claim.epoch)) list.push({ epoch: claim.epoch, candidate: claim.candidate, electorate: [...claim.electorate] });
}

/**
 * Takes a record as the group's current one. Claims accepted up to its epoch are superseded;
 * promises rise to it. Returns false (and changes nothing) when it does not supersede the held
 * record — except that a full copy of the held record fills in a partial one.
 */
export function adoptRecord(ledger: GroupLedger, rec: GroupRecord): boolean {
  const held = ledger.record;
  const same = held && held.lineage === rec.lineage && held.epoch === rec.epoch;
  if (same) {
    if (held.electorate || !rec.electorate || held.holder !== rec.holder) return false;
    ledger.record = { ...held, electorate: [...rec.electorate] };
    return true;
  }
  if (!supersedes(rec, held)) return false;
  ledger.record = { ...rec, ...(rec.electorate ? { electorate: [...rec.electorate] } : {}) };
  ledger.promised[rec.lineage] = Math.max(ledger.promised[rec.lineage] ?? 0, rec.epoch);
  const kept = (ledger.accepted[rec.lineage] ?? []).filter((a) => a.epoch > rec.epoch);
  if (kept.length > 0) ledger.accepted[rec.lineage] = kept; else delete ledger.accepted[rec.lineage];
  // Only the current lineage's promises matter for voting; keep a few in case it comes back.
  const lineages = Object.keys(ledger.promised);
  if (lineages.length > 4) for (const l of lineages.filter((x) => x !== rec.lineage).slice(0, lineages.length - 4)) { delete ledger.promised[l]; delete ledger.accepted[l]; }
  return true;
}

/** The next epoch this node may claim in its record's lineage. */
export function nextEpoch(ledger: GroupLedger): number {
  const rec = ledger.record;
  if (!rec) return 1;
  return Math.max(rec.epoch, ledger.promised[rec.lineage] ?? 0) + 1;
}
