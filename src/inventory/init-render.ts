import { stringify } from 'yaml';
import { exampleComments } from './docs.js';
import type { InitAnswers } from './init-answers.js';

/**
 * `infra init`'s answers as inventory YAML. Each key's comment is the one inventory.example.yaml
 * gives it (read as docs.ts reads it for docs/inventory.md), so the wizard, the example and the
 * reference say the same thing, and a comment changed in the example changes here too.
 */

/** A YAML scalar, quoted only when YAML needs it (so a value can never change the structure). */
function scalar(value: string | number): string {
  return stringify(value).trimEnd();
}

function flowList(values: readonly string[]): string {
  return stringify(values, { collectionStyle: 'flow', flowCollectionPadding: false }).trimEnd();
}

/**
 * The example describes the vars the roles read in the comment of `vars`, one item a line, which
 * exampleComments marks for the reference's table as "<br>`name`: text".
 */
function roleVarComment(varsDescription: readonly string[], name: string): string | undefined {
  const prefix = `<br>\`${name}\`: `;
  return varsDescription.find((line) => line.startsWith(prefix))?.slice(prefix.length);
}

export function renderInventory(answers: InitAnswers, file: string, exampleText: string): string {
  const comments = exampleComments(exampleText);
  const described = (path: string): string[] => (comments.get(path)?.description ?? []).flat();
  /** The key's comment lines from the example at the key's indentation, then the key's own lines. */
  const key = (path: string, ...lines: string[]): string[] => {
    const indent = ' '.repeat(2 * (path.split('.').length - 1));
    return [...described(path).map((line) => `${indent}# ${line}`), ...lines];
  };
  const { ssh, tls } = answers;
  const lines = [
    `# infra inventory for ${answers.domain}, written by \`infra init\`.`,
    '# Every key is described in docs/inventory.md. Check it with:',
    `#   infra validate ${file}`,
    '# Paths are relative to this file. Secrets are never written here in clear: env:NAME, file:PATH or generate.',
    '',
    ...key('domain', `domain: ${scalar(answers.domain)}`),
    '',
  ];
  if (answers.vip !== undefined) {
    lines.push(...key('vip', `vip: ${scalar(answers.vip)}`), ...key('vip_prefix', `vip_prefix: ${answers.vipPrefix}`), '');
  }
  lines.push(
    ...key('ssh', 'ssh:'),
    ...key('ssh.user', `  user: ${scalar(ssh.user)}`),
    ...key('ssh.identity_file', `  identity_file: ${scalar(ssh.identityFile)}`),
    ...key('ssh.known_hosts', `  known_hosts: ${scalar(ssh.knownHosts)}`),
  );
  if (ssh.sudo.kind === 'passwordless') lines.push(...key('ssh.sudo', '  sudo: {}'));
  if (ssh.sudo.kind === 'password') lines.push(...key('ssh.sudo', '  sudo:'), ...key('ssh.sudo.password', `    password: ${scalar(`env:${ssh.sudo.env}`)}`));
  lines.push(
    '',
    ...key('firewall', 'firewall:'),
    ...key('firewall.admin_sources', `  admin_sources: ${flowList(answers.adminSources)}`),
    '',
    ...key('monitoring', 'monitoring:'),
    ...key('monitoring.sources', `  sources: ${flowList(answers.monitoringSources)}`),
    '',
    ...key('tls', 'tls:'),
  );
  if (tls.source === 'ca') {
    lines.push(...key('tls.source', '  source: ca'));
  } else {
    lines.push(
      ...key('tls.source', '  source: files'),
      ...key('tls.cert_file', `  cert_file: ${scalar(tls.certFile)}`),
      ...key('tls.key_file', `  key_file: ${scalar(tls.keyFile)}`),
      ...(tls.chainFile ? key('tls.chain_file', `  chain_file: ${scalar(tls.chainFile)}`) : []),
    );
  }
  lines.push(
    '',
    ...key('db', 'db:'),
    ...key('db.primary', `  primary: ${scalar(answers.primary)}`),
    ...key('db.replicas', `  replicas: ${flowList(answers.replicas)}`),
    ...key('db.password', '  password: generate'),
    ...key('db.replication_password', '  replication_password: generate'),
    '',
    ...key('app', 'app:'),
    ...key('app.source', `  source: ${scalar(answers.appSource)}`),
    '',
    ...key('hosts', 'hosts:'),
  );
  for (const host of answers.hosts) {
    lines.push(`  ${scalar(host.name)}:`, `    address: ${scalar(host.address)}`, `    roles: ${flowList(host.roles)}`);
  }
  if (answers.vipInterface !== undefined) {
    const vrrpInterface = roleVarComment(described('vars'), 'vrrp_interface');
    lines.push(
      '',
      ...key('role_vars'),
      ...(vrrpInterface ? [`# vrrp_interface: ${vrrpInterface}`] : []),
      'role_vars:',
      '  lb:',
      `    vrrp_interface: ${scalar(answers.vipInterface)}`,
    );
  }
  return lines.join('\n') + '\n';
}
