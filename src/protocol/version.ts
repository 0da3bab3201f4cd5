// Protocol versions: what this node speaks and how two peers pick a common version.
// A version is "major.minor"; minors are additive, so speaking 1.2 implies speaking 1.0 and 1.1.

// 2.0: scoped offers (per-model, sharded offer topics; topics.ts). A 1.0 node broadcasts every
// offer on the work topic; the two do not read each other's envelopes (the inspector drops them
// as unknown_version), and a node runs 1.0 only when configured so (network.offer_scope).
export const PROTOCOL_VERSION = '2.0';
export const SUPPORTED_VERSIONS: readonly string[] = Object.freeze([PROTOCOL_VERSION]);
/** The broadcast marketplace's version, spoken by a node with network.offer_scope = 'broadcast'. */
export const BROADCAST_PROTOCOL_VERSION = '1.0';

/** The one version a node stamps and reads, by how its offers travel. */
export function versionOfScope(scope: 'scoped' | 'broadcast'): string {
  return scope === 'broadcast' ? BROADCAST_PROTOCOL_VERSION : PROTOCOL_VERSION;
}

export interface ProtocolVersion {
  major: number;
  minor: number;
}

const VERSION_PATTERN = /^(\d{1,6})\.(\d{1,6})$/;

/** Parses "major.minor"; anything else (including huge numbers) is `undefined`. */
export function parseVersion(version: unknown): ProtocolVersion | undefined {
  if (typeof version !== 'string') return undefined;
  const match = VERSION_PATTERN.exec(version);
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/** True when a node speaking `supported` can read messages stamped with `version` (same major). */
export function isSupportedVersion(version: unknown, supported: readonly string[] = SUPPORTED_VERSIONS): boolean {
  const parsed = parseVersion(version);
  if (parsed === undefined) return false;
  return highestMinorByMajor(supported).has(parsed.major);
}

/**
 * The version two peers use: the highest major both speak, at the lower of the two highest minors
 * each speaks in that major. `undefined` when they share no major. Entries that are not
 * "major.minor" are ignored; the answer is normalised ("01.00" and "1.0" are both "1.0").
 */
export function negotiateVersion(mine: readonly unknown[], theirs: readonly unknown[]): string | undefined {
  if (!Array.isArray(mine) || !Array.isArray(theirs)) return undefined;
  const ours = highestMinorByMajor(mine);
  const peers = highestMinorByMajor(theirs);
  let best: ProtocolVersion | undefined;
  for (const [major, ourMinor] of ours) {
    const theirMinor = peers.get(major);
    if (theirMinor === undefined) continue;
    if (best === undefined || major > best.major) best = { major, minor: Math.min(ourMinor, theirMinor) };
  }
  return best === undefined ? undefined : `${best.major}.${best.minor}`;
}

function highestMinorByMajor(versions: readonly unknown[]): Map<number, number> {
  const highest = new Map<number, number>();
  for (const version of versions) {
    const parsed = parseVersion(version);
    if (parsed === undefined) continue;
    const seen = highest.get(parsed.major);
    if (seen === undefined || parsed.minor > seen) highest.set(parsed.major, parsed.minor);
  }
  return highest;
}
