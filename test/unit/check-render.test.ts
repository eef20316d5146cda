import { describe, expect, it } from 'vitest';
import { renderCheck, type CheckReport } from '../../src/cli/actions/check.js';

const drifted: CheckReport = {
  exitCode: 2,
  seconds: 2.5,
  hosts: [
    { host: 'web1', status: 'ok', drift: [] },
    {
      host: 'web2',
      status: 'drifted',
      drift: [{ phase: 'web', kind: 'resource', subject: 'file /etc/nginx/sites-enabled/infra.conf', message: 'update: content differs' }],
    },
  ],
  fleet: [],
};

describe('check output', () => {
  it('lists every host, then the drift of each drifted one, then the verdict', () => {
    const text = renderCheck(drifted);
    expect(text).toMatch(/^web1\s+ok\nweb2\s+drifted \(1\)\n/);
    expect(text).toContain('  web: file /etc/nginx/sites-enabled/infra.conf: update: content differs');
    expect(text.trimEnd().split('\n').at(-1)).toBe('drift (2.50 s)');
  });

  it('with --quiet leaves out the hosts that are fine, and prints nothing when no host drifted', () => {
    const quiet = renderCheck(drifted, { quiet: true });
    expect(quiet).not.toContain('web1');
    expect(quiet).toContain('web2');
    expect(quiet).toContain('content differs');
    expect(renderCheck({ exitCode: 0, seconds: 1, hosts: [{ host: 'web1', status: 'ok', drift: [] }], fleet: [] }, { quiet: true })).toBe('');
  });

  it('keeps the status column aligned when a host name is longer than 12 characters', () => {
    const text = renderCheck({
      exitCode: 0,
      seconds: 1,
      hosts: [
        { host: 'web1', status: 'ok', drift: [] },
        { host: 'frontend-primary-01', status: 'ok', drift: [] },
      ],
      fleet: [],
    });
    expect(text.split('\n').slice(0, 2)).toEqual(['web1                ok', 'frontend-primary-01 ok']);
  });
});
