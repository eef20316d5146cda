import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { ROLE, ROLES } from '../inventory/model.js';
import { allRolePackages } from '../roles/packages.js';
import type { DbEngineName } from '../roles/db-engines.js';
import { fingerprintOf } from '../transport/hostkeys.js';
import { ensureBase } from './base.js';
import { DEFAULT_RELEASE, LAB_DISTROS, repoPackages, type LabDistro, type LabRelease } from './distro.js';
import { exists, requireRoot, requireTools } from './exec.js';
import { ensureHostKeys, ensureLabKey, ensureOpsPassword, readHostPublicKeys, writeHostIdentity } from './identity.js';
import { renderKnownHosts, renderLabInventory } from './inventory-writer.js';
import { bootHost, findNspawnProcesses, isHostRunning, stopHost, waitForSsh } from './machine.js';
import { mountOverlay, removeTree, unmountUnder } from './mounts.js';
import { checkSubnetFree, deleteBridge, ensureBridge, raiseInotifyLimits } from './network.js';
import { hostPaths, labDirFromEnv, labPaths, namingFromEnv, outputPaths, subnetFromEnv, type LabPaths, type OutputPaths } from './paths.js';
import {
  DEFAULT_COUNTS,
  labNaming,
  parseSubnet,
  planBastion,
  planHosts,
  vipAddress,
  type LabCounts,
  type LabHostPlan,
  type LabMachinePlan,
  type LabNaming,
  type LabSubnet,
} from './plan.js';
import { ensureRepo } from './repo.js';
import { withLabLock } from './lock.js';
import { readState, writeState, type LabState, type LabStateMachine } from './state.js';

/**
 * The lab's programmatic API — what `infra lab …` runs and what end-to-end tests call:
 * labUp, labDown, labReset, labRebuild, labStatus, setHostNetwork (re-exported from ./network.js).
 */

export { setHostNetwork } from './network.js';

/** Progress for the CLI (spinner or plain lines); the API itself never prints. */
export type LabProgress = (step: string) => void;

export interface LabOptions {
  /** Lab state dir; default INFRA_LAB_DIR or /var/lib/infra-lab. */
  labDir?: string;
  /** The lab /24; default INFRA_LAB_SUBNET or 10.77.0.0/24. */
  subnet?: string;
  /** Names the lab's bridge and machines (see labNaming); default INFRA_LAB_NAME or the default lab. */
  name?: string;
  /** Where ./lab/ (inventory, known_hosts, key, password) is written; default process.cwd(). */
  cwd?: string;
  onProgress?: LabProgress;
}

export interface LabUpOptions extends LabOptions {
  counts?: Partial<LabCounts>;
  /**
   * A jump host beside the stack (see planBastion). `up` does as told, as with the counts: without
   * it, a bastion the lab has is removed. `reset` keeps what the lab has unless told.
   */
  bastion?: boolean;
  /** The Debian release every host runs; `up` default bookworm, `reset` keeps the lab's. */
  distro?: LabDistro;
  /** The db hosts' server; `up` default mariadb, `reset` keeps the lab's. */
  dbEngine?: DbEngineName;
  /** How long to wait for every host to answer SSH. */
  sshTimeoutMs?: number;
}

export interface LabHostStatus {
  name: string;
  address: string;
  roles: string[];
  state: 'running' | 'stopped';
  machine: string;
}

export interface LabStatus {
  subnet: string;
  release: LabRelease;
  vip: string | null;
  hosts: LabHostStatus[];
  /** The jump host of `lab up --bastion` (roles: none), or null. */
  bastion: LabHostStatus | null;
}

export interface LabUpResult extends LabStatus {
  output: OutputPaths;
  timings: { baseMs: number; repoMs: number; bootMs: number; totalMs: number; baseBuilt: boolean; repoBuilt: boolean };
  /** The db server package of the repository, as resolved from the archive. */
  dbServer?: { package: string; suite: string; version: string };
}

const REQUIRED_TOOLS = ['systemd-nspawn', 'debootstrap', 'dpkg-scanpackages', 'ssh-keygen', 'ssh', 'ip', 'openssl', 'mount', 'umount', 'chroot'];
const GRACEFUL_STOP_MS = 30_000;
/**
 * Offered by the lab's repository but installed by no role: Ansible's apt module installs
 * python3-apt on a host that lacks it, as it would from a Debian mirror (bench/ansible runs the
 * same stack for the side-by-side benchmark).
 */
const REPO_EXTRA_PACKAGES = ['python3-apt'];

interface Context {
  release: LabRelease;
  paths: LabPaths;
  subnet: LabSubnet;
  naming: LabNaming;
  progress: LabProgress;
  output: OutputPaths;
}

