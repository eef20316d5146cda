/**
 * The types every layer speaks: desired resources, the facts read from a host, and the plan of
 * changes between them. This module imports nothing of the project but types (Secret, and Role,
 * which names the role phases), so every import arrow at run time points down to it.
 */
import type { Secret } from './secret.js';
// A type only, erased from the build: no module of the project is loaded from here.
import type { Role } from '../inventory/model.js';

/**
 * A stage of the run: one per role, in the order of src/roles/index.ts (PHASE_ORDER). `firewall`
 * and `monitoring` run on every host before the roles; `cleanup` runs on every host after them
 * all: it takes away what only something no longer wanted needed (firewall openings, db
 * accounts), once nothing can send it traffic any more.
 */
export type Phase = 'firewall' | 'monitoring' | Role | 'cleanup';

export interface PackageResource {
  kind: 'package';
  name: string;
}

export interface DirectoryResource {
  kind: 'directory';
  path: string;
  mode: string;
  owner: string;
  group: string;
}

export interface FileResource {
  kind: 'file';
  path: string;
  content: string;
  mode: string;
  owner: string;
  group: string;
  /** Secret values that appear in `content`; they are redacted from every diff and report. */
  secrets?: Secret[];
  /** Handlers to run when this file changes (ids from the same phase's handlers). */
  notify?: string[];
}

/** A symbolic link, e.g. an app's `current` pointing at a release; replaced atomically. */
export interface SymlinkResource {
  kind: 'symlink';
  path: string;
  target: string;
  notify?: string[];
}

/** A path that must not exist (a distribution's default site, an old release…). */
export interface AbsentResource {
  kind: 'absent';
  path: string;
  notify?: string[];
}

export interface ServiceResource {
  kind: 'service';
  name: string;
  enabled: boolean;
  running: boolean;
}

/** A ufw "allow" rule written and owned by infra (its comment starts with "infra:"). */
export interface FirewallRuleResource {
  kind: 'firewall-rule';
  proto: 'tcp' | 'udp';
  port: number;
  /** An IPv4 address or CIDR, or "any". */
  from: string;
  /** What the rule is for, e.g. "ssh (admin)"; stored in the rule's comment after "infra:". */
  purpose: string;
  /** The rule as read from the host when infra did not write it: deleted with its own words. */
  found?: UfwRule;
}

/**
 * A folder whose entries infra owns (nginx's conf.d…): an entry it did not write, and that is not
 * in `keep`, is removed, so a file dropped there by hand cannot change what the service serves.
 */
export interface OwnedFolderResource {
  kind: 'owned-folder';
  path: string;
  /** Entry names infra writes there, or the package's own that must stay. */
  keep: string[];
  notify?: string[];
}

/** ufw itself: enabled with incoming denied by default. */
export interface FirewallStateResource {
  kind: 'firewall-state';
  /** The SSH port infra connects to; the plan is refused unless a rule keeps it open to us. */
  sshPort: number;
}

/**
 * A command guard that one SQL query answers: it holds when the query's single value is exactly
 * `expected`. Kept as data (not shell) so the probe reads every such guard of a host with a single
 * mysql client run instead of one client per guard (see resources/command.ts).
 */
export interface SqlGuard {
  sql: string;
  expected: string;
  /** When set, the plan shows what the query found under this label ("to drop: …"). */
  showsAs?: string;
}

/**
 * A command run only when its guard says the work is not done yet: `unless` exits 0 when the
 * desired state already holds. The guard is run in the probe (so the plan knows) and again right
 * before the command (so a command is never run twice).
 */
export interface CommandResource {
  kind: 'command';
  name: string;
  /** Shell text built with quoteCommand from arrays of words. */
  script: string;
  /** Shell text exiting 0 when the work is done, or an SQL query and the value that means done. */
  unless: string | SqlGuard;
  secrets?: Secret[];
  notify?: string[];
  /**
   * Paths of the same phase whose change makes this command run even when its guard held when
   * the host was read (systemd must re-read a unit file that is rewritten, whatever changed).
   */
  runsWhenChanged?: string[];
  /**
   * Handlers the command's run carries out itself (it restarts the service): a handler that only
   * changes before it asked for is then not run again.
   */
  carriesOut?: string[];
}

