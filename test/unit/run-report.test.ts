import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendAuditScript, auditLine, listRunReports, saveRunReport, type RunRecord } from '../../src/report/run-report.js';

function record(startedAt: string, command: RunRecord['command']): RunRecord {
  return {
    command,
    startedAt,
    seconds: 1.5,
    ok: true,
    exitCode: 0,
    user: 'root',
    controller: 'ctl',
    version: '0.1.0',
    inventory: '/x/inventory.yaml',
    hosts: [],
  };
}

describe('run reports', () => {
  it('are kept with mode 0600 and listed newest first', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'infra-state-'));
    const first = await saveRunReport(stateDir, record('2026-11-25T10:00:00.000Z', 'provision'));
    await saveRunReport(stateDir, record('2026-11-25T11:00:00.000Z', 'check'));
    expect((await stat(first)).mode & 0o777).toBe(0o600);
    expect((await listRunReports(stateDir, 10)).map((r) => r.command)).toEqual(['check', 'provision']);
    expect(await listRunReports(stateDir, 1)).toHaveLength(1);
  });

  it('list nothing when no run was recorded', async () => {
    expect(await listRunReports(join(tmpdir(), 'no-such-state-dir'), 5)).toEqual([]);
  });
});

describe('audit lines', () => {
  it('say when, who from where, which version and what changed, on one line', () => {
    const line = auditLine(record('2026-11-25T10:00:00.000Z', 'provision'), '10.77.0.1', [
      'create package haproxy',
      'update file /etc/x\nwith newline',
      'reload:haproxy',
    ]);
    expect(line).toBe(
      '2026-11-25T10:00:00.000Z root@ctl from 10.77.0.1 infra 0.1.0 provision: create package haproxy; update file /etc/x with newline; reload:haproxy',
    );
  });

  it('are appended by a script that quotes the line', () => {
    expect(appendAuditScript("it's $(done)")).toContain(`printf '%s\\n' 'it'\\''s $(done)' >> /var/log/infra/audit.log`);
  });
});
