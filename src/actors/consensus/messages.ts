// What the consensus actor accepts and answers.
import type { RequestEvent } from '../../runtime/actor.ts';
export type { ConsensusView } from './view.ts';

export type ConsensusIn =
  /** → ConsensusView, as of the last refresh. */
  | RequestEvent<{ type: 'consensus.status' }>
  /** Refresh now (joins a refresh in flight) → ConsensusView. */
  | RequestEvent<{ type: 'consensus.refresh' }>;

/** Start arguments (ChildSpec.args). */
export interface ConsensusArgs {
  /** permanent mode: the node_id of the fixed coordinator; default: the smallest node_id. */
  permanent_coordinator?: string;
}
