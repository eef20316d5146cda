import type { Action, Change, Facts, HostDesire, Resource } from '../core/types.js';
import type { ResourceVerdict } from './verdict.js';

export type ResourceKindName = Resource['kind'];
export type ResourceOf<K extends ResourceKindName> = Extract<Resource, { kind: K }>;

/** A change whose resource is of the given kinds. */
export type ChangeOf<R extends Resource> = Change & { resource: R };

/**
 * One read of the host's probe: shell lines for the desired resources it serves, and the parser
 * of what they print. Each output line starts with one of `tags`. Several kinds may share one read
 * (every managed path, whatever its kind, is read by one `stat`): the probe runs it once, with the
 * resources of all of them in the order the host's desire lists them.
 */
export interface ProbeFragment<R extends Resource = Resource> {
  /** Its place in the probe script, ascending. */
  order: number;
  tags: readonly string[];
  script(resources: readonly R[], desire: HostDesire): string[];
  /** Reads this read's lines (each split on tabs, its tag first), in output order, into the facts. */
  parse(lines: readonly string[][], facts: Facts): void;
}

export interface ApplyContext {
  /** Every change of the phase on the host, noops included. */
  phaseChanges: readonly Change[];
  /** Packages a script earlier in the run installed already (buildPackagesScript). */
  installedEarlier: ReadonlySet<string>;
}

/**
 * The steps of a phase's change script for the changes of the kinds it serves (noops included: a
 * kind may enforce what was planned as nothing, an absent path after an install). Shared by kinds
 * whose changes make one step together (ufw's rules and its state: one ufw batch).
 */
export interface ApplyFragment<R extends Resource = Resource> {
  /** Its place in a change script, ascending. */
  order: number;
  steps(changes: readonly ChangeOf<R>[], context: ApplyContext): string[];
  /**
   * Set when the steps write what the phase's validators check: the validators run after the last
   * such kind, and a failure puts back what these steps changed (`restore`, shell text, beside
   * undoing the written files).
   */
  validated?: { restore?: string };
}

/**
 * A resource kind in one place: how plans name a resource of it, how the host is read for it
 * (probe fragment and parser), how a resource is planned, and the steps that carry out its change.
 */
export interface ResourceKind<K extends ResourceKindName> {
  kind: K;
  label(resource: ResourceOf<K>): string;
  plan(resource: ResourceOf<K>, facts: Facts): ResourceVerdict;
  probe?: ProbeFragment<ResourceOf<K>>;
  apply?: ApplyFragment<ResourceOf<K>>;
  /**
   * The facts once `action` on the resource was carried out (what the next probe would read).
   * Used by the planner's tests to check that planning again yields only noops.
   */
  converge(resource: ResourceOf<K>, action: Exclude<Action, 'noop'>, facts: Facts): void;
}
