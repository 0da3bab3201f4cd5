// The network actor: libp2p, gossip, discovery, the peer table.
import { defineActor } from '../../runtime/actor.ts';
import { networkMachine, type NetworkArgs } from './machine.ts';
import type { NetworkProtocol } from './messages.ts';

export type { NetworkArgs } from './machine.ts';
export default defineActor<NetworkArgs, NetworkProtocol>({ machine: networkMachine });
