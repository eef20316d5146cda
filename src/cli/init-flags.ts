import { UserError } from '../core/errors.js';
import {
  addressProblem,
  dbHostNames,
  domainProblem,
  ENV_NAME,
  hostNameProblem,
  INIT_DEFAULTS,
  interfaceProblem,
  type InitHost,
  type KnownAnswers,
  lbHostCount,
  listAnswer,
  sourcesProblem,
  sshUserProblem,
  vipPrefixProblem,
  vipProblem,
} from '../inventory/init-answers.js';
import { ROLES, type Role } from '../inventory/model.js';

/** `infra init`'s answers given as flags: read and checked before anything is asked. */

/** The answers as flags (commander's option names). Lists come from repeatable flags. */
export interface InitFlags {
  domain?: string;
  host?: string[];
  vip?: string;
  vipPrefix?: string;
  vipInterface?: string;
  primary?: string;
  replicas?: string;
  adminSource?: string[];
  monitoringSource?: string[];
  sshUser?: string;
  identityFile?: string;
  knownHosts?: string;
  sudo?: boolean;
  sudoPasswordEnv?: string;
  tls?: 'ca' | 'files';
  certFile?: string;
  keyFile?: string;
  chainFile?: string;
  appSource?: string;
}

function fail(flag: string, problem: string | undefined): void {
  if (problem) throw new UserError(`--${flag}: ${problem}`);
}

/** `web1=10.0.0.21:web,app` (roles separated by , or +). */
export function parseHostFlag(spec: string, hosts: readonly InitHost[]): InitHost {
  const match = /^([^=]+)=([^:]+):(.+)$/.exec(spec);
  if (!match) throw new UserError(`--host ${spec}: expected NAME=ADDRESS:ROLES, e.g. web1=10.0.0.21:web or app1=10.0.0.31:app,db`);
  const [, name = '', address = '', roleText = ''] = match;
  fail(`host ${spec}`, hostNameProblem(name, hosts) ?? addressProblem(address, hosts));
  const roles = roleText.split(/[,+]/);
  const unknown = roles.find((role) => !(ROLES as readonly string[]).includes(role));
  if (unknown !== undefined) throw new UserError(`--host ${spec}: unknown role ${JSON.stringify(unknown)} (expected ${ROLES.join(', ')})`);
  return { name, address, roles: [...new Set(roles)] as Role[] };
}

export function answersFromFlags(flags: InitFlags): KnownAnswers {
  const partial: KnownAnswers = {};
  if (flags.domain !== undefined) {
    fail('domain', domainProblem(flags.domain));
    partial.domain = flags.domain;
  }
  if (flags.host?.length) {
    const hosts: InitHost[] = [];
    for (const spec of flags.host) hosts.push(parseHostFlag(spec, hosts));
    partial.hosts = hosts;
  }
  if (flags.vipPrefix !== undefined) {
    fail('vip-prefix', vipPrefixProblem(Number(flags.vipPrefix)));
    partial.vipPrefix = Number(flags.vipPrefix);
  }
  if (flags.vip !== undefined) {
    fail('vip', vipProblem(flags.vip, partial.hosts ?? [], partial.vipPrefix ?? INIT_DEFAULTS.vipPrefix));
    partial.vip = flags.vip;
  }
  if (flags.vipInterface !== undefined) {
    fail('vip-interface', interfaceProblem(flags.vipInterface));
    partial.vipInterface = flags.vipInterface;
  }
  if (flags.primary !== undefined) partial.primary = flags.primary;
  if (flags.replicas !== undefined) partial.replicas = listAnswer(flags.replicas);
  if (flags.adminSource?.length) {
    fail('admin-source', sourcesProblem(flags.adminSource));
    partial.adminSources = flags.adminSource;
  }
  if (flags.monitoringSource?.length) {
    fail('monitoring-source', sourcesProblem(flags.monitoringSource));
    partial.monitoringSources = flags.monitoringSource;
  }
  if (flags.sshUser !== undefined) {
    fail('ssh-user', sshUserProblem(flags.sshUser));
    partial.sshUser = flags.sshUser;
  }
  if (flags.identityFile !== undefined) partial.identityFile = flags.identityFile;
  if (flags.knownHosts !== undefined) partial.knownHosts = flags.knownHosts;
  if (flags.sudoPasswordEnv !== undefined) {
    if (!ENV_NAME.test(flags.sudoPasswordEnv)) throw new UserError('--sudo-password-env: expected an environment variable name (letters, digits, _)');
    partial.sudo = { kind: 'password', env: flags.sudoPasswordEnv };
  } else if (flags.sudo) {
    partial.sudo = { kind: 'passwordless' };
  }
  if (flags.tls === 'files' || (flags.tls === undefined && (flags.certFile || flags.keyFile))) {
    if (!flags.certFile || !flags.keyFile) throw new UserError('--tls files needs --cert-file and --key-file (and optionally --chain-file)');
    partial.tls = { source: 'files', certFile: flags.certFile, keyFile: flags.keyFile, ...(flags.chainFile ? { chainFile: flags.chainFile } : {}) };
  } else if (flags.tls === 'ca') {
    partial.tls = { source: 'ca' };
  }
  if (flags.appSource !== undefined) partial.appSource = flags.appSource;
  return partial;
}

/** The flags a script must give for init to ask nothing; the rest have defaults. */
export function missingFlags(partial: KnownAnswers): string[] {
  const missing: string[] = [];
  if (!partial.domain) missing.push('--domain');
  if (!partial.hosts) missing.push('--host (one per host)');
  if (partial.hosts && lbHostCount(partial.hosts) >= 2 && !partial.vip) missing.push('--vip (two lb hosts share it)');
  if (!partial.hosts) {
    if (!partial.primary) missing.push('--primary (unless there is a single db host)');
  } else if (dbHostNames(partial.hosts).length === 0) {
    missing.push('a --host with role db (the app tier needs a database)');
  } else if (!partial.primary && dbHostNames(partial.hosts).length > 1) {
    missing.push('--primary');
  }
  if (!partial.adminSources) missing.push('--admin-source');
  return missing;
}
