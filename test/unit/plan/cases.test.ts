import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { changeSteps } from '../../../src/apply/scripts.js';
import { Secret } from '../../../src/core/secret.js';
import type { Action, Change, Facts, HostDesire, HostPlan, Phase, Resource } from '../../../src/core/types.js';
import { emptyFacts } from '../../../src/facts/parse.js';
import { planHost } from '../../../src/plan/plan-host.js';
import { convergeResource, RESOURCE_KINDS, resourceLabel } from '../../../src/resources/index.js';

/*
 * The planner's specifications as data, like pyinfra's operation tests: each
 * test/unit/plan/<kind>/<case>.json holds the facts read from a host and the resources desired
 * there, and what the plan must be — every change (noops included, with their reasons), the
 * refusal if any, and where it says something the steps of the change script. On every case the
 * plan is then carried out on the facts (each kind's `converge`) and planned again: that plan
 * must change nothing.
 */

interface ExpectedChange {
  phase: Phase;
  /** The resource as plans name it (resourceLabel). */
  label: string;
  action: Action;
  reason: string;
  /** The diff the change shows: required when it has one. */
  diff?: string;
  /** The resource itself, when the label does not say all that matters (a rule found on the host). */
  resource?: Resource;
}

interface PlanCase {
  name: string;
  /** Desired resources by phase, in phase order. A resource's `secrets` are given as clear text. */
  desired: Partial<Record<Phase, Resource[]>>;
  /** What the probe read, over a Debian 12 host that holds nothing, read from `controller`. */
  facts?: Partial<Facts>;
  /** The address this controller connects from, as the host sees it (10.77.0.1 when not given). */
  controller?: string;
  changes: ExpectedChange[];
  /** Why the plan is refused on this host, when it must be. */
  refusal?: string;
  /** Every line the change scripts of the desired phases hold for these changes, phase after phase. */
  steps?: string[];
}

const CASES_DIR = dirname(fileURLToPath(import.meta.url));

function readCases(kind: string): { file: string; spec: PlanCase }[] {
  const folder = join(CASES_DIR, kind);
  let files: string[];
  try {
    files = readdirSync(folder)
      .filter((file) => file.endsWith('.json'))
      .sort();
  } catch {
    return [];
  }
  return files.map((file) => ({ file, spec: JSON.parse(readFileSync(join(folder, file), 'utf8')) as PlanCase }));
}

function desireOf(spec: PlanCase): HostDesire {
  const phases = Object.entries(spec.desired).map(([phase, resources]) => ({
    phase: phase as Phase,
    resources: (resources ?? []).map((resource) =>
      'secrets' in resource && resource.secrets
        ? { ...resource, secrets: (resource.secrets as unknown as string[]).map((clear) => new Secret(clear)) }
        : resource,
    ),
    handlers: [],
    validators: [],
  }));
  return { host: 'host1', address: '10.77.0.21', phases };
}

function factsOf(spec: PlanCase): Facts {
  const base = { ...emptyFacts(spec.controller ?? '10.77.0.1'), os: { id: 'debian', versionId: '12', codename: 'bookworm' } };
  return structuredClone({ ...base, ...spec.facts });
}

function described(change: Change, expected: ExpectedChange | undefined): ExpectedChange {
  const shown: ExpectedChange = { phase: change.phase, label: resourceLabel(change.resource), action: change.action, reason: change.reason };
  if (change.diff !== undefined) shown.diff = change.diff;
  if (expected?.resource) shown.resource = change.resource;
  return shown;
}

function stepsOf(desire: HostDesire, plan: HostPlan): string[] {
  return desire.phases.flatMap((phase) =>
    changeSteps(
      plan.changes.filter((change) => change.phase === phase.phase),
      phase.validators,
    ),
  );
}

/** The facts once every change of the plan was carried out. */
function converged(plan: HostPlan, facts: Facts): Facts {
  const after = structuredClone(facts);
  for (const change of plan.changes) {
    if (change.action !== 'noop') convergeResource(change.resource, change.action, after);
  }
  return after;
}

for (const kind of Object.keys(RESOURCE_KINDS)) {
  describe(`planning ${kind}`, () => {
    const cases = readCases(kind);

    it('has its cases (at least two)', () => {
      expect(cases.length).toBeGreaterThanOrEqual(2);
      for (const { file, spec } of cases) {
        const kinds = Object.values(spec.desired).flatMap((resources) => (resources ?? []).map((resource) => resource.kind));
        expect(kinds, `${kind}/${file} desires a ${kind}`).toContain(kind);
      }
    });

    for (const { file, spec } of cases) {
      it(`${spec.name} (${file})`, () => {
        const desire = desireOf(spec);
        const facts = factsOf(spec);
        const plan = planHost(desire, facts);
        expect(plan.changes.map((change, i) => described(change, spec.changes[i]))).toEqual(spec.changes);
        expect(plan.refusal).toEqual(spec.refusal);
        if (spec.steps) expect(stepsOf(desire, plan)).toEqual(spec.steps);

        const again = planHost(desire, converged(plan, facts));
        expect(again.changes.filter((change) => change.action !== 'noop').map((change) => described(change, undefined))).toEqual([]);
      });
    }
  });
}
