import { describe, expect, it } from 'vitest';
import { parseProbeOutput } from '../../src/facts/parse.js';
import { parseUfwTuple } from '../../src/resources/firewall-rule.js';

describe('parseProbeOutput', () => {
  const hex = (text: string) => Buffer.from(text).toString('hex');
  const output = [
    'OS\tdebian\t12\tbookworm',
    'F\t/etc/default/prometheus-node-exporter\tregular file\t644\troot\troot\t/etc/default/prometheus-node-exporter',
    'F\t/var/lib/app\tdirectory\t755\tapp\tapp\t/var/lib/app',
    'F\t/opt/app/current\tsymbolic link\t777\troot\troot\t/opt/app/current -> /opt/app/releases/abc',
    'D\t/etc/default/prometheus-node-exporter\tabc123',
    'B\t/etc/default/prometheus-node-exporter\t' + Buffer.from('ARGS=""\n').toString('base64'),
    'P\tufw\tii \t0.36.2-1',
    'P\tnginx\trc \t1.22.1',
    'S\tId=prometheus-node-exporter.service',
    'S\tLoadState=loaded',
    'S\tActiveState=active',
    'S\tUnitFileState=enabled',
    'S\t',
    'S\tId=nginx.service',
    'S\tLoadState=not-found',
    'S\tActiveState=inactive',
    'S\tUnitFileState=',
    'W\tinstalled',
    'W\tenabled',
    'W\tinput\tDROP',
    `R\tallow tcp 22 0.0.0.0/0 any 10.77.0.1 in comment=${hex('infra:ssh (admin)')}`,
    'R\tallow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in',
    'G\tinit-db\t1',
    'H\trestart:prometheus-node-exporter',
    '',
  ].join('\n');
  const facts = parseProbeOutput(output, '10.77.0.1');

  it('reads the OS and the controller address', () => {
    expect(facts.os).toEqual({ id: 'debian', versionId: '12', codename: 'bookworm' });
    expect(facts.controllerAddress).toBe('10.77.0.1');
  });

  it('reads paths: a file with its hash and content, a directory, a symlink; a path stat could not read is absent', () => {
    expect(facts.files['/etc/default/prometheus-node-exporter']).toEqual({
      exists: true,
      type: 'file',
      mode: '644',
      owner: 'root',
      group: 'root',
      sha256: 'abc123',
      content: 'ARGS=""\n',
    });
    expect(facts.files['/var/lib/app']).toEqual({ exists: true, type: 'directory', mode: '755', owner: 'app', group: 'app' });
    expect(facts.files['/opt/app/current']).toMatchObject({ exists: true, type: 'symlink', target: '/opt/app/releases/abc' });
    expect(facts.files['/etc/missing']).toBeUndefined();
  });

  it('counts only fully installed packages as installed', () => {
    expect(facts.packages).toEqual({ ufw: '0.36.2-1', nginx: null });
  });

  it('reads services block by block', () => {
    expect(facts.services['prometheus-node-exporter']).toEqual({ load: 'loaded', active: 'active', enabled: 'enabled' });
    expect(facts.services.nginx).toEqual({ load: 'not-found', active: 'inactive', enabled: '' });
  });

  it('reads ufw state and rules with their decoded comments', () => {
    expect(facts.firewall).toEqual({
      installed: true,
      enabled: true,
      defaultIncoming: 'DROP',
      rules: [
        { action: 'allow', proto: 'tcp', port: '22', from: '10.77.0.1', comment: 'infra:ssh (admin)', to: 'any', fromPort: 'any', iface: '' },
        { action: 'allow', proto: 'tcp', port: '80', from: 'any', comment: '', to: 'any', fromPort: 'any', iface: '' },
      ],
    });
  });

  it('reads guards and pending handlers', () => {
    expect(facts.guards).toEqual({ 'init-db': 1 });
    expect(facts.pendingHandlers).toEqual(['restart:prometheus-node-exporter']);
  });
});

describe('parseUfwTuple', () => {
  it('ignores outgoing rules', () => {
    expect(parseUfwTuple('allow tcp 53 0.0.0.0/0 any 0.0.0.0/0 out')).toBeUndefined();
  });
});
