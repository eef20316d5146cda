import { quoteCommand, quoteWord } from '../core/shell.js';
import type { HealthCheck } from '../core/types.js';

/**
 * The runtime checks `infra check` runs inside each host's one probe: scripts that only read, and
 * pure evaluations of their output. Observations feed the checks across hosts (VIP holders,
 * certificates served through the VIP).
 */

const DAY_MS = 86_400_000;

function fields(output: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^\s*([A-Za-z_]+):\s?(.*)$/.exec(line);
    if (match) map.set(match[1] as string, (match[2] ?? '').trim());
  }
  return map;
}

/** A replica must run both replication threads without error and lag at most `maxLagSeconds`. */
export function replicationCheck(statusQuery: string, maxLagSeconds: number): HealthCheck {
  return {
    name: 'replication',
    script: `printf '%s\\n' ${quoteWord(statusQuery)} | mysql --vertical`,
    evaluate: (output) => {
      const status = fields(output);
      if (status.size === 0) return { problems: [`replica not replicating: no replication status (${output.trim().slice(0, 200) || 'empty'})`] };
      const io = status.get('Slave_IO_Running') ?? status.get('Replica_IO_Running');
      const sql = status.get('Slave_SQL_Running') ?? status.get('Replica_SQL_Running');
      const lagText = status.get('Seconds_Behind_Master') ?? status.get('Seconds_Behind_Source') ?? 'NULL';
      const problems: string[] = [];
      if (io !== 'Yes') problems.push(`replica IO thread not running (${io ?? 'unknown'}): ${status.get('Last_IO_Error') || 'no error recorded'}`);
      if (sql !== 'Yes') problems.push(`replica SQL thread not running (${sql ?? 'unknown'}): ${status.get('Last_SQL_Error') || 'no error recorded'}`);
      const lag = Number(lagText);
      if (io === 'Yes' && sql === 'Yes' && (lagText === 'NULL' || lag > maxLagSeconds)) {
        problems.push(`replica lagging: ${lagText} s behind the primary (threshold ${maxLagSeconds} s)`);
      }
      return { problems, observations: { lagSeconds: lagText } };
    },
  };
}

/**
 * On an lb host: whether it holds the VIP (compared across lb hosts: exactly one must) and the
 * state of every web server in haproxy's backend (each must be UP).
 */
export function loadBalancerCheck(vip: string | undefined, socket: string, backend: string): HealthCheck {
  const vipProbe = vip ? `if ip -o -4 addr show | grep -qF ${quoteWord(` ${vip}/`)}; then echo vip=held; else echo vip=free; fi` : 'echo vip=none';
  return {
    name: 'load balancer',
    script: [
      vipProbe,
      `echo 'show stat' | socat stdio ${socket} 2>&1 | awk -F, -v b=${quoteWord(backend)} '$1 == b && $2 != "BACKEND" && $2 != "FRONTEND" { print "server=" $2 "," $18 }'`,
    ].join('; '),
    evaluate: (output) => {
      const problems: string[] = [];
      const lines = output.split('\n').map((line) => line.trim());
      const servers = lines.filter((line) => line.startsWith('server='));
      if (servers.length === 0)
        problems.push(
          `haproxy backend ${backend}: no server state (is haproxy running?) ${lines
            .filter((l) => !l.startsWith('vip='))
            .join(' ')
            .slice(0, 200)}`,
        );
      for (const line of servers) {
        const [name, state] = line.slice('server='.length).split(',');
        if (state !== 'UP') problems.push(`haproxy backend ${backend}: server ${name} is ${state || 'unknown'}`);
      }
      const vipLine = lines.find((line) => line.startsWith('vip='));
      return { problems, observations: { vip: vipLine?.slice('vip='.length) ?? 'unknown' } };
    },
  };
}

function parseOpensslSummary(text: string): { fingerprint?: string; notAfter?: Date } {
  const fingerprint = /Fingerprint=([0-9A-F:]+)/i.exec(text)?.[1];
  const notAfterText = /notAfter=(.+)/.exec(text)?.[1];
  return { fingerprint: fingerprint?.toUpperCase(), notAfter: notAfterText ? new Date(notAfterText) : undefined };
}

/**
 * On a web host: the certificate deployed on disk and the one nginx actually serves (handshake on
 * its local TLS listener with the domain as SNI) must be the same, and it must not expire within
 * the warning window.
 */
export function servedCertificateCheck(certificateFile: string, localPort: number, domain: string): HealthCheck {
  const summary = ['openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-enddate'];
  return {
    name: 'certificate',
    script: [
      `echo '--deployed'; ${quoteCommand([...summary, '-in', certificateFile])}`,
      `echo '--served'; ${quoteCommand(['openssl', 's_client', '-connect', `127.0.0.1:${localPort}`, '-servername', domain])} </dev/null 2>/dev/null | ${quoteCommand(summary)}`,
    ].join('; '),
    evaluate: (output, context) => {
      const [, deployedText = '', servedText = ''] = output.split(/^--(?:deployed|served)$/m);
      const deployed = parseOpensslSummary(deployedText);
      const served = parseOpensslSummary(servedText);
      const problems: string[] = [];
      if (!deployed.fingerprint) problems.push(`no readable certificate at ${certificateFile}`);
      if (!served.fingerprint) problems.push(`nginx serves no certificate for ${domain} on 127.0.0.1:${localPort}`);
      else if (deployed.fingerprint && served.fingerprint !== deployed.fingerprint) {
        problems.push(
          `nginx serves a certificate (${served.fingerprint.slice(0, 23)}…) other than the deployed one (${deployed.fingerprint.slice(0, 23)}…): reload pending?`,
        );
      }
      const notAfter = served.notAfter ?? deployed.notAfter;
      if (notAfter) {
        const days = Math.floor((notAfter.getTime() - context.now.getTime()) / DAY_MS);
        if (days < context.expiryWarningDays) {
          problems.push(
            days < 0
              ? `certificate expired on ${notAfter.toISOString().slice(0, 10)}`
              : `certificate expires in ${days} days (${notAfter.toISOString().slice(0, 10)}), within ${context.expiryWarningDays}`,
          );
        }
      }
      return {
        problems,
        observations: { fingerprint: deployed.fingerprint ?? '', notAfter: notAfter?.toISOString() ?? '' },
      };
    },
  };
}
