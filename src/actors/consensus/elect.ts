// The orchestrator's start_election, carried out: this node runs for a group's next epoch now
// (OrchestrationCore.claimNow). The voters' policy still applies: they back the holder itself
// (a holder re-electing itself moves the epoch and refreshes the electorate), or a challenger
// when the holder is suspect or dead, or by the rotation rule of the mode. The answer comes once
// the election is won or lost, or when the orchestrator's wait is nearly up (then `running`).
import type { Clock } from '../../runtime/clock.ts';
import type { OrchestrationCore } from './core.ts';
import { ConsensusUnavailableError, type ElectionAnswer } from './messages.ts';

/** Group names: the swarm, or a model's group. */
export const GROUP_PATTERN = /^(swarm|model:[A-Za-z0-9._-]{1,128})$/;

export async function startElection(core: OrchestrationCore, group: string, clock: Clock, flush: () => void, waitMs: number): Promise<ElectionAnswer> {
  if (!GROUP_PATTERN.test(group)) throw new ConsensusUnavailableError(`group must be "swarm" or "model:<name>"; got ${JSON.stringify(group)}`);
  const before = core.groupStatus(group);
  if (!before.member) throw new ConsensusUnavailableError(`this node is not a member of group ${group} (it serves no such model, or is in too many groups)`);
  if (!core.claimNow(group, clock.now(), 'rotate')) {
    const why = before.election ? `an election for epoch ${before.election.epoch} is already running`
      : before.epoch === 0 || before.partial ? 'the group has no full record yet' : 'the claim was refused by this node\'s own ledger';
    throw new ConsensusUnavailableError(`no election in ${group} can start now: ${why}`);
  }
  flush();
  const answer = (state: ElectionAnswer['state']): ElectionAnswer => {
    const now = core.groupStatus(group);
    return { group, epoch_before: before.epoch, epoch: now.epoch, state, holder: now.holder ?? null };
  };
  const deadline = clock.now() + waitMs;
  for (;;) {
    const now = core.groupStatus(group);
    if (now.epoch > before.epoch) return answer(now.holder?.peer_id === core.self.peer_id ? 'won' : 'lost');
    if (!now.election) return answer('lost');
    if (clock.now() >= deadline) return answer('running');
    await new Promise<void>((resolve) => { clock.setTimeout(resolve, 50); });
  }
}
