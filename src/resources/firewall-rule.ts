import { normalizeSource, sourceAllows } from '../core/ipv4.js';
import { quoteWord } from '../core/shell.js';
import type { Facts, FirewallRuleResource, FirewallStateResource, UfwRule } from '../core/types.js';
import type { ApplyFragment, ProbeFragment, ResourceKind } from './kind.js';
import type { ResourceVerdict } from './verdict.js';

export const INFRA_RULE_COMMENT_PREFIX = 'infra:';

function sameRule(rule: UfwRule, resource: FirewallRuleResource): boolean {
  return (
    rule.action === 'allow' &&
    rule.to === 'any' &&
    rule.fromPort === 'any' &&
    rule.iface === '' &&
    rule.proto === resource.proto &&
    rule.port === String(resource.port) &&
    normalizeSource(rule.from) === normalizeSource(resource.from)
  );
}

export function planFirewallRule(resource: FirewallRuleResource, facts: Facts): ResourceVerdict {
  return facts.firewall.rules.some((rule) => sameRule(rule, resource))
    ? { action: 'noop', reason: 'rule present' }
    : { action: 'create', reason: 'rule missing' };
}

export function ruleFromUfw(rule: UfwRule): FirewallRuleResource {
  return {
    kind: 'firewall-rule',
    proto: rule.proto === 'udp' ? 'udp' : 'tcp',
    port: Number(rule.port),
    from: normalizeSource(rule.from),
    purpose: rule.comment.slice(INFRA_RULE_COMMENT_PREFIX.length),
  };
}

function writtenByInfra(rule: UfwRule): boolean {
  return (
    rule.comment.startsWith(INFRA_RULE_COMMENT_PREFIX) &&
    rule.action === 'allow' &&
    /^\d+$/.test(rule.port) &&
    rule.to === 'any' &&
    rule.fromPort === 'any' &&
    rule.iface === ''
  );
}

/**
 * Rules on the host that the desired set does not hold, all to delete: infra owns the firewall,
 * and a rule someone added by hand is kept only when the inventory lists it
 * (`firewall.extra_rules`, which makes it a desired rule). Those infra wrote keep their purpose.
 */
export function surplusFirewallRules(desired: readonly FirewallRuleResource[], facts: Facts): FirewallRuleResource[] {
  return facts.firewall.rules
    .filter((rule) => !desired.some((resource) => sameRule(rule, resource)))
    .map((rule) => (writtenByInfra(rule) ? ruleFromUfw(rule) : { ...ruleFromUfw(rule), purpose: 'not written by infra', found: rule }));
}

/**
 * ufw's words that delete a rule as the host holds it (its full syntax matches a rule however it
 * was added, the short `ufw allow 6666/tcp` included).
 */
export function ufwDeleteWords(rule: UfwRule): string[] {
  const words = ['delete', rule.action];
  if (rule.iface) words.push('in', 'on', rule.iface);
  if (rule.proto !== 'any') words.push('proto', rule.proto);
  words.push('from', rule.from);
  if (rule.fromPort !== 'any') words.push('port', rule.fromPort);
  words.push('to', rule.to);
  if (rule.port !== 'any') words.push('port', rule.port);
  return words;
}

/**
 * infra never cuts its own access: with ufw on, some desired rule must keep the SSH port open to
 * the address this controller connects from. Returns why the plan is refused, or undefined.
 */
export function sshLockoutReason(desired: readonly FirewallRuleResource[], state: FirewallStateResource, facts: Facts): string | undefined {
  const kept = desired.some((rule) => rule.proto === 'tcp' && rule.port === state.sshPort && sourceAllows(rule.from, facts.controllerAddress));
  if (kept) return undefined;
  return (
    `refusing to apply: with ufw enabled, no rule would allow SSH (port ${state.sshPort}/tcp) from this controller ` +
    `(${facts.controllerAddress}), so infra would cut its own access. Add ${facts.controllerAddress} or its network to ` +
    `firewall.admin_sources in the inventory.`
  );
}

/**
 * A ufw rule as user.rules records it after "### tuple ###":
 * `allow tcp 22 0.0.0.0/0 any 10.77.0.1 in comment=696e667261` (the comment is hex).
 */
export function parseUfwTuple(tuple: string): UfwRule | undefined {
  const words = tuple.trim().split(/\s+/);
  const [action, proto, port, to, fromPort, from, direction] = words;
  if (!action || !proto || !port || !to || !fromPort || !from || !direction || !/^in(_|$)/.test(direction)) return undefined;
  const commentWord = words.find((word) => word.startsWith('comment='));
  const comment = commentWord ? Buffer.from(commentWord.slice('comment='.length), 'hex').toString('utf8') : '';
  const anyAddress = (address: string) => (address === '0.0.0.0/0' ? 'any' : address);
  return { action, proto, port, from: anyAddress(from), comment, to: anyAddress(to), fromPort, iface: direction.slice('in_'.length) };
}