function context(opts: LabOptions, release: LabRelease = DEFAULT_RELEASE): Context {
  const paths = labPaths(opts.labDir ?? labDirFromEnv(), release);
  const subnet = opts.subnet ? parseSubnet(opts.subnet) : subnetFromEnv();
  const naming = opts.name !== undefined ? labNaming(opts.name) : namingFromEnv();
  return { release, paths, subnet, naming, progress: opts.onProgress ?? (() => undefined), output: outputPaths(opts.cwd) };
}

async function preflight(): Promise<void> {
  requireRoot();
  await requireTools(REQUIRED_TOOLS);
}

/** Marks a host whose upper layer holds a complete identity (removed when the layer is emptied). */
function identityMarker(paths: LabPaths, name: string): string {
  return join(hostPaths(paths, name).dir, 'identity.ok');
}

function toCounts(partial: Partial<LabCounts> | undefined): LabCounts {
  return { ...DEFAULT_COUNTS, ...(partial ?? {}) };
}

function vipOf(subnet: LabSubnet, hosts: readonly { role: string }[]): string | null {
  return hosts.filter((h) => h.role === ROLE.lb).length >= 2 ? vipAddress(subnet) : null;
}

/** Brings up the lab: base and repo (cached), bridge, every host booted and answering SSH. Idempotent. */
export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  await preflight();
  const ctx = context(opts, { distro: opts.distro ?? DEFAULT_RELEASE.distro, dbEngine: opts.dbEngine ?? DEFAULT_RELEASE.dbEngine });
  return withLabLock(ctx.paths.lock, () => upLocked(ctx, toCounts(opts.counts), opts.bastion === true, opts.sshTimeoutMs ?? 180_000));
}

async function upLocked(ctx: Context, counts: LabCounts, withBastion: boolean, sshTimeoutMs: number): Promise<LabUpResult> {
  const started = Date.now();
  const { paths, subnet, naming, progress, release } = ctx;
  const plan = planHosts(counts, subnet, naming);
  const bastion = withBastion ? planBastion(subnet, naming) : undefined;
  const machines: LabMachinePlan[] = [...plan, ...(bastion ? [bastion] : [])];
  const previous = await readState(paths);
  const previousRelease = releaseOf(previous);
  if (previous && previous.subnet !== subnet.cidr && (await anyRunning(previous))) {
    throw new UserError(`the lab is running on ${previous.subnet}, not ${subnet.cidr}; run \`infra lab down\` first to move it to another subnet`);
  }
  // Fail before minutes of building when the bridge could not get its subnet anyway.
  await checkSubnetFree(subnet, naming.bridge);
  await mkdir(paths.hostsDir, { recursive: true });

  const distro = LAB_DISTROS[release.distro];
  progress(`base image (${distro.title} ${distro.suite} minbase)`);
  const base = await ensureBase(paths, release.distro, progress);
  progress(`package repository (role packages + dependencies, db engine ${release.dbEngine})`);
  const repo = await ensureRepo(paths, base.info, release, repoPackages(allRolePackages(), release.dbEngine, REPO_EXTRA_PACKAGES), progress);

  progress('lab key, sudo password and host keys');
  const labPublicKey = await ensureLabKey(paths);
  const ops = await ensureOpsPassword(paths);
  await Promise.all(machines.map((h) => ensureHostKeys(hostPaths(paths, h.name))));
  const knownHosts = join(paths.root, 'known_hosts');
  await writeFile(knownHosts, await knownHostsText(paths, machines));

  // Hosts of a previous, larger lab that this one no longer has: stop and forget their layers
  // (their host keys stay, so a later `up` with them again keeps known_hosts valid).
  const wanted = new Set(plan.map((h) => h.name));
  for (const old of previous?.hosts ?? []) {
    if (wanted.has(old.name)) continue;
    progress(`removing ${old.name} (not in this lab)`);
    await retireHost(paths, old, { wipe: true, graceful: true });
  }
  // A host's layer holds what was installed over its base: on another release's base (or with
  // another db engine's packages) it would be neither bare nor that release, so it starts bare.
  const releaseChanged = previousRelease.distro !== release.distro || previousRelease.dbEngine !== release.dbEngine;
  if (previous && releaseChanged) {
    progress(`wiping ${previous.hosts.length} hosts of the ${previousRelease.distro}/${previousRelease.dbEngine} lab`);
    await Promise.all(machinesOf(previous).map((old) => retireHost(paths, old, { wipe: true, graceful: false })));
  }
  if (previous?.bastion && !bastion) {
    progress(`removing the bastion ${previous.bastion.address} (lab up without --bastion)`);
    await retireHost(paths, previous.bastion, { wipe: true, graceful: true });
  }

  progress(`bridge ${subnet.cidr}`);
  await ensureBridge(subnet, naming.bridge);
  await raiseInotifyLimits();

  const bootStarted = Date.now();
  progress(`booting ${plan.length} hosts${bastion ? ' and the bastion' : ''}`);
  const byName = new Map([...(previous?.hosts ?? []), ...(previous?.bastion ? [previous.bastion] : [])].map((h) => [h.name, h]));
  const pidOf = new Map<string, number | undefined>();
  await Promise.all(
    machines.map(async (host) => {
      const old = byName.get(host.name);
      let pid = old?.pid;
      const running = await isHostRunning(pid, host.machine);
      // A rebuilt repository is a new directory: a running host still sees the old (deleted) one.
      if (running && repo.built && pid) {
        await stopHost(pid, host.machine, { graceful: true, timeoutMs: GRACEFUL_STOP_MS });
      }
      if (!running || repo.built) {
        pid = await startHost(paths, host, naming.bridge, labPublicKey, ops.hash);
      }
      pidOf.set(host.name, pid);
    }),
  );
  const stateOf = (m: LabMachinePlan): LabStateMachine => ({ name: m.name, address: m.address, machine: m.machine, pid: pidOf.get(m.name) });
  await writeState(paths, {
    subnet: subnet.cidr,
    counts,
    ...release,
    hosts: plan.map((h) => ({ ...stateOf(h), role: h.role })),
    ...(bastion ? { bastion: stateOf(bastion) } : {}),
  });

  progress(`waiting for SSH on ${machines.length} machines`);
  await Promise.all(
    machines.map((h) =>
      waitForSsh(h, hostPaths(paths, h.name), { keyFile: paths.key, knownHosts }, sshTimeoutMs, () => isHostRunning(pidOf.get(h.name), h.machine)),
    ),
  );
  const bootMs = Date.now() - bootStarted;

  progress(`writing ${ctx.output.dir}/inventory.yaml`);
  await writeOutputs(ctx, plan, knownHosts, bastion);
  const status = await statusOf(paths);
  return {
    ...status,
    output: ctx.output,
    timings: { baseMs: base.ms, repoMs: repo.ms, bootMs, totalMs: Date.now() - started, baseBuilt: base.built, repoBuilt: repo.built },
    ...(repo.info.dbServer ? { dbServer: repo.info.dbServer } : {}),
  };
}