/** A db host as the replication resource names it: by inventory name and by address. */
export interface DbHostRef {
  name: string;
  address: string;
}

/**
 * A db host's place in replication: the writable primary, or a read-only replica of it. On the
 * primary it carries the switchover: when the host still replicates from another db host (the
 * inventory moved the primary), that host is made read-only and drained, this one catches up with
 * it and is promoted. That work spans hosts, so the engine runs it first in the db phase (see
 * applyPlans). On a replica it only asks the probe for the replication facts: commands of the
 * role make it read-only and point it at the primary, and the checks across db hosts (errant
 * transactions) use the facts.
 */
export interface DbReplicationResource {
  kind: 'db-replication';
  host: string;
  flavor: 'mariadb' | 'mysql';
  primary: DbHostRef;
  /** Every db host of the inventory, this one included. */
  dbHosts: DbHostRef[];
  /** The app's account, whose connections to an old primary are cut when it goes read-only. */
  appUser: string;
  /** How long the new primary may take to apply every transaction of the old one. */
  catchUpSeconds: number;
}

export type Resource =
  | PackageResource
  | DirectoryResource
  | FileResource
  | SymlinkResource
  | AbsentResource
  | ServiceResource
  | FirewallRuleResource
  | FirewallStateResource
  | OwnedFolderResource
  | CommandResource
  | DbReplicationResource;

/** A reload or restart run once per host after its phase's changes, only if something it reads changed. */
export interface Handler {
  id: string;
  service: string;
  action: 'reload' | 'restart';
  /**
   * How a reload is confirmed: `new-workers` (default) waits for new child processes of the main
   * process (nginx, haproxy); `active` only for the unit to stay active, for daemons that re-read
   * their config in place (keepalived) — their health check must then prove the new config.
   */
  reloadConfirmation?: 'new-workers' | 'active';
  /** A command (shell text) that must succeed after the reload for it to count as done. */
  healthCheck?: string;
}

/**
 * Work on other hosts around a host's handlers, for changes behind a load balancer: `before`
 * runs on every peer (e.g. drain this web host in HAProxy and wait for its sessions), then the
 * host's handlers and health checks, then `after` on every peer (put it back in service).
 */
export interface RollingHandlers {
  peers: string[];
  before: string;
  after: string;
}

/** A check of a whole configuration tree that must pass before any changed file is activated. */
export interface Validator {
  name: string;
  /** Shell text; exit 0 means the tree is valid. */
  script: string;
}

/**
 * A read-only look at what configuration alone cannot show (a replica replicating, the VIP, the
 * certificate actually served), run by `infra check` inside the host's one probe. `evaluate` is
 * pure: it turns the script's output into problems (empty when healthy) and named observations
 * that checks across hosts compare (which lb holds the VIP, which certificate a web host serves).
 */
export interface HealthCheck {
  name: string;
  script: string;
  evaluate: (output: string, context: HealthContext) => HealthResult;
}

export interface HealthContext {
  now: Date;
  /** Certificates expiring within this many days are reported. */
  expiryWarningDays: number;
}

export interface HealthResult {
  problems: string[];
  observations?: Record<string, string>;
}

/** What a phase wants on one host. */
export interface PhaseDesire {
  phase: Phase;
  resources: Resource[];
  handlers: Handler[];
  validators: Validator[];
  /** Apply this phase one host at a time (app servers restart one by one so some always serve). */
  serial?: boolean;
  /** In a serial phase, hosts go in ascending rank (lb: backups before the master). */
  rank?: number;
  /** In a serial phase, seconds to wait after a host whose handlers ran, before the next host. */
  settleSeconds?: number;
  rolling?: RollingHandlers;
  /**
   * Hosts whose own changes and handlers of this phase finish before this host's begin (a
   * replica's first replication needs its primary up with its final settings, not restarting).
   */
  after?: string[];
  healthChecks?: HealthCheck[];
  /**
   * A condition a host must reach once the phase changed anything on it, before the run goes on
   * (lb: the VIP is held, so a provision that returns leaves the site answering). Shell text,
   * retried until it succeeds or `seconds` pass; the host fails with `name` if it never does.
   */
  ready?: ReadyCondition;
}