/** ufw's state and rules, read for its rules and its state alike, from its files without running ufw. */
export const UFW_PROBE: ProbeFragment<FirewallRuleResource | FirewallStateResource> = {
  order: 40,
  tags: ['W', 'R'],
  script(resources) {
    if (resources.length === 0) return [];
    return [
      'if command -v ufw >/dev/null 2>&1; then printf "W\\tinstalled\\n"; fi',
      // ufw.conf says whether ufw should be on; the ufw-user-input chain says it really is.
      '__on=; [ -r /etc/ufw/ufw.conf ] && while IFS= read -r __l; do [[ $__l == ENABLED=yes* ]] && __on=1; done < /etc/ufw/ufw.conf',
      'if [ -n "$__on" ] && iptables -n -L ufw-user-input >/dev/null 2>&1; then printf "W\\tenabled\\n"; fi',
      `__re='^DEFAULT_INPUT_POLICY="?([A-Z]*)"?$'`,
      '[ -r /etc/default/ufw ] && while IFS= read -r __l; do [[ $__l =~ $__re ]] && printf "W\\tinput\\t%s\\n" "${BASH_REMATCH[1]}"; done < /etc/default/ufw',
      `[ -r /etc/ufw/user.rules ] && while IFS= read -r __l; do [[ $__l == '### tuple ### '* ]] && printf "R\\t%s\\n" "\${__l#'### tuple ### '}"; done < /etc/ufw/user.rules`,
    ];
  },
  parse(lines, facts) {
    for (const [tag, ...fields] of lines) {
      if (tag === 'W') {
        if (fields[0] === 'installed') facts.firewall.installed = true;
        if (fields[0] === 'enabled') facts.firewall.enabled = true;
        if (fields[0] === 'input') facts.firewall.defaultIncoming = fields[1] ?? '';
      } else {
        const rule = parseUfwTuple(fields.join('\t'));
        if (rule) facts.firewall.rules.push(rule);
      }
    }
  },
};

function ufwRuleWords(rule: FirewallRuleResource): string[] {
  const from = rule.from === 'any' ? 'any' : rule.from;
  return ['allow', 'proto', rule.proto, 'from', from, 'to', 'any', 'port', String(rule.port)];
}

/**
 * Runs ufw commands in one Python process through ufw's own front end (what /usr/sbin/ufw does for
 * one command, with its lock): each `ufw` run costs a Python start of 0.1-0.2 s of CPU, and a first
 * install on a small host issues about ten of them. The command lists come as JSON in argv (ufw
 * rules hold no secrets); the first failure prints the command and ufw's message and exits 1.
 */
const UFW_BATCH = [
  'import gettext, json, sys',
  'import ufw.common, ufw.frontend',
  'from ufw.util import create_lock, release_lock',
  'gettext.install(ufw.common.programName)',
  'commands = json.loads(sys.argv[1])',
  // ufw reads its own path from argv[0] (a delete stats it).
  "sys.argv = ['/usr/sbin/ufw']",
  "lock = create_lock(lockfile='/run/ufw.lock', dryrun=False)",
  'try:',
  '    for args in commands:',
  '        try:',
  "            pr = ufw.frontend.parse_command(['ufw'] + args)",
  '            ui = ufw.frontend.UFWFrontend(pr.dryrun)',
  "            if 'rule' in pr.data:",
  "                ui.do_action(pr.action, pr.data['rule'], pr.data['iptype'], pr.force)",
  '            else:',
  "                ui.do_action(pr.action, '', '', pr.force)",
  '        except BaseException as e:',
  "            print('ufw %s: %s' % (' '.join(args), getattr(e, 'value', e)))",
  '            sys.exit(1)',
  'finally:',
  '    release_lock(lock)',
].join('\n');

/**
 * The firewall's changes, rules and state, as one step: rules added first, then ufw turned on
 * (only after the rules that keep SSH open exist), then rules infra no longer wants deleted.
 */
export const UFW_APPLY: ApplyFragment<FirewallRuleResource | FirewallStateResource> = {
  order: 80,
  steps(changes) {
    const commands: { what: string; args: string[] }[] = [];
    for (const { resource, action } of changes) {
      if (resource.kind === 'firewall-rule' && action === 'create') {
        commands.push({
          what: `add rule ${resource.port}/${resource.proto} from ${resource.from}`,
          args: [...ufwRuleWords(resource), 'comment', INFRA_RULE_COMMENT_PREFIX + resource.purpose],
        });
      }
    }
    if (changes.some((change) => change.resource.kind === 'firewall-state' && change.action !== 'noop')) {
      commands.push({ what: 'deny incoming by default', args: ['default', 'deny', 'incoming'] }, { what: 'enable', args: ['--force', 'enable'] });
    }
    for (const { resource, action } of changes) {
      if (resource.kind === 'firewall-rule' && action === 'delete') {
        const args = resource.found ? ufwDeleteWords(resource.found) : ['delete', ...ufwRuleWords(resource)];
        commands.push({ what: `delete rule ${resource.port}/${resource.proto} from ${resource.from}`, args });
      }
    }
    if (commands.length === 0) return [];
    return [
      `step ${quoteWord(`ufw: ${commands.map((command) => command.what).join(', ')}`)}`,
      `must python3 - ${quoteWord(JSON.stringify(commands.map((command) => command.args)))} <<'INFRA_UFW'`,
      UFW_BATCH,
      'INFRA_UFW',
    ];
  },
};

export const firewallRuleKind: ResourceKind<'firewall-rule'> = {
  kind: 'firewall-rule',
  label: (resource) =>
    resource.found
      ? `ufw ${resource.found.action} ${resource.found.port}/${resource.found.proto} from ${resource.found.from} (${resource.purpose})`
      : `ufw allow ${resource.port}/${resource.proto} from ${resource.from} (${resource.purpose})`,
  plan: planFirewallRule,
  probe: UFW_PROBE,
  apply: UFW_APPLY,
  converge(resource, action, facts) {
    const rules = facts.firewall.rules;
    if (action === 'delete') {
      facts.firewall.rules = rules.filter((rule) => (resource.found ? JSON.stringify(rule) !== JSON.stringify(resource.found) : !sameRule(rule, resource)));
    } else {
      rules.push({
        action: 'allow',
        proto: resource.proto,
        port: String(resource.port),
        from: resource.from,
        comment: INFRA_RULE_COMMENT_PREFIX + resource.purpose,
        to: 'any',
        fromPort: 'any',
        iface: '',
      });
    }
  },
};