async function knownHostsText(paths: LabPaths, plan: readonly LabMachinePlan[]): Promise<string> {
  const entries = await Promise.all(plan.map(async (h) => ({ address: h.address, keys: await readHostPublicKeys(hostPaths(paths, h.name)) })));
  return renderKnownHosts(entries);
}

/** Mounts the host's overlay, gives a fresh layer its identity, and boots it. Returns the nspawn pid. */
async function startHost(paths: LabPaths, host: LabMachinePlan, bridge: string, labPublicKey: string, opsHash: string): Promise<number> {
  const hp = hostPaths(paths, host.name);
  await mountOverlay(paths.base, hp.upper, hp.work, hp.merged);
  const marker = identityMarker(paths, host.name);
  if (!(await exists(marker))) {
    await writeHostIdentity(hp, { host, prefixLength: 24, labPublicKey, opsPasswordHash: opsHash });
    await writeFile(marker, `${new Date().toISOString()}\n`);
  }
  return bootHost({ host, hp, repoDir: paths.repo, bridge });
}

/** Stops a host, unmounts its overlay and, with `wipe`, empties its upper layer (back to bare). */
async function retireHost(paths: LabPaths, host: LabStateMachine, mode: { wipe: boolean; graceful: boolean }): Promise<void> {
  if (host.pid) await stopHost(host.pid, host.machine, { graceful: mode.graceful, timeoutMs: GRACEFUL_STOP_MS });
  const hp = hostPaths(paths, host.name);
  await unmountUnder(hp.merged);
  if (mode.wipe) {
    await rm(identityMarker(paths, host.name), { force: true });
    await removeTree(hp.upper);
    await removeTree(hp.work);
  }
}

