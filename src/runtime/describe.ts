// A machine's definition as xstate JSON, for a visualizer (GET /actors/:name/machine,
// `mvp-node actors describe NAME`): states, transitions with their targets, guards, delays and
// invocations by name. xstate's own toJSON leaves out eventless (`always`) transitions, which
// are how most of this node's machines follow what they hold; they are added to each state as
// `always`, in the same shape as its `transitions`. Inline functions have no name to show: JSON
// drops them (null in an array).
import type { AnyStateMachine, AnyStateNode } from 'xstate';

type Json = Record<string, unknown> & { states?: Record<string, Json> };

/** Plain JSON: functions (inline actions, guards) dropped. */
const plain = (v: unknown): Json => JSON.parse(JSON.stringify(v, (_key, value: unknown) => (typeof value === 'function' ? undefined : value))) as Json;

function withAlways(node: AnyStateNode, json: Json): Json {
  const always = node.always?.map((t) => plain(t.toJSON()));
  const states = json.states
    ? Object.fromEntries(Object.entries(json.states).map(([key, child]) => [key, withAlways(node.states[key]!, child)]))
    : undefined;
  return { ...json, ...(states ? { states } : {}), ...(always && always.length > 0 ? { always } : {}) };
}

export function machineJson(machine: AnyStateMachine): unknown {
  return withAlways(machine.root, plain(machine.toJSON()));
}
