// Context groups: nodes group by specialisation so that coordination and
// consensus are scoped to the nodes that share the work. Every node is in `swarm`; a node serving
// models also joins `model:<name>` for up to max_groups_per_node of them. A node's groups are a
// function of its own models and config, so membership converges as soon as heartbeats carry it.
// A model group coordinates (elects, decides) only with at least min_nodes_per_group live members;
// below that its decisions fall back to the swarm. Pure.
import { SWARM_GROUP } from '../../protocol/topics.ts';

export const SWARM = SWARM_GROUP;
/** Groups a heartbeat may list (the schema's bound): the swarm and up to 15 model groups. */
export const MAX_LISTED_GROUPS = 16;

/**
 * Most members a group's electorate (its council) holds by default (CoreConfig.council_size).
 * A group no larger votes as a whole; in a larger one the council votes and coordinates, and
 * heartbeats are scoped to it (core.ts, `hears`).
 */
export const COUNCIL_SIZE = 31;

export const modelGroup = (model: string) => `model:${model}`;

/**
 * The groups a node joins: `swarm`, then model groups in name order up to `maxGroups` (the swarm
 * does not count against it, every node is in it).
 */
export function chooseGroups(models: readonly string[], maxGroups: number): string[] {
  const limit = Math.max(0, Math.min(MAX_LISTED_GROUPS - 1, Math.floor(maxGroups)));
  const names = [...new Set(models.filter((m) => m.length > 0 && m.length <= 128))].sort();
  return [SWARM, ...names.slice(0, limit).map(modelGroup)];
}

/** Whether a group coordinates with this many live members (the swarm always does). */
export function isActive(group: string, liveMembers: number, minNodes: number): boolean {
  return group === SWARM || liveMembers >= Math.max(1, minNodes);
}