async function writeOutputs(ctx: Context, plan: readonly LabHostPlan[], knownHosts: string, bastion: LabMachinePlan | undefined): Promise<void> {
  const out = ctx.output;
  await mkdir(out.dir, { recursive: true });
  const stateRecipient = await readFile(`${ctx.paths.key}.pub`, 'utf8');
  const common = { subnet: ctx.subnet, hosts: plan, bridge: ctx.naming.bridge, stateRecipient, release: ctx.release, bastion: bastion?.address };
  await writeFile(out.inventory, renderLabInventory({ ...common, login: 'root' }));
  await writeFile(out.inventorySudo, renderLabInventory({ ...common, login: 'ops' }));
  await copyFile(knownHosts, out.knownHosts);
  await copyFile(ctx.paths.key, out.key);
  await chmod(out.key, 0o600);
  await copyFile(`${ctx.paths.key}.pub`, `${out.key}.pub`);
  await copyFile(ctx.paths.opsPassword, out.opsPassword);
  await chmod(out.opsPassword, 0o600);
}

/** The lab's machines: its hosts, and its bastion when it has one. */
function machinesOf(state: LabState): LabStateMachine[] {
  return [...state.hosts, ...(state.bastion ? [state.bastion] : [])];
}

async function anyRunning(state: LabState): Promise<boolean> {
  for (const h of machinesOf(state)) if (await isHostRunning(h.pid, h.machine)) return true;
  return false;
}

async function statusOf(paths: LabPaths): Promise<LabStatus> {
  const state = await readState(paths);
  if (!state) return { subnet: subnetFromEnv().cidr, release: { ...DEFAULT_RELEASE }, vip: null, hosts: [], bastion: null };
  const subnet = parseSubnet(state.subnet);
  const statusOfMachine = async (h: LabStateMachine, roles: string[]): Promise<LabHostStatus> => ({
    name: h.name,
    address: h.address,
    roles,
    state: (await isHostRunning(h.pid, h.machine)) ? 'running' : 'stopped',
    machine: h.machine,
  });
  const hosts = await Promise.all(state.hosts.map((h) => statusOfMachine(h, [h.role])));
  const bastion = state.bastion ? await statusOfMachine(state.bastion, []) : null;
  return { subnet: state.subnet, release: releaseOf(state), vip: vipOf(subnet, state.hosts), hosts, bastion };
}

/** The release a lab state records; a state written before releases were recorded is the default's. */
function releaseOf(state: LabState | undefined): LabRelease {
  return { distro: state?.distro ?? DEFAULT_RELEASE.distro, dbEngine: state?.dbEngine ?? DEFAULT_RELEASE.dbEngine };
}

/** Hosts, addresses, roles and whether each runs; reads the lab dir only (no root needed to read). */
export async function labStatus(opts: LabOptions = {}): Promise<LabStatus> {
  return statusOf(context(opts).paths);
}

/**
 * Stops every host (clean poweroff, forced after a timeout), unmounts every overlay and deletes
 * the bridge. Also stops nspawn processes of this lab that the state file lost track of.
 * Idempotent: a second `down` finds nothing to do.
 */
export async function labDown(opts: LabOptions = {}): Promise<LabStatus> {
  requireRoot();
  const ctx = context(opts);
  return withLabLock(ctx.paths.lock, async () => {
    const { paths, progress } = ctx;
    const state = await readState(paths);
    const machines = state ? machinesOf(state) : [];
    progress(`stopping ${machines.length} machines`);
    await Promise.all(machines.map((h) => retireHost(paths, h, { wipe: false, graceful: true })));
    for (const stray of await findNspawnProcesses(paths.hostsDir)) {
      await stopHost(stray.pid, stray.machine, { graceful: true, timeoutMs: GRACEFUL_STOP_MS });
    }
    await unmountUnder(paths.hostsDir);
    // An interrupted repo build leaves an overlay (and its chroot) mounted.
    await unmountUnder(paths.repoBuild);
    progress('deleting bridge');
    await deleteBridge(ctx.naming.bridge);
    if (state) await writeState(paths, withoutPids(state));
    return statusOf(paths);
  });
}

/**
 * Every host back to bare, fast: stop (forced — the layer is thrown away anyway), empty the upper
 * layer, write the identity again (same host keys), boot, wait for SSH. Used between test runs.
 */
