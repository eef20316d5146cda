import { z } from 'zod';
import { ROLES } from './model.js';
import { isIpv4, isIpv4Source } from '../core/ipv4.js';

/**
 * The shape of inventory.yaml as written (snake_case keys, relative paths, secret sources as
 * text), with its defaults. Objects are strict so that a misspelt key is an error instead of a
 * silently ignored setting. Checks that relate several keys live in checks.ts; turning this into
 * the `Inventory` model lives in load.ts.
 */

export const KEY_TYPES = ['ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;

/** A secret source before load.ts ties it to its key path. */
export type SecretSpec = { kind: 'env'; name: string } | { kind: 'file'; path: string } | { kind: 'cmd'; command: string } | { kind: 'generate' };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function secretSpec(options: { allowGenerate: boolean }) {
  const accepted = options.allowGenerate ? 'env:NAME, file:PATH, cmd:COMMAND or generate' : 'env:NAME, file:PATH or cmd:COMMAND';
  return z.unknown().transform((value, ctx): SecretSpec => {
    if (value === 'generate') {
      if (options.allowGenerate) return { kind: 'generate' };
      ctx.addIssue({
        code: 'custom',
        message: `a sudo password cannot be generated (it is the user's password on the host); use ${accepted}`,
      });
      return z.NEVER;
    }
    if (typeof value === 'string' && value.startsWith('env:')) {
      const name = value.slice('env:'.length);
      if (ENV_NAME.test(name)) return { kind: 'env', name };
      ctx.addIssue({
        code: 'custom',
        message: 'env: needs an environment variable name (letters, digits, _), e.g. env:DB_PASSWORD',
      });
      return z.NEVER;
    }
    if (typeof value === 'string' && value.startsWith('file:')) {
      const path = value.slice('file:'.length);
      if (path.trim() !== '') return { kind: 'file', path };
      ctx.addIssue({ code: 'custom', message: 'file: needs a path, e.g. file:./secrets/db_password' });
      return z.NEVER;
    }
    if (typeof value === 'string' && value.startsWith('cmd:')) {
      const command = value.slice('cmd:'.length).trim();
      if (command !== '') return { kind: 'cmd', command };
      ctx.addIssue({ code: 'custom', message: 'cmd: needs a command that prints the secret, e.g. cmd:pass show db/app' });
      return z.NEVER;
    }
    // The value itself is never repeated in the message: it may be the password.
    ctx.addIssue({
      code: 'custom',
      message: `a secret must not be written in clear in the inventory; use ${accepted}`,
    });
    return z.NEVER;
  });
}

const ipv4 = z.string().refine(isIpv4, {
  error: (issue) => `invalid IPv4 address ${JSON.stringify(issue.input)} (expected four numbers 0-255, e.g. 10.0.0.11)`,
});

/** A DNS name (or a single label such as an ~/.ssh/config alias); all digits and dots is an address, never a name. */
const HOST_NAME = /^(?=.{1,253}$)(?![\d.]+$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isHostAddress(value: unknown): value is string {
  return isIpv4(value) || (typeof value === 'string' && HOST_NAME.test(value));
}

/** Where a host is reached: an IPv4 address, or a name resolved once at the start of a run. */
const hostAddress = z.string().refine(isHostAddress, {
  error: (issue) => `invalid address ${JSON.stringify(issue.input)} (expected an IPv4 address such as 10.0.0.11 or a DNS name such as web1.example.org)`,
});

/** `[user@]host[:port]`, as ssh -J takes it. */
const JUMP = /^(?:([a-z_][a-z0-9_-]{0,31})@)?([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::(\d{1,5}))?$/;
const jump = z.string().regex(JUMP, 'expected a jump host as [user@]host[:port], e.g. admin@bastion.example.org:2222');

/** The jump host a `ssh.jump` value names; undefined when it is not `[user@]host[:port]`. */
export function parseJump(text: string): { user?: string; host: string; port?: number } | undefined {
  const match = JUMP.exec(text);
  if (!match) return undefined;
  const [, user, host, portText] = match;
  const portNumber = portText === undefined ? undefined : Number(portText);
  if (portNumber !== undefined && (portNumber < 1 || portNumber > 65535)) return undefined;
  return { ...(user !== undefined ? { user } : {}), host: host as string, ...(portNumber !== undefined ? { port: portNumber } : {}) };
}

function ipv4SourceOf() {
  return z.string().refine(isIpv4Source, {
    error: (issue) => `invalid address or CIDR ${JSON.stringify(issue.input)} (expected e.g. 10.0.0.0/24 or 10.0.0.1)`,
  });
}

const ipv4Source = ipv4SourceOf();

const port = z.int().min(1, 'expected a port from 1 to 65535').max(65535, 'expected a port from 1 to 65535');

/** A ufw rule someone added by hand that infra is to keep (and write where it is missing). */
const extraFirewallRule = z.strictObject({
  port,
  proto: z.enum(['tcp', 'udp'], { error: (issue) => `unknown protocol ${JSON.stringify(issue.input)} (expected tcp or udp)` }).default('tcp'),
  from: z.union([z.literal('any'), ipv4SourceOf()]).default('any'),
  /** Host names, groups or roles; every host when left out. */
  hosts: z.array(z.string()).optional(),
});

/** An account `user@host` as MariaDB/MySQL name it (host as in mysql.user: an address, %, localhost). */
const DB_ACCOUNT = /^[^@\s'"`]{1,80}@[^@\s'"`]{1,255}$/;

const path = z.string().min(1, 'expected a path, got an empty string');

const role = z.enum(ROLES as [string, ...string[]], {
  error: (issue) => `unknown role ${JSON.stringify(issue.input)} (expected ${ROLES.join(', ')})`,
});

const vars = z.record(z.string(), z.unknown());

const sudo = z.strictObject(
  { password: secretSpec({ allowGenerate: false }).optional() },
  {
    error: (issue) => (issue.code === 'invalid_type' ? 'expected a mapping: `sudo: {}` for passwordless sudo or `sudo: {password: env:NAME}`' : undefined),
  },
);

const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const sshUser = z.string().regex(SSH_USER, 'expected a Unix user name (lowercase letters, digits, _ and -)');
const connectTimeout = z.number().positive('expected a number of seconds greater than 0').max(300, 'expected at most 300 seconds');

export const DEFAULT_SSH_USER = 'root';
export const DEFAULT_SSH_PORT = 22;
/** The key used when the inventory and ~/.ssh/config name none and no ssh-agent runs (SSH_AUTH_SOCK). */
export const DEFAULT_IDENTITY_FILE = '~/.ssh/id_ed25519';

// user, port and identity_file have no schema default: what the inventory leaves out, an ssh
// config may set (see src/engine/addresses.ts), and only then the defaults above apply.
const globalSsh = z
  .strictObject({
    user: sshUser.optional(),
    port: port.optional(),
    identity_file: path.optional(),
    config_file: path.optional(),
    jump: jump.optional(),
    known_hosts: path.default('~/.ssh/known_hosts'),
    connect_timeout: connectTimeout.default(10),
    sudo: sudo.optional(),
  })
  .prefault({});

// OpenSSH prints SHA256 fingerprints as 43 characters of unpadded base64.
const HOST_KEY = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

const hostSsh = z.strictObject({
  user: sshUser.optional(),
  port: port.optional(),
  identity_file: path.optional(),
  jump: jump.optional(),
  known_hosts: path.optional(),
  connect_timeout: connectTimeout.optional(),
  sudo: sudo.optional(),
  host_key: z
    .string()
    .regex(HOST_KEY, 'expected an OpenSSH fingerprint "SHA256:" followed by 43 base64 characters (ssh-keyscan HOST | ssh-keygen -lf -)')
    .optional(),
});

export const hostSchema = z.strictObject({
  address: hostAddress,
  /** The address to use when `address` is a name that resolves to several. */
  ip: ipv4.optional(),
  roles: z.array(role).min(1, `a host needs at least one role (${ROLES.join(', ')})`),
  ssh: hostSsh.optional(),
  vars: vars.optional(),
});

const STATE_RECIPIENT = /^(?:(?:ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}(?: .*)?|age1[02-9ac-hj-np-z]{58})$/;
const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DB_IDENTIFIER = /^[A-Za-z0-9_]{1,32}$/;
// They land in alertmanager.yml as quoted YAML strings: no quotes, backslashes or spaces.
const WEBHOOK_URL = /^https?:\/\/[^\s"'\\]+$/;
const MAIL_ADDRESS = /^[^\s@"'\\]+@[^\s@"'\\]+$/;
const SMARTHOST = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export const inventorySchema = z.strictObject({
  domain: z.string().regex(DOMAIN, 'expected a DNS name such as www.example.com'),
  vip: ipv4.optional(),
  // At most /29: the VIP and two lb hosts need three usable addresses in the subnet.
  vip_prefix: z.int().min(8, 'expected a prefix length from 8 to 29').max(29, 'expected a prefix length from 8 to 29').default(24),
  state_dir: path.default('.infra'),
  // The state directory's secrets kept encrypted in one file a team commits (age, to these recipients).
  state: z
    .strictObject({
      file: path.default('infra-state.age'),
      recipients: z
        .array(
          z.string().regex(STATE_RECIPIENT, 'expected an SSH public key line ("ssh-ed25519 AAAA… comment", as in ~/.ssh/id_ed25519.pub) or an age key (age1…)'),
        )
        .min(1, 'must list at least one recipient: your SSH public key (~/.ssh/id_ed25519.pub) or an age key'),
    })
    .optional(),
  templates_dir: path.optional(),
  ssh: globalSsh,
  firewall: z.strictObject({
    admin_sources: z
      .array(ipv4Source)
      .min(1, 'must list at least one address or CIDR allowed to reach SSH, e.g. [10.0.0.1/32]; an empty list would lock infra out'),
    extra_rules: z.array(extraFirewallRule).default([]),
  }),
  // Files in the config folders infra owns (nginx's conf.d and sites-enabled, /etc/haproxy,
  // /etc/keepalived) that it keeps although it did not write them.
  extra_files: z.array(z.string().regex(/^\/[^\0]*[^/]$/, 'expected an absolute file path, e.g. /etc/nginx/conf.d/status.conf')).default([]),
  monitoring: z.strictObject({ sources: z.array(ipv4Source) }).optional(),
  // Where the monitor hosts' Alertmanager sends firing alerts; none: they are only shown.
  alerting: z
    .strictObject({
      webhook: z.string().regex(WEBHOOK_URL, 'expected an http or https URL, e.g. https://hooks.example.com/infra').optional(),
      email: z
        .strictObject({
          to: z.string().regex(MAIL_ADDRESS, 'expected a mail address, e.g. ops@example.com'),
          from: z.string().regex(MAIL_ADDRESS, 'expected a mail address, e.g. alerts@example.com'),
          smarthost: z.string().regex(SMARTHOST, 'expected an SMTP relay as host:port, e.g. mail.example.com:25'),
        })
        .optional(),
    })
    .optional(),
  tls: z
    .strictObject({
      source: z
        .enum(['ca', 'files'], {
          error: (issue) => `unknown TLS source ${JSON.stringify(issue.input)} (expected ca or files)`,
        })
        .default('ca'),
      key_type: z
        .enum(KEY_TYPES, {
          error: (issue) => `unknown key type ${JSON.stringify(issue.input)} (expected ${KEY_TYPES.join(', ')})`,
        })
        .optional(),
      // Browsers refuse certificates valid for more than 825 days.
      days: z.int().min(1, 'expected a number of days from 1 to 825').max(825, 'expected a number of days from 1 to 825').optional(),
      cert_file: path.optional(),
      key_file: path.optional(),
      chain_file: path.optional(),
    })
    .prefault({}),
  db: z.strictObject({
    primary: z.string(),
    replicas: z.array(z.string()).default([]),
    name: z.string().regex(DB_IDENTIFIER, 'expected a database name of letters, digits and _ (at most 32)').default('app'),
    user: z.string().regex(DB_IDENTIFIER, 'expected a user name of letters, digits and _ (at most 32)').default('app'),
    password: secretSpec({ allowGenerate: true }).prefault('generate'),
    replication_password: secretSpec({ allowGenerate: true }).prefault('generate'),
    extra_accounts: z.array(z.string().regex(DB_ACCOUNT, 'expected an account as user@host, e.g. backup@10.0.0.9 or report@%')).default([]),
  }),
  app: z.strictObject({
    source: path,
    port: port.default(8000),
    // At least 2: the release before the current one is what `infra rollback` puts back.
    keep_releases: z.int().min(2, 'expected at least 2 releases (the current one and the previous one, for infra rollback)').default(5),
  }),
  vars: vars.default({}),
  role_vars: z.strictObject({ lb: vars.optional(), web: vars.optional(), app: vars.optional(), db: vars.optional(), monitor: vars.optional() }).default({}),
  groups: z.record(z.string(), z.strictObject({ hosts: z.array(z.string()), vars: vars.default({}) })).default({}),
  hosts: z.record(z.string(), hostSchema),
});

export type RawInventory = z.output<typeof inventorySchema>;
export type RawHost = z.output<typeof hostSchema>;
export type RawGlobalSsh = z.output<typeof globalSsh>;

/** What a missing required key should hold, for the "missing" message. */
export const REQUIRED_KEY_HINTS: Readonly<Record<string, string>> = {
  domain: "the site's public name, e.g. www.example.com",
  firewall: 'a mapping with admin_sources, the addresses allowed to reach SSH',
  admin_sources: 'a list of addresses or CIDRs allowed to reach SSH, e.g. [10.0.0.1/32]',
  db: 'a mapping with primary (the db host that takes writes) and replicas',
  primary: 'the name of the host with role db that takes writes, e.g. db1',
  app: 'a mapping with source, the local folder of the application',
  source: 'the local folder of the application, e.g. ./app',
  hosts: 'a mapping of host name to {address, roles}',
  address: "the host's IPv4 address or DNS name, e.g. 10.0.0.11 or web1.example.org",
  roles: `a list of roles (${ROLES.join(', ')})`,
  sources: 'a list of addresses or CIDRs, e.g. [10.0.0.1/32]',
};

/** The keys a strict object accepts, for the "unknown key" message; undefined when `path` is not a strict object. */
export function acceptedKeysAt(path: readonly (string | number)[]): string[] | undefined {
  let schema: z.core.$ZodType = inventorySchema;
  for (const segment of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) {
      const child: z.core.$ZodType | undefined = (schema.shape as Record<string, z.core.$ZodType>)[String(segment)];
      if (!child) return undefined;
      schema = child;
    } else if (schema instanceof z.ZodRecord) {
      schema = schema.valueType;
    } else if (schema instanceof z.ZodArray) {
      schema = schema.element;
    } else {
      return undefined;
    }
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
    current = current.unwrap() as z.core.$ZodType;
  }
  return current;
}
