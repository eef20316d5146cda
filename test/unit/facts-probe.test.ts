import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResource, HostDesire } from '../../src/core/types.js';
import { Secret } from '../../src/core/secret.js';
import { buildProbeScript } from '../../src/facts/probe.js';
import { parseProbeOutput } from '../../src/facts/parse.js';
import { guardHeld } from '../../src/resources/command.js';

/*
 * The probe script run by a local bash against a scratch directory standing in for the host's
 * /etc and /var/lib, with stand-ins for the host's commands on PATH. The lab proves the probe on
 * real hosts; this pins what the script prints from given files and command answers.
 */

const sqlCommands: CommandResource[] = [
  { kind: 'command', name: 'database shop', script: 'true', unless: { sql: 'SELECT COUNT(*) FROM information_schema.SCHEMATA', expected: '1' } },
  { kind: 'command', name: "db account o'brien@10.0.0.31", script: 'true', unless: { sql: 'SELECT 0', expected: '1' } },
  { kind: 'command', name: 'missing table', script: 'true', unless: { sql: 'SELECT x FROM nowhere', expected: '1' } },
];
const shellCommand: CommandResource = { kind: 'command', name: 'system user app', script: 'true', unless: 'true' };

const desire: HostDesire = {
  host: 'db1',
  address: '10.0.0.41',
  phases: [
    {
      phase: 'firewall',
      resources: [{ kind: 'firewall-state', sshPort: 22 }, shellCommand, ...sqlCommands],
      handlers: [],
      validators: [],
    },
  ],
};

function runProbe(): string {
  const root = mkdtempSync(join(tmpdir(), 'infra-probe-'));
  const bin = join(root, 'bin');
  mkdirSync(join(root, 'ufw'), { recursive: true });
  mkdirSync(join(root, 'default'));
  mkdirSync(bin);
  writeFileSync(join(root, 'ufw/ufw.conf'), '# comment\nENABLED=yes\nLOGLEVEL=low\n');
  writeFileSync(join(root, 'default/ufw'), 'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n');
  writeFileSync(
    join(root, 'ufw/user.rules'),
    '*filter\n### tuple ### allow tcp 22 0.0.0.0/0 any 10.77.0.1 in comment=6869\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n',
  );
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub('ufw', 'exit 0');
  stub('iptables', 'exit 0');
  // A server that answers the first two queries and fails the third (--force carries on), as
  // `mysql -B` prints them: each result's column names, then its row.
  stub(
    'mysql',
    [
      'input=$(cat)',
      '[[ $* == *--force* ]] || exit 9',
      'grep -q "\'database shop\' AS infra_key, (SELECT COUNT" <<< "$input" && printf \'infra_tag\\tinfra_key\\tinfra_value\\nQ\\tdatabase shop\\t1\\n\'',
      'grep -qF "\'db account o\'\'brien@10.0.0.31\' AS infra_key" <<< "$input" && printf "infra_tag\\tinfra_key\\tinfra_value\\nQ\\tdb account o\'brien@10.0.0.31\\t0\\n"',
      "echo \"ERROR 1146 (42S02) at line 3: Table 'shop.orders' doesn't exist\" >&2",
    ].join('\n'),
  );
  const script = buildProbeScript(desire).replaceAll('/etc/ufw/', `${root}/ufw/`).replaceAll('/etc/default/', `${root}/default/`);
  return execFileSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
}

describe('the probe script on a host', () => {
  const output = runProbe();
  const facts = parseProbeOutput(output, '10.77.0.1');

  it('reads ufw state and rules with shell builtins: enabled, input policy, the tuples', () => {
    expect(facts.firewall).toEqual({
      installed: true,
      enabled: true,
      defaultIncoming: 'DROP',
      rules: [{ action: 'allow', proto: 'tcp', port: '22', from: '10.77.0.1', comment: 'hi', to: 'any', fromPort: 'any', iface: '' }],
    });
  });

  it('asks every SQL guard in one mysql run and reads each value; a query that fails leaves its guard not holding', () => {
    expect(output.match(/^Q\t/gm)).toHaveLength(2);
    expect(facts.queries).toEqual({ 'database shop': '1', "db account o'brien@10.0.0.31": '0' });
    expect(sqlCommands.map((command) => guardHeld(command, facts))).toEqual([true, false, false]);
  });

  it('runs shell guards one by one and records their exit codes', () => {
    expect(facts.guards).toEqual({ 'system user app': 0 });
    expect(guardHeld(shellCommand, facts)).toBe(true);
  });
});

describe('the probe script reading managed files', () => {
  // Both files on the host differ from what infra wants: an edited config, and a key infra replaces.
  const root = mkdtempSync(join(tmpdir(), 'infra-probe-files-'));
  const config = join(root, 'exporter.conf');
  const key = join(root, 'site.key');
  writeFileSync(config, 'ARGS="--edited"\n');
  writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nOLD-KEY-ON-THE-HOST\n-----END PRIVATE KEY-----\n');
  const newKey = new Secret('-----BEGIN PRIVATE KEY-----\nNEW-KEY\n-----END PRIVATE KEY-----\n');
  const files: HostDesire = {
    host: 'web1',
    address: '10.0.0.21',
    phases: [
      {
        phase: 'web',
        resources: [
          { kind: 'file', path: config, content: 'ARGS=""\n', mode: '0644', owner: 'root', group: 'root' },
          { kind: 'file', path: key, content: newKey.reveal(), mode: '0600', owner: 'root', group: 'root', secrets: [newKey] },
        ],
        handlers: [],
        validators: [],
      },
    ],
  };
  const output = execFileSync('bash', ['-c', buildProbeScript(files)], { encoding: 'utf8' });
  const facts = parseProbeOutput(output, '10.77.0.1');

  it('reads back the content of a plain file that differs, for its diff', () => {
    expect(facts.files[config]).toMatchObject({ exists: true, type: 'file', content: 'ARGS="--edited"\n' });
  });

  it('never reads back a file that holds secrets: its hash only', () => {
    expect(facts.files[key]).toMatchObject({ exists: true, type: 'file' });
    expect(facts.files[key]?.content).toBeUndefined();
    expect(output).not.toContain(Buffer.from('OLD-KEY-ON-THE-HOST').toString('base64').slice(0, 12));
    expect(output).not.toContain('OLD-KEY');
  });
});