export async function labReset(opts: LabUpOptions = {}): Promise<LabUpResult> {
  await preflight();
  const locking = context(opts);
  return withLabLock(locking.paths.lock, async () => {
    const state = await readState(locking.paths);
    if (!state || state.hosts.length === 0) {
      throw new UserError('there is no lab to reset; bring it up with `infra lab up`');
    }
    const kept = releaseOf(state);
    const ctx = context(opts, { distro: opts.distro ?? kept.distro, dbEngine: opts.dbEngine ?? kept.dbEngine });
    const counts = opts.counts ? toCounts(opts.counts) : countsOf(state);
    const withBastion = opts.bastion ?? state.bastion !== undefined;
    const subnetCtx = { ...ctx, subnet: parseSubnet(state.subnet) };
    // Wipe the machines the state knows and those the new counts add: a layer left on disk by a lab
    // whose state was lost must not come back as a "bare" host.
    const known = new Set(machinesOf(state).map((h) => h.name));
    const added = [...planHosts(counts, subnetCtx.subnet, ctx.naming), ...(withBastion ? [planBastion(subnetCtx.subnet, ctx.naming)] : [])].filter(
      (h) => !known.has(h.name),
    );
    const toWipe: LabStateMachine[] = [...machinesOf(state), ...added.map((h) => ({ name: h.name, address: h.address, machine: h.machine }))];
    ctx.progress(`wiping ${toWipe.length} machines`);
    await Promise.all(toWipe.map((h) => retireHost(ctx.paths, h, { wipe: true, graceful: false })));
    await writeState(ctx.paths, withoutPids(state));
    return upLocked(subnetCtx, counts, withBastion, opts.sshTimeoutMs ?? 180_000);
  });
}

export interface LabRebuildResult {
  host: LabHostStatus;
  /** The new host keys as OpenSSH fingerprints (`ssh-ed25519 SHA256:…`), to check on the "console". */
  fingerprints: string[];
}

/**
 * One host reinstalled from scratch, as after a new disk: stopped (forced), its layer emptied, new
 * SSH host keys and machine-id, booted bare. The lab's own known_hosts learns the new keys so the
 * lab still reaches it; the operator's copy (./lab/known_hosts) keeps the old ones, as an
 * operator's known_hosts would, until infra replaces them or the next `up` or `reset` rewrites it.
 */
export async function labRebuild(name: string, opts: LabOptions & { sshTimeoutMs?: number } = {}): Promise<LabRebuildResult> {
  await preflight();
  const locking = context(opts);
  return withLabLock(locking.paths.lock, async () => {
    const state = await readState(locking.paths);
    const ctx = context(opts, releaseOf(state));
    const { paths, progress } = ctx;
    const old = state?.hosts.find((h) => h.name === name);
    if (!state || !old) {
      throw new UserError(`the lab has no host ${name} (hosts: ${(state?.hosts ?? []).map((h) => h.name).join(', ') || 'none'})`);
    }
    if (!(await isHostRunning(old.pid, old.machine))) throw new UserError(`lab host ${name} is not running; bring the lab up with \`infra lab up\` first`);
    const plan = planHosts(countsOf(state), parseSubnet(state.subnet), ctx.naming);
    const host = plan.find((h) => h.name === name) as LabHostPlan;
    const hp = hostPaths(paths, name);

    progress(`stopping and wiping ${name}`);
    await retireHost(paths, old, { wipe: true, graceful: false });
    await rm(hp.sshKeys, { recursive: true, force: true });
    await rm(hp.machineId, { force: true });
    progress(`new host keys for ${name}`);
    const keys = await ensureHostKeys(hp);
    const knownHosts = join(paths.root, 'known_hosts');
    await writeFile(knownHosts, await knownHostsText(paths, [...plan, ...(state.bastion ? [planBastion(parseSubnet(state.subnet), ctx.naming)] : [])]));

    progress(`booting ${name}`);
    const pid = await startHost(paths, host, ctx.naming.bridge, await ensureLabKey(paths), (await ensureOpsPassword(paths)).hash);
    await writeState(paths, { ...state, hosts: state.hosts.map((h) => (h.name === name ? { ...h, pid } : h)) });
    progress(`waiting for SSH on ${name}`);
    await waitForSsh(host, hp, { keyFile: paths.key, knownHosts }, opts.sshTimeoutMs ?? 180_000, () => isHostRunning(pid, host.machine));
    const status = (await statusOf(paths)).hosts.find((h) => h.name === name) as LabHostStatus;
    return { host: status, fingerprints: keys.map((key) => `${key.type} ${fingerprintOf(Buffer.from(key.base64, 'base64'))}`) };
  });
}

/** The state of a lab none of whose machines runs. */
function withoutPids(state: LabState): LabState {
  const stopped = <T extends LabStateMachine>({ pid: _pid, ...machine }: T): Omit<T, 'pid'> => machine;
  return { ...state, hosts: state.hosts.map(stopped), ...(state.bastion ? { bastion: stopped(state.bastion) } : {}) };
}

function countsOf(state: LabState): LabCounts {
  const counts = Object.fromEntries(ROLES.map((role) => [role, 0])) as LabCounts;
  for (const h of state.hosts) counts[h.role]++;
  return counts;
}