export interface ReadyCondition {
  name: string;
  script: string;
  seconds: number;
}

/** Everything desired on one host, phase by phase in PHASE_ORDER. */
export interface HostDesire {
  host: string;
  address: string;
  phases: PhaseDesire[];
}

// ---------------------------------------------------------------- facts

export interface FileFact {
  exists: boolean;
  /** `file`, `directory`, `symlink` or `other` when it exists. */
  type?: string;
  sha256?: string;
  mode?: string;
  owner?: string;
  group?: string;
  /** The content, read only when its hash differs from the desired one (to show a diff). */
  content?: string;
  /** Where a symlink points. */
  target?: string;
}

export interface ServiceFact {
  /** systemd's LoadState: "loaded" or "not-found". */
  load: string;
  active: string;
  /** UnitFileState: enabled, disabled, static, masked… */
  enabled: string;
}

export interface UfwRule {
  action: string;
  proto: string;
  port: string;
  from: string;
  comment: string;
  /** The destination address ("any" for all), the source port, and the interface ("" for any). */
  to: string;
  fromPort: string;
  iface: string;
}

export interface FirewallFact {
  installed: boolean;
  enabled: boolean;
  defaultIncoming: string;
  rules: UfwRule[];
}

export interface Facts {
  os: { id: string; versionId: string; codename: string };
  /** The address this controller connects from, as the host sees it (from SSH_CONNECTION). */
  controllerAddress: string;
  files: Record<string, FileFact>;
  /** Installed version by package name, or null when not installed. */
  packages: Record<string, string | null>;
  services: Record<string, ServiceFact>;
  firewall: FirewallFact;
  /** Exit code of each shell command guard by command name. */
  guards: Record<string, number>;
  /** The value each SQL guard's query returned, by command name (missing when it could not run). */
  queries: Record<string, string>;
  /** Handler ids that an earlier run recorded and did not complete. */
  pendingHandlers: string[];
  /** The entry names of each owned folder (missing when the folder does not exist). */
  folders: Record<string, string[]>;
  /** Output of each health check by name (only when the probe was asked to run them). */
  health: Record<string, string>;
  /** Replication state of a db host whose server answered (missing when it did not). */
  db?: DbReplicationFact;
}

export interface DbReplicationFact {
  readOnly: boolean;
  /** Every transaction the server holds: MariaDB's gtid_binlog_state, MySQL's gtid_executed. */
  gtidState: string;
  /** What a replica waits for to have applied all of this server's: gtid_binlog_pos, gtid_executed. */
  gtidPosition: string;
  /** The server it replicates from, when a source is configured. */
  source?: {
    host: string;
    ioRunning: string;
    sqlRunning: string;
    /** What it received from the source (applied or not): Gtid_IO_Pos, Retrieved_Gtid_Set. */
    received: string;
  };
}

// ---------------------------------------------------------------- plan

export type Action = 'noop' | 'create' | 'update' | 'delete';

export interface Change {
  phase: Phase;
  resource: Resource;
  action: Action;
  /** Short words for humans: "content differs", "not installed", "already enabled and running". */
  reason: string;
  /** A unified diff for files (secrets redacted). */
  diff?: string;
}

export interface HostPlan {
  host: string;
  changes: Change[];
  /** Handlers recorded as pending on the host by an earlier failed run; they run in this one. */
  pendingHandlers: string[];
  /** Things infra noticed and does not own (rules it did not write…), reported, never changed. */
  notices: string[];
  /** Set when the plan must not be applied on this host, with the reason. */
  refusal?: string;
  /**
   * Phases in which a service of the host was running when it was read, so clients may depend on
   * it: a serial phase changes these hosts one at a time. A host that serves nothing yet in a phase
   * (a first install, a new host) has no one to keep serving and goes in parallel.
   */
  serving: Phase[];
}
