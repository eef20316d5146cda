import { describe, expect, it } from 'vitest';
import type { Change, HostDesire, HostPlan, PhaseDesire } from '../../src/core/types.js';
import type { Fleet } from '../../src/engine/fleet.js';
import { applyPlans } from '../../src/engine/run.js';

/*
 * The order in which applyPlans runs scripts on hosts, with stand-in connections that record each
 * script's first step and when it started and ended. The lab proves the scripts themselves
 * (30-stack builds the stack from bare hosts and rolls a change under load).
 */

interface Exec {
  host: string;
  /** The script's first step, and all of them. */
  step: string;
  steps: string[];
  start: number;
  end: number;
}

function standInFleet(hostNames: readonly string[]): { fleet: Fleet; execs: Exec[] } {
  const execs: Exec[] = [];
  let clock = 0;
  const connection = (host: string) => ({
    async run(script: string) {
      const steps = [...script.matchAll(/^\s*step (.+)$/gm)].map((match) => (match[1] as string).replace(/^(['"])(.*)\1$/, '$2'));
      const exec: Exec = { host, step: steps[0] ?? 'no step', steps, start: (clock += 1), end: 0 };
      execs.push(exec);
      await new Promise((resolve) => setTimeout(resolve, 5));
      exec.end = clock += 1;
      return { code: 0, stdout: '@@done\n', stderr: '' };
    },
  });
  const connections = new Map(hostNames.map((name) => [name, connection(name)]));
  const fleet = { connections, failures: new Map(), secrets: [], connectionTo: async (name: string) => connections.get(name) };
  return { fleet: fleet as unknown as Fleet, execs };
}

const firewall: PhaseDesire = { phase: 'firewall', resources: [{ kind: 'package', name: 'ufw' }], handlers: [], validators: [] };

/** A web host: nginx installed and reloaded, one at a time when it serves, drained on lb1 around its reload. */
function webHost(name: string): HostDesire {
  const web: PhaseDesire = {
    phase: 'web',
    resources: [
      { kind: 'package', name: 'nginx' },
      { kind: 'file', path: '/etc/nginx/site', content: 'x', mode: '0644', owner: 'root', group: 'root', notify: ['reload:nginx'] },
    ],
    handlers: [{ id: 'reload:nginx', service: 'nginx', action: 'reload' }],
    validators: [],
    serial: true,
    rolling: { peers: ['lb1'], before: 'step drain', after: 'step ready' },
  };
  return { host: name, address: '10.0.0.1', phases: [firewall, web] };
}

/** Its plan: every resource to create, and `serving` as given. */
function planFor(desire: HostDesire, serving: HostPlan['serving']): HostPlan {
  const changes: Change[] = desire.phases.flatMap((phase) =>
    phase.resources.map((resource): Change => ({ phase: phase.phase, resource, action: 'create', reason: 'missing' })),
  );
  return { host: desire.host, changes, pendingHandlers: [], notices: [], serving };
}

async function apply(servingWeb: Record<string, boolean>) {
  const desires = Object.keys(servingWeb).map(webHost);
  const plans = new Map(desires.map((desire) => [desire.host, planFor(desire, servingWeb[desire.host] ? ['web'] : [])]));
  const { fleet, execs } = standInFleet([...desires.map((d) => d.host), 'lb1']);
  const reports = await applyPlans(fleet, desires, plans, { forks: 10 });
  return { execs, reports };
}

const overlaps = (a: Exec, b: Exec) => a.start < b.end && b.start < a.end;

describe('applyPlans: the order of scripts on hosts', () => {
  it('installs every later package of a host in one apt-get right after the firewall phase, and not again in its phase', async () => {
    const { execs, reports } = await apply({ web1: false, web2: false });
    const firewallEnds = Math.max(...execs.filter((e) => e.step === 'install packages ufw').map((e) => e.end));
    const early = execs.filter((e) => e.step === 'install packages nginx');
    expect(early.map((e) => e.host).sort()).toEqual(['web1', 'web2']);
    for (const exec of early) expect(exec.start).toBeGreaterThan(firewallEnds);
    expect(overlaps(early[0] as Exec, early[1] as Exec)).toBe(true);
    const webPhase = execs.filter((e) => e.step === 'record pending handlers');
    expect(webPhase).toHaveLength(2);
    for (const exec of webPhase) {
      expect(exec.start).toBeGreaterThan(Math.max(...early.map((e) => e.end)));
      expect(exec.steps).toContain('write /etc/nginx/site');
      expect(exec.steps.filter((step) => step.startsWith('install packages'))).toEqual([]);
    }
    expect([...reports.values()].map((r) => r.status)).toEqual(['changed', 'changed']);
  });

  it('changes web hosts that serve nothing yet together, still draining and readying each on the lb', async () => {
    const { execs } = await apply({ web1: false, web2: false });
    const [web1, web2] = ['web1', 'web2'].map((host) => execs.find((e) => e.host === host && e.step === 'record pending handlers') as Exec);
    expect(overlaps(web1 as Exec, web2 as Exec)).toBe(true);
    expect(
      execs
        .filter((e) => e.host === 'lb1')
        .map((e) => e.step)
        .sort(),
    ).toEqual(['drain', 'drain', 'ready', 'ready']);
  });

  it('changes web hosts that serve one at a time, each drained before and readied after', async () => {
    const { execs } = await apply({ web1: true, web2: true });
    const order = execs.filter((e) => !e.step.startsWith('install packages'));
    expect(order.map((e) => `${e.host} ${e.step}`)).toEqual([
      'web1 record pending handlers',
      'lb1 drain',
      'web1 reload nginx',
      'lb1 ready',
      'web2 record pending handlers',
      'lb1 drain',
      'web2 reload nginx',
      'lb1 ready',
    ]);
  });

  it('changes a new web host first, with the serving ones following one at a time', async () => {
    const { execs } = await apply({ web1: true, web2: true, web3: false });
    const changeOf = (host: string) => execs.find((e) => e.host === host && e.step === 'record pending handlers') as Exec;
    expect(changeOf('web3').start).toBeLessThan(changeOf('web1').start);
    expect(changeOf('web1').end).toBeLessThan(changeOf('web2').start);
  });

  it("waits for a phase's ready condition on a host the phase changed, after its handlers, and not on a host it left alone", async () => {
    const lbPhase = (host: string): HostDesire => ({
      host,
      address: '10.0.0.11',
      phases: [
        {
          phase: 'lb',
          resources: [
            { kind: 'file', path: '/etc/keepalived/keepalived.conf', content: 'x', mode: '0644', owner: 'root', group: 'root', notify: ['reload:keepalived'] },
          ],
          handlers: [{ id: 'reload:keepalived', service: 'keepalived', action: 'reload' }],
          validators: [],
          ready: { name: 'the VIP is held', script: 'true', seconds: 20 },
        },
      ],
    });
    const desires = [lbPhase('lb1'), lbPhase('lb2')];
    const unchanged = (desire: HostDesire): HostPlan => {
      const plan = planFor(desire, ['lb']);
      return { ...plan, changes: plan.changes.map((c) => ({ ...c, action: 'noop' })) };
    };
    const plans = new Map([
      ['lb1', planFor(desires[0] as HostDesire, [])],
      ['lb2', unchanged(desires[1] as HostDesire)],
    ]);
    const { fleet, execs } = standInFleet(['lb1', 'lb2']);
    await applyPlans(fleet, desires, plans, { forks: 10 });
    expect(execs.map((e) => `${e.host} ${e.step}`)).toEqual(['lb1 record pending handlers', 'lb1 reload keepalived', 'lb1 the VIP is held']);
  });
});

describe('applyPlans: a phase that waits for another host', () => {
  /** A db host: its server's settings written and the server restarted; a replica names its primary in `after`. */
  function dbHost(name: string, after?: string[]): HostDesire {
    const db: PhaseDesire = {
      phase: 'db',
      resources: [{ kind: 'file', path: '/etc/mysql/60-infra.cnf', content: 'x', mode: '0644', owner: 'root', group: 'root', notify: ['restart:mariadb'] }],
      handlers: [{ id: 'restart:mariadb', service: 'mariadb', action: 'restart' }],
      validators: [],
      ...(after ? { after } : {}),
    };
    return { host: name, address: '10.0.0.41', phases: [db] };
  }

  async function applyDb(desires: HostDesire[], forks: number) {
    const plans = new Map(desires.map((desire) => [desire.host, planFor(desire, [])]));
    const { fleet, execs } = standInFleet(desires.map((d) => d.host));
    const reports = await applyPlans(fleet, desires, plans, { forks });
    const first = (host: string) => execs.find((e) => e.host === host && e.step === 'record pending handlers') as Exec;
    const restart = (host: string) => execs.find((e) => e.host === host && e.step === 'restart mariadb') as Exec;
    return { reports, first, restart };
  }

  it("starts a replica's db phase after its primary's changes and restart, while an unrelated host goes alongside the primary", async () => {
    // The replica comes first in the inventory: the order of hosts must not matter.
    const { reports, first, restart } = await applyDb([dbHost('db2', ['db1']), dbHost('db1'), dbHost('db3')], 10);
    expect(first('db2').start).toBeGreaterThan(restart('db1').end);
    expect(overlaps(first('db1'), first('db3'))).toBe(true);
    expect([...reports.values()].map((r) => r.status)).toEqual(['changed', 'changed', 'changed']);
  });

  it('runs every host with one lane, the primary first, when forks is 1', async () => {
    const { reports, first, restart } = await applyDb([dbHost('db2', ['db1']), dbHost('db1')], 1);
    expect(first('db2').start).toBeGreaterThan(restart('db1').end);
    expect([...reports.values()].map((r) => r.status)).toEqual(['changed', 'changed']);
  });
});
