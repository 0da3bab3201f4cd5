// Network namespaces for chaos scenarios: hosts on two bridges ("sides") in a hub namespace,
// the bridges joined by one veth pair whose link can be cut and healed. Everything is created
// under a per-process tag and deleted afterwards; nothing touches the host's own interfaces.
import { execFileSync } from 'node:child_process';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export interface Host { ns: string; ip: string; side: 0 | 1; name: string }

export class SplitNetwork {
  readonly tag = `ch${process.pid % 100000}`;
  readonly hub = `${this.tag}-hub`;
  readonly hosts: Host[];

  /** `sides[i]` names the hosts on side i. */
  constructor(sides: [string[], string[]]) {
    this.hosts = sides.flatMap((names, side) => names.map((name, i) => ({
      name, side: side as 0 | 1, ns: `${this.tag}-${name}`, ip: `198.18.${side}.${i + 1}`,
    })));
  }

  create(): void {
    ip('netns', 'add', this.hub);
    for (const side of [0, 1]) {
      ip('-n', this.hub, 'link', 'add', `br${side}`, 'type', 'bridge');
      ip('-n', this.hub, 'link', 'set', `br${side}`, 'up');
    }
    // The link between the sides, and one /16 so both sides share a subnet.
    ip('-n', this.hub, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1');
    for (const side of [0, 1]) {
      ip('-n', this.hub, 'link', 'set', `x${side}`, 'master', `br${side}`);
      ip('-n', this.hub, 'link', 'set', `x${side}`, 'up');
    }
    for (const [i, h] of this.hosts.entries()) {
      ip('netns', 'add', h.ns);
      ip('link', 'add', `${this.tag}h${i}`, 'type', 'veth', 'peer', 'name', `${this.tag}n${i}`);
      ip('link', 'set', `${this.tag}h${i}`, 'netns', this.hub);
      ip('link', 'set', `${this.tag}n${i}`, 'netns', h.ns);
      ip('-n', this.hub, 'link', 'set', `${this.tag}h${i}`, 'master', `br${h.side}`);
      ip('-n', this.hub, 'link', 'set', `${this.tag}h${i}`, 'up');
      ip('-n', h.ns, 'addr', 'add', `${h.ip}/16`, 'dev', `${this.tag}n${i}`);
      ip('-n', h.ns, 'link', 'set', `${this.tag}n${i}`, 'up');
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
  }

  /** Cut (down) or heal (up) the link between the sides. */
  link(up: boolean): void { ip('-n', this.hub, 'link', 'set', 'x0', up ? 'up' : 'down'); }

  host(name: string): Host { return this.hosts.find((h) => h.name === name)!; }

  destroy(): void {
    for (const ns of [...this.hosts.map((h) => h.ns), this.hub]) { try { ip('netns', 'del', ns); } catch { /* gone */ } }
  }
}
