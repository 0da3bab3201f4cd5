// The orchestrator's safety gate (`[orchestrator.safety]`): whatever proposed a decision — the
// LLM, the heuristics, the cache or a user through `ask` — it passes here before anything acts.
import type { OrchestratorAction, OrchestratorConfig } from '../../config/types.ts';
import type { Decision } from '../../decide/heuristics.ts';

/**
 * accepted: executed at once by the actor that owns the action. held: waits for `confirm` or
 * `reject` (or expires). refused: never executed (not allowed, not available, out of bounds).
 */
export type Verdict = 'accepted' | 'held' | 'refused';

export interface GatedDecision {
  decision: Decision;
  verdict: Verdict;
  /** Why it was held or refused, and/or that its confidence was capped. */
  reason?: string;
}

/** Why an action cannot be carried out on this node yet (its owner does not implement it). */
export type Unavailable = Readonly<Partial<Record<OrchestratorAction, string>>>;

/**
 * Every action has an owner that carries it out (start_election and migrate_context: the
 * consensus actor, actions.ts), so none is unavailable by default; the hook stays for nodes
 * that run without one of those owners.
 */
export const UNAVAILABLE_ACTIONS: Unavailable = {};

/** Bounds of the parameters an executed action may carry. */
export const GOSSIP_FACTOR_MIN = 0.25;
/** Above 2 the heartbeat interval (timeout / 3 × factor) nears the heartbeat timeout: peers would expire us. */
export const GOSSIP_FACTOR_MAX = 2;
/** scale_queue may set the capacity up to this many times executor.max_queue_size. */
export const QUEUE_SCALE_LIMIT = 10;

export interface SafetyRules extends Pick<OrchestratorConfig['safety'], 'allowed_actions' | 'max_confidence_threshold' | 'require_confirmation_above'> {
  /** Largest queue capacity scale_queue may set (QUEUE_SCALE_LIMIT × executor.max_queue_size). */
  max_queue_capacity?: number;
  unavailable?: Unavailable;
}

/** Parameters an action needs to be executed, checked against their bounds; undefined when fine. */
export function paramsProblem(d: Decision, maxQueueCapacity = Infinity): string | undefined {
  if (d.action === 'scale_queue') {
    const c = d.params.capacity;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1) return 'scale_queue needs params.capacity, an integer ≥ 1';
    if (c > maxQueueCapacity) return `scale_queue capacity ${c} is above the limit ${maxQueueCapacity} (${QUEUE_SCALE_LIMIT} × executor.max_queue_size)`;
  }
  if (d.action === 'adjust_gossip') {
    const f = d.params.heartbeat_factor;
    if (typeof f !== 'number' || !Number.isFinite(f) || f < GOSSIP_FACTOR_MIN || f > GOSSIP_FACTOR_MAX) {
      return `adjust_gossip needs params.heartbeat_factor from ${GOSSIP_FACTOR_MIN} to ${GOSSIP_FACTOR_MAX}`;
    }
  }
  if (d.action === 'start_election' && d.params.group !== undefined
    && (typeof d.params.group !== 'string' || !/^(swarm|model:[A-Za-z0-9._-]{1,128})$/.test(d.params.group))) {
    return 'start_election needs params.group "swarm" or "model:<name>"';
  }
  if (d.action === 'migrate_context') {
    if (typeof d.params.unresolved === 'string') return `migrate_context cannot run: ${d.params.unresolved}`;
    if (d.params.unload_source !== undefined && typeof d.params.unload_source !== 'boolean') return 'migrate_context needs params.unload_source true or false';
  }
  return undefined;
}

/**
 * The rules, in order:
 * 1. an action not in allowed_actions is refused;
 * 2. an action this node cannot carry out yet (UNAVAILABLE_ACTIONS) is refused, "not available";
 * 3. parameters outside their bounds (paramsProblem) are refused;
 * 4. confidence is clamped to [0, max_confidence_threshold] (a non-finite one counts as 0);
 * 5. an action that changes something (anything but `wait`) whose capped confidence is strictly
 *    above require_confirmation_above is held for confirmation; `wait` is never held;
 * 6. everything else is accepted.
 * Capping comes before the hold test, so a cap at or below the hold threshold holds nothing;
 * require_confirmation_above = 1 turns confirmation off.
 */
export function applySafety(d: Decision, rules: SafetyRules): GatedDecision {
  const raw = Number.isFinite(d.confidence) ? d.confidence : 0;
  const confidence = Math.min(Math.max(0, raw), rules.max_confidence_threshold);
  const decision: Decision = { ...d, confidence };
  const capped = confidence < raw ? `confidence capped from ${raw} to ${confidence}` : undefined;
  const refuse = (reason: string): GatedDecision => ({ decision, verdict: 'refused', reason });
  if (!rules.allowed_actions.includes(d.action)) return refuse(`action ${d.action} is not in orchestrator.safety.allowed_actions`);
  const unavailable = (rules.unavailable ?? {})[d.action];
  if (unavailable) return refuse(unavailable);
  const bad = paramsProblem(d, rules.max_queue_capacity);
  if (bad) return refuse(bad);
  if (d.action !== 'wait' && confidence > rules.require_confirmation_above) {
    return {
      decision, verdict: 'held',
      reason: `confidence ${confidence} is above require_confirmation_above ${rules.require_confirmation_above}: needs confirmation`
        + (capped ? `; ${capped}` : ''),
    };
  }
  return capped ? { decision, verdict: 'accepted', reason: capped } : { decision, verdict: 'accepted' };
}
