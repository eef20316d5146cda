import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/engine/fleet.js';
import { applyPlans, probeAndPlan } from '../../src/engine/run.js';
import { resolveRoleSecrets } from '../../src/engine/secrets.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';
import { setHostNetwork } from '../../src/lab/lab.js';
import { desiredForHost } from '../../src/roles/index.js';
import { BUILTIN_TEMPLATES_DIR } from '../../src/roles/render.js';
import { LAB_INVENTORY, LAB_SUDO_INVENTORY, labHosts, labInventoryVariant, mustOnHost, onHost, parseReport, runInfra, type LabHost, told } from './helpers.js';

/**
 * The engine on real hosts: from the bare 8-host lab, firewall and monitoring converge, a second
 * run changes nothing over one connection per host, and every safety rule holds.
 * Starting point: the lab just brought up by lab-setup.ts (bare hosts).
 */
const EXPORTER = 'prometheus-node-exporter';
const EXPORTER_DEFAULTS = '/etc/default/prometheus-node-exporter';

let hosts: LabHost[];
let web1: LabHost;
let web2: LabHost;
let app1: LabHost;

function byName(name: string): LabHost {
  const host = hosts.find((h) => h.name === name);
  if (!host) throw new Error(`the lab has no host ${name}`);
  return host;
}

async function exporterPid(host: LabHost): Promise<string> {
  return (await mustOnHost(host.address, `systemctl show -p MainPID --value ${EXPORTER}`)).trim();
}

async function acceptedLogins(host: LabHost): Promise<number> {
  const out = await mustOnHost(host.address, 'journalctl -u ssh --no-pager -o cat | grep -c "Accepted publickey" || true');
  return Number(out.trim());
}

async function provisionJson(inventory: string, ...extra: string[]) {
  const result = await runInfra(['provision', inventory, '--yes', '--json', ...extra]);
  return { result, report: parseReport(result) };
}

beforeAll(async () => {
  hosts = await labHosts();
  web1 = byName('web1');
  web2 = byName('web2');
  app1 = byName('app1');
});

