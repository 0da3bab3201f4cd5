// A machine's definition as xstate JSON, for a visualizer (GET /actors/:name/machine,
// `mvp-node actors describe NAME`): states, transitions, guards, delays and invocations by name.
// Inline functions have no name to show: JSON drops them (null in an array).
import type { AnyStateMachine } from 'xstate';

export function machineJson(machine: AnyStateMachine): unknown {
  return JSON.parse(JSON.stringify(machine.toJSON(), (_key, value: unknown) => (typeof value === 'function' ? undefined : value)));
}
