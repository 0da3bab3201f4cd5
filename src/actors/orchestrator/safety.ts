// The orchestrator's safety gate (`[orchestrator.safety]`): whatever proposed a decision —
// heuristics now, an LLM later — it passes here before anything may act on it.
import type { OrchestratorConfig } from '../../config/types.ts';
import type { Decision } from './heuristics.ts';

/**
 * accepted: may be executed. held: needs a confirmation first (confidence above
 * require_confirmation_above). refused: the action is not in allowed_actions.
 */
export type Outcome = 'accepted' | 'held' | 'refused';

export interface GatedDecision {
  decision: Decision;
  outcome: Outcome;
  /** Why it was held or refused, or that its confidence was capped. */
  reason?: string;
}

/**
 * Order: refuse a disallowed action; clamp confidence to [0, max_confidence_threshold]; hold it
 * when the (capped) confidence is strictly above require_confirmation_above; accept otherwise.
 * Capping happens before the hold test, so a cap at or below the hold threshold means nothing
 * is ever held.
 */
export function applySafety(d: Decision, safety: Pick<OrchestratorConfig['safety'], 'allowed_actions' | 'max_confidence_threshold' | 'require_confirmation_above'>): GatedDecision {
  const raw = Number.isFinite(d.confidence) ? d.confidence : 0;
  const confidence = Math.min(Math.max(0, raw), safety.max_confidence_threshold);
  const decision: Decision = { ...d, confidence };
  const capped = confidence < raw ? `confidence capped from ${raw} to ${confidence}` : undefined;
  if (!safety.allowed_actions.includes(d.action)) {
    return { decision, outcome: 'refused', reason: `action ${d.action} is not in orchestrator.safety.allowed_actions` };
  }
  if (confidence > safety.require_confirmation_above) {
    return {
      decision, outcome: 'held',
      reason: `confidence ${confidence} is above require_confirmation_above ${safety.require_confirmation_above}: needs confirmation`
        + (capped ? `; ${capped}` : ''),
    };
  }
  return capped ? { decision, outcome: 'accepted', reason: capped } : { decision, outcome: 'accepted' };
}
