import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../core/package-root.js';
import { quoteWord } from '../core/shell.js';

/**
 * A record of one run of provision, apply, check, rotate-certs or rollback, kept as JSON in the state directory
 * (`<state_dir>/reports/`, mode 0600) so `infra history` can list what ran, when, by whom and
 * with what result. Its shape:
 *
 *   { command, startedAt (ISO), seconds, ok, exitCode, user, controller, version, inventory,
 *     hosts: [{ host, status, changed, error? }], details }
 *
 * `details` is the command's own --json output (plans by label, drift, certificates), which never
 * holds a secret in clear.
 */
export interface RunRecord {
  command: 'provision' | 'apply' | 'check' | 'rotate-certs' | 'rollback';
  startedAt: string;
  seconds: number;
  ok: boolean;
  exitCode: number;
  user: string;
  controller: string;
  version: string;
  inventory: string;
  hosts: { host: string; status: string; changed?: number; error?: string }[];
  details?: unknown;
}

/** infra's version, from its package.json. */
export const INFRA_VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
export const AUDIT_LOG = '/var/log/infra/audit.log';

/** Who runs infra and from which machine, as the report and the audit lines say it. */
export function operator(): { user: string; controller: string } {
  return { user: userInfo().username, controller: hostname() };
}

export async function saveRunReport(stateDir: string, record: RunRecord): Promise<string> {
  const dir = join(stateDir, 'reports');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${record.startedAt.replace(/[:.]/g, '-')}-${record.command}.json`);
  await writeFile(file, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  return file;
}

/** The most recent runs first. Files that are not reports are passed over. */
export async function listRunReports(stateDir: string, limit: number): Promise<RunRecord[]> {
  const dir = join(stateDir, 'reports');
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((name) => name.endsWith('.json'))
    .sort()
    .reverse()
    .slice(0, limit);
  const records: RunRecord[] = [];
  for (const name of names) {
    try {
      records.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as RunRecord);
    } catch {
      continue;
    }
  }
  return records;
}

/** One line of a host's audit log: when, who from where, which command and version, what changed. */
export function auditLine(
  record: Pick<RunRecord, 'startedAt' | 'user' | 'controller' | 'command' | 'version'>,
  from: string,
  changes: readonly string[],
): string {
  const what = changes.join('; ').replace(/[\r\n]+/g, ' ');
  return `${record.startedAt} ${record.user}@${record.controller} from ${from} infra ${record.version} ${record.command}: ${what}`;
}

/** Shell text appending a line to the audit log (root only, mode 0640). */
export function appendAuditScript(line: string): string {
  return [
    `install -d -m 0750 ${quoteWord(AUDIT_LOG.replace(/\/[^/]+$/, ''))}`,
    `printf '%s\\n' ${quoteWord(line)} >> ${AUDIT_LOG}`,
    `chmod 0640 ${AUDIT_LOG}`,
    'echo @@done',
  ].join(' && ');
}