describe('provision: firewall and monitoring on bare hosts', () => {
  it('converges all 8 hosts from bare', async () => {
    const { result, report } = await provisionJson(LAB_INVENTORY);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(report.hosts).toHaveLength(8);
    for (const host of report.hosts) {
      expect(host.status, `${host.host}: ${host.error}`).toBe('changed');
      expect(host.changed).toBeGreaterThan(0);
    }
  });

  it('changes nothing on a second run, over exactly one SSH connection per host', async () => {
    const before = await Promise.all(hosts.map(acceptedLogins));
    const { result, report } = await provisionJson(LAB_INVENTORY);
    const after = await Promise.all(hosts.map(acceptedLogins));
    expect(result.code, result.stderr).toBe(0);
    expect(report.connections).toBe(8);
    for (const host of report.hosts) {
      expect(host.status, host.host).toBe('ok');
      expect(host.changed, host.host).toBe(0);
    }
    // Each host logged infra's one login, plus the one made to read the log after the run.
    hosts.forEach((host, index) => expect(after[index]! - before[index]!, host.name).toBe(2));
  });

  it('lets a monitoring source reach port 9100 and refuses others', async () => {
    const metrics = await fetch(`http://${app1.address}:9100/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('node_cpu_seconds_total');
    // web1 is not a monitoring source: ufw on app1 drops its traffic.
    const fromWeb1 = await onHost(web1.address, `curl -sS -m 3 -o /dev/null http://${app1.address}:9100/metrics`);
    expect(fromWeb1.code).not.toBe(0);
  });

  it('keeps SSH open once ufw is on, with incoming denied by default', async () => {
    const status = await mustOnHost(web1.address, 'ufw status verbose');
    expect(status).toMatch(/Status: active/);
    expect(status).toMatch(/Default: deny \(incoming\)/);
    expect(status).toMatch(/22\/tcp\s+ALLOW IN\s+10\.77\.0\.1/);
  });
});

describe('safety', () => {
  it('refuses a plan that would remove the admin SSH rule, and changes nothing', async () => {
    const inventory = await labInventoryVariant((doc) => {
      doc.firewall.admin_sources = ['10.77.0.250/32'];
    });
    const rulesBefore = await mustOnHost(web1.address, 'ufw status');
    const result = await runInfra(['provision', inventory, '--yes']);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/would cut its own access/);
    expect(result.stderr).toMatch(/nothing was changed on any host/);
    expect(await mustOnHost(web1.address, 'ufw status')).toBe(rulesBefore);
  });

  it('refuses a host whose key does not match, naming both fingerprints', async () => {
    const knownHosts = await readFile(join(LAB_INVENTORY, '..', 'known_hosts'), 'utf8');
    // web1's entries are swapped for web2's keys: web1 now offers a key that is not the recorded one.
    const forged = knownHosts
      .split('\n')
      .filter((line) => !line.startsWith(`${web1.address} `))
      .concat(
        knownHosts
          .split('\n')
          .filter((line) => line.startsWith(`${web2.address} `))
          .map((line) => line.replace(web2.address, web1.address)),
      )
      .join('\n');
    const inventory = await labInventoryVariant(() => undefined, forged);
    const result = await runInfra(['provision', inventory, '--limit', 'web1,web2', '--yes', '--json']);
    const report = parseReport(result);
    expect(result.code).toBe(1);
    const refused = report.hosts.find((h) => h.host === 'web1');
    expect(refused?.status).toBe('unreachable');
    expect(refused?.error).toMatch(/HOST KEY MISMATCH: expected SHA256:\S+ .*offered SHA256:\S+/);
    expect(report.hosts.find((h) => h.host === 'web2')?.status).toBe('ok');
  });

  it('refuses a first contact unless --accept-new-host-keys, which records the key', async () => {
    const inventory = await labInventoryVariant(() => undefined, '');
    const refused = await runInfra(['provision', inventory, '--limit', 'web1', '--yes', '--json']);
    expect(refused.code).toBe(1);
    expect(parseReport(refused).hosts[0]?.error).toMatch(/host key not known.*--accept-new-host-keys/);
    const accepted = await runInfra(['provision', inventory, '--limit', 'web1', '--yes', '--json', '--accept-new-host-keys']);
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(await readFile(join(inventory, '..', 'known_hosts'), 'utf8')).toContain(web1.address);
  });

  it('works through a sudo user with a password as it does as root, and never shows the password', async () => {
    await mustOnHost(web2.address, `echo '# edited by hand' >> ${EXPORTER_DEFAULTS}`);
    const password = (await readFile(join(LAB_INVENTORY, '..', 'ops-password'), 'utf8')).trim();
    const result = await runInfra(['provision', LAB_SUDO_INVENTORY, '--limit', 'web2', '--yes', '--json', '--verbose']);
    expect(result.code, told(result)).toBe(0);
    expect(parseReport(result).hosts[0]).toMatchObject({ host: 'web2', status: 'changed', changed: 1 });
    expect(await mustOnHost(web2.address, `cat ${EXPORTER_DEFAULTS}`)).not.toContain('edited by hand');
    expect(result.stdout + result.stderr).not.toContain(password);
    // The login was the ops user's, not root's.
    expect(await mustOnHost(web2.address, 'journalctl -u ssh --no-pager -o cat | grep "Accepted publickey for ops" | wc -l')).not.toBe('0\n');
  });
});

