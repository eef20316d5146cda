import { quoteCommand, quoteWord } from '../core/shell.js';
import type { Facts, PackageResource } from '../core/types.js';
import type { ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export function planPackage(resource: PackageResource, facts: Facts): ResourceVerdict {
  const version = facts.packages[resource.name];
  return version ? { action: 'noop', reason: `installed (${version})` } : { action: 'create', reason: 'not installed' };
}

/**
 * Waits this long for the dpkg lock rather than failing at once: on a real server
 * unattended-upgrades or apt's daily timer can hold it for minutes.
 */
const DPKG_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=120'];

/** One apt-get for the packages named (also the step of buildPackagesScript). */
export function installPackages(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const install = [
    'apt-get',
    'install',
    ...DPKG_LOCK_WAIT,
    '-y',
    '-q',
    '--no-install-recommends',
    '-o',
    'Dpkg::Options::=--force-confdef',
    '-o',
    'Dpkg::Options::=--force-confold',
    ...names,
  ];
  return [
    `step ${quoteWord(`install packages ${names.join(' ')}`)}`,
    // Package lists are refreshed only when the install cannot find what it needs.
    `${quoteCommand(install)} >/dev/null 2>&1 || { must ${quoteCommand(['apt-get', 'update', '-q', ...DPKG_LOCK_WAIT])}; must ${quoteCommand(install)}; }`,
  ];
}

export const packageKind: ResourceKind<'package'> = {
  kind: 'package',
  label: (resource) => `package ${resource.name}`,
  plan: planPackage,
  probe: {
    order: 20,
    tags: ['P'],
    script(resources) {
      if (resources.length === 0) return [];
      return [`dpkg-query -W -f='P\\t\${Package}\\t\${db:Status-Abbrev}\\t\${Version}\\n' ${resources.map((r) => quoteWord(r.name)).join(' ')} 2>/dev/null`];
    },
    parse(lines, facts) {
      for (const [, name, status, version] of lines) {
        if (name) facts.packages[name] = status?.startsWith('ii') ? (version ?? '') : null;
      }
    },
  },
  apply: {
    order: 10,
    steps: (changes, { installedEarlier }) =>
      installPackages(
        changes
          .filter((change) => change.action !== 'noop')
          .map((change) => change.resource.name)
          .filter((name) => !installedEarlier.has(name)),
      ),
  },
  converge(resource, _action, facts) {
    facts.packages[resource.name] = 'installed';
  },
};
