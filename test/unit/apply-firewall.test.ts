import { describe, expect, it } from 'vitest';
import { buildChangeScript } from '../../src/apply/scripts.js';
import type { Change } from '../../src/core/types.js';

/*
 * The firewall changes of a phase as the script sends them to ufw: one Python process running
 * ufw's own front end over a list of commands. The lab proves them on real hosts (20-engine:
 * bare hosts get their rules and ufw enabled with SSH kept open); this pins their order.
 */

/** The ufw command lists the script passes, in order. */
function ufwCommands(script: string): string[] {
  const lines = script.split('\n').filter((line) => line.startsWith('must python3 - '));
  expect(lines).toHaveLength(1);
  const json = /^must python3 - '(.*)' <<'INFRA_UFW'$/.exec(lines[0] as string)?.[1]?.replaceAll(`'\\''`, `'`);
  return (JSON.parse(json as string) as string[][]).map((args) => args.join(' '));
}

const rule = (port: number, from: string, action: Change['action']): Change => ({
  phase: 'firewall',
  resource: { kind: 'firewall-rule', proto: 'tcp', port, from, purpose: `port ${port}` },
  action,
  reason: '',
});

describe('firewall changes on a bare host (ufw inactive), with an obsolete rule', () => {
  const script = buildChangeScript(
    [
      rule(8080, 'any', 'delete'),
      { phase: 'firewall', resource: { kind: 'firewall-state', sshPort: 22 }, action: 'update', reason: 'ufw not active' },
      rule(22, '10.77.0.1/32', 'create'),
      rule(9100, '10.77.0.1/32', 'noop'),
      rule(443, 'any', 'create'),
    ],
    [],
    [],
  );

  it('adds the rules first, then denies incoming and enables ufw, then deletes: SSH is allowed before ufw is on', () => {
    expect(ufwCommands(script)).toEqual([
      'allow proto tcp from 10.77.0.1/32 to any port 22 comment infra:port 22',
      'allow proto tcp from any to any port 443 comment infra:port 443',
      'default deny incoming',
      '--force enable',
      'delete allow proto tcp from any to any port 8080',
    ]);
  });

  it('announces them as one step that names each command', () => {
    expect(script).toContain(
      "step 'ufw: add rule 22/tcp from 10.77.0.1/32, add rule 443/tcp from any, deny incoming by default, enable, delete rule 8080/tcp from any'",
    );
  });
});

describe('firewall changes with nothing to do', () => {
  it('runs no ufw at all', () => {
    expect(buildChangeScript([rule(22, '10.77.0.1/32', 'noop')], [], [])).not.toContain('python3');
  });
});