describe('changes, validation and interrupted runs', () => {
  it('restores a file edited by hand, and only its service restarts', async () => {
    await mustOnHost(web1.address, `sed -i 's/--collector.processes//' ${EXPORTER_DEFAULTS}`);
    const pidsBefore = await Promise.all(hosts.map(exporterPid));
    const { result, report } = await provisionJson(LAB_INVENTORY);
    expect(result.code, result.stderr).toBe(0);
    const pidsAfter = await Promise.all(hosts.map(exporterPid));
    for (const [index, host] of hosts.entries()) {
      const hostReport = report.hosts.find((h) => h.host === host.name);
      if (host.name === 'web1') {
        expect(hostReport).toMatchObject({ status: 'changed', changed: 1 });
        expect(hostReport?.phases).toEqual([expect.objectContaining({ phase: 'monitoring', changed: 1, handlers: [`restart:${EXPORTER}`] })]);
        expect(pidsAfter[index]).not.toBe(pidsBefore[index]);
      } else {
        expect(hostReport?.status, host.name).toBe('ok');
        expect(pidsAfter[index], host.name).toBe(pidsBefore[index]);
      }
    }
    expect(await mustOnHost(web1.address, `cat ${EXPORTER_DEFAULTS}`)).toContain('--collector.processes');
  });

  it('never activates a template that renders an invalid config, and shows the validator output', async () => {
    const templates = await mkdtemp(join(tmpdir(), 'infra-tpl-'));
    await cp(join(BUILTIN_TEMPLATES_DIR, 'monitoring'), join(templates, 'monitoring'), { recursive: true });
    const template = join(templates, 'monitoring', 'prometheus-node-exporter.default.ejs');
    await writeFile(template, (await readFile(template, 'utf8')).replace('--collector.systemd', '--collector.systemd --no-such-flag'));
    const inventory = await labInventoryVariant((doc) => {
      doc.templates_dir = templates;
    });
    const fileBefore = await mustOnHost(web1.address, `cat ${EXPORTER_DEFAULTS}`);
    const pidBefore = await exporterPid(web1);
    const result = await runInfra(['provision', inventory, '--limit', 'web1', '--yes']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/validation failed, nothing activated: node exporter options/);
    expect(result.stdout).toMatch(/no-such-flag/);
    expect(await mustOnHost(web1.address, `cat ${EXPORTER_DEFAULTS}`)).toBe(fileBefore);
    expect(await exporterPid(web1)).toBe(pidBefore);
    expect(await mustOnHost(web1.address, `systemctl is-active ${EXPORTER}`)).toBe('active\n');
    expect(await mustOnHost(web1.address, `ls /etc/default/ | grep -c infra- || true`)).toBe('0\n');
  });

  it('leaves no half-written file when the network is cut mid-apply; the next run performs the pending restart', async () => {
    await mustOnHost(web2.address, `echo '# drift' >> ${EXPORTER_DEFAULTS}`);
    const pidBefore = await exporterPid(web2);
    const loaded = await loadInventory(LAB_INVENTORY);
    if (!loaded.ok) throw new Error('the lab inventory does not load');
    const inventory: Inventory = loaded.inventory;
    const target = inventory.hosts.filter((h) => h.name === 'web2');
    const desires = await Promise.all(target.map(async (host) => desiredForHost(inventory, host, await resolveRoleSecrets(inventory, host))));
    const fleet = await Fleet.connect(inventory, target, { forks: 1, acceptNewHostKeys: false, replaceHostKeys: new Set() });
    try {
      const { probes } = await probeAndPlan(fleet, desires, 1);
      const plans = new Map([...probes].map(([host, probe]) => [host, probe.plan]));
      // The cut comes after the new file is in place and before the restart that would load it.
      const reports = await applyPlans(fleet, desires, plans, {
        forks: 1,
        afterChanges: async (host, phase) => {
          if (host === 'web2' && phase === 'monitoring') await setHostNetwork('web2', 'down');
        },
      });
      expect(reports.get('web2')?.status).toBe('failed');
      expect(reports.get('web2')?.error).toMatch(/connection lost|timed out|not connected/i);
    } finally {
      fleet.close();
      await setHostNetwork('web2', 'up');
    }
    const onDisk = await mustOnHost(web2.address, `cat ${EXPORTER_DEFAULTS}; ls -a /etc/default | grep infra- || true; cat /var/lib/infra/pending-handlers`);
    expect(onDisk).not.toContain('# drift');
    expect(onDisk).toContain('--collector.textfile.directory=/var/lib/prometheus/node-exporter"');
    expect(onDisk).not.toMatch(/infra-(new|bak)/);
    expect(onDisk).toContain(`restart:${EXPORTER}`);
    expect(await exporterPid(web2)).toBe(pidBefore);

    const { result, report } = await provisionJson(LAB_INVENTORY, '--limit', 'web2');
    expect(result.code, result.stderr).toBe(0);
    expect(report.hosts[0]?.phases).toEqual([expect.objectContaining({ phase: 'monitoring', changed: 0, handlers: [`restart:${EXPORTER}`] })]);
    expect(await exporterPid(web2)).not.toBe(pidBefore);
    expect(await mustOnHost(web2.address, 'cat /var/lib/infra/pending-handlers')).toBe('');
  });

  it('names an unreachable host and carries on with the others', async () => {
    await setHostNetwork('app1', 'down');
    try {
      const inventory = await labInventoryVariant((doc) => {
        doc.ssh.connect_timeout = 3;
      });
      const result = await runInfra(['provision', inventory, '--yes', '--json']);
      const report = parseReport(result);
      expect(result.code).toBe(1);
      expect(report.hosts.find((h) => h.host === 'app1')).toMatchObject({ status: 'unreachable' });
      expect(report.hosts.find((h) => h.host === 'app1')?.error).toMatch(/app1: no answer from root@10\.77\.0\.31:22 within 3s/);
      const others = report.hosts.filter((h) => h.host !== 'app1');
      expect(others).toHaveLength(7);
      for (const other of others) expect(['ok', 'changed'], `${other.host}: ${other.error}`).toContain(other.status);
    } finally {
      await setHostNetwork('app1', 'up');
    }
  });
});
