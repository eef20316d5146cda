import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { APP_ENV_FILE } from '../../src/roles/app.js';
import { TLS_DIR } from '../../src/roles/web.js';
import { LAB_INVENTORY, labHosts, mustOnHost, onHost, runInfra, waitFor, type LabHost, told } from './helpers.js';

/**
 * infra's root writes on real hosts, against a local user. Starting point: the stack converged by
 * 30-stack.test.ts; every test leaves it converged (`infra check` exit 0).
 * - The mysqld exporter runs as `prometheus`, whose home Debian's package gives it. That user plants
 *   links where infra's write of the exporter's credentials could follow them, then root makes
 *   infra rewrite them: the link's root-owned target must stay untouched.
 * - A folder on the way to a managed file made writable by `prometheus`: the run refuses, naming
 *   the path and the folder, and writes nothing.
 * - While infra rewrites every secret file (exporter credentials, app.env, TLS key), a watcher as
 *   `nobody` opens every entry of their folders as soon as it appears or changes (inotify, and a
 *   listing every 20 ms): it must never get one holding a secret.
 */

let hosts: LabHost[];
let db: LabHost;
let app: LabHost;
let web: LabHost;
let keyFile: string;

/** A root-only file standing for /etc/shadow: what a planted link points at. */
const TARGET = '/root/infra-target';

/** Where the exporter reads its credentials, from its options as infra wrote them. */
async function exporterCredentials(): Promise<string> {
  const args = await mustOnHost(db.address, '. /etc/default/prometheus-mysqld-exporter && echo "$ARGS"');
  const path = args.match(/--config\.my-cnf=(\S+)/)?.[1];
  if (!path) throw new Error(`the exporter's options name no credentials file: ${args}`);
  return path;
}

async function provision(): Promise<{ code: number; output: string }> {
  const result = await runInfra(['provision', LAB_INVENTORY, '--yes']);
  return { code: result.code, output: result.stdout + result.stderr };
}

async function expectConverged(): Promise<void> {
  const check = await runInfra(['check', LAB_INVENTORY]);
  expect(check.code, told(check)).toBe(0);
}

/** sha256, mode, owner and type of the target, as root sees it. */
const targetState = () => mustOnHost(db.address, `sha256sum ${TARGET} && stat -c '%a %U:%G %F' ${TARGET}`);

/** Runs a command as the prometheus user; the answer says whether it was allowed. */
const asPrometheus = (command: string) => onHost(db.address, `runuser -u prometheus -- sh -c '${command}'`);

beforeAll(async () => {
  hosts = await labHosts();
  const first = (role: string) => {
    const host = hosts.find((h) => h.roles.includes(role));
    if (!host) throw new Error(`the lab has no ${role} host`);
    return host;
  };
  [db, app, web] = [first('db'), first('app'), first('web')];
  const inventory = parse(await readFile(LAB_INVENTORY, 'utf8')) as { domain: string };
  keyFile = `${TLS_DIR}/${inventory.domain}.key`;
  await mustOnHost(db.address, `printf 'root only\\n' > ${TARGET} && chmod 0600 ${TARGET}`);
});

afterAll(async () => {
  if (!db) return;
  await onHost(db.address, `rm -f ${TARGET}; chown root:root /etc/default; chmod 0755 /etc/default`);
});

describe('a link planted by the prometheus user', () => {
  it("next to the exporter's credentials, as infra rewrites them, leaves its root-owned target untouched", async () => {
    const credentials = await exporterCredentials();
    const before = await targetState();
    // The names the old write followed: its temp file, its backup; and any name in the folder.
    const planted = [`${credentials}.infra-new`, `${credentials}.infra-bak`, `${credentials.replace(/[^/]+$/, '')}.infra-link`];
    for (const link of planted) await asPrometheus(`ln -s ${TARGET} ${link}`);
    // Root changes the file's mode, so the next run rewrites it.
    await mustOnHost(db.address, `chmod 0400 ${credentials}`);

    const run = await provision();

    expect(run.code, run.output).toBe(0);
    expect(await targetState()).toBe(before);
    expect(await mustOnHost(db.address, `stat -c '%a %U:%G %F' ${credentials}`)).toBe('640 root:prometheus regular file\n');
    await mustOnHost(db.address, `rm -f ${planted.join(' ')}`);
    await expectConverged();
  });

  it('in a folder of a managed file that prometheus can write to: the run refuses naming both, and writes nothing', async () => {
    const defaults = '/etc/default/prometheus-mysqld-exporter';
    const before = await targetState();
    const file = await mustOnHost(db.address, `sha256sum ${defaults}`);
    await mustOnHost(db.address, 'chgrp prometheus /etc/default && chmod 0775 /etc/default');
    const plant = await asPrometheus(`ln -s ${TARGET} ${defaults}.infra-new`);
    expect(plant.code, plant.stderr).toBe(0);
    await mustOnHost(db.address, `chmod 0600 ${defaults}`);

    const refused = await provision();

    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain(`refusing to write ${defaults}: /etc/default (owner root, mode 775) can be changed by a user other than root`);
    expect(await targetState()).toBe(before);
    expect(await mustOnHost(db.address, `sha256sum ${defaults} && stat -c '%a' ${defaults}`)).toBe(`${file}600\n`);

    await mustOnHost(db.address, `chgrp root /etc/default && chmod 0755 /etc/default && rm -f ${defaults}.infra-new`);
    const repaired = await provision();
    expect(repaired.code, repaired.output).toBe(0);
    await expectConverged();
  });
});

/**
 * Runs as `nobody`: watches the folders given (inotify), and opens for reading every entry as soon
 * as it is created, renamed in, written or changes mode, and every entry a listing finds every 20
 * ms. At the stop file it prints, for each entry it could open, whether what it holds (read through
 * the open descriptor, so the file's last content) has a secret in it.
 */
const WATCHER = String.raw`
import ctypes, os, select, struct, sys, time
stop, folders = sys.argv[1], sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
watched = {}
for folder in folders:
    wd = libc.inotify_add_watch(fd, folder.encode(), 0x2 | 0x4 | 0x8 | 0x80 | 0x100)
    if wd < 0:
        sys.exit('cannot watch ' + folder)
    watched[wd] = folder
held = {}
def attempt(path):
    if path not in held:
        try:
            held[path] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            pass
print('ready', flush=True)
listed = 0
while not os.path.exists(stop):
    if select.select([fd], [], [], 0.02)[0]:
        data = os.read(fd, 65536)
        i = 0
        while i < len(data):
            wd, mask, cookie, size = struct.unpack_from('iIII', data, i)
            name = data[i + 16:i + 16 + size].rstrip(b'\0').decode()
            i += 16 + size
            if name:
                attempt(os.path.join(watched[wd], name))
    if time.monotonic() - listed > 0.02:
        listed = time.monotonic()
        for folder in folders:
            for name in os.listdir(folder):
                attempt(os.path.join(folder, name))
for path, descriptor in sorted(held.items()):
    try:
        os.lseek(descriptor, 0, 0)
        content = os.read(descriptor, 1 << 20)
    except OSError:
        continue
    secret = b'password' in content or b'PASSWORD' in content or b'PRIVATE KEY' in content
    print(('SECRET ' if secret else 'opened ') + path, flush=True)
print('done', flush=True)
`;

interface Watch {
  host: LabHost;
  folders: string[];
}

async function startWatcher({ host, folders }: Watch): Promise<void> {
  const script = Buffer.from(WATCHER).toString('base64');
  await mustOnHost(
    host.address,
    `cd /tmp && rm -f /tmp/infra-watch-stop /tmp/infra-watch.out && echo ${script} | base64 -d > /tmp/infra-watch.py && ` +
      `{ setsid runuser -u nobody -- python3 /tmp/infra-watch.py /tmp/infra-watch-stop ${folders.join(' ')} > /tmp/infra-watch.out 2>&1 < /dev/null & }`,
  );
  await waitFor(`the watcher on ${host.name}`, async () => (await onHost(host.address, 'cat /tmp/infra-watch.out')).stdout.includes('ready'), 15_000);
}

/** What the watcher could open, as `host: path`: entries holding a secret, and the others. */
async function stopWatcher({ host }: Watch): Promise<{ secret: string[]; opened: string[] }> {
  await mustOnHost(host.address, 'touch /tmp/infra-watch-stop');
  await waitFor(`the watcher on ${host.name} to finish`, async () => (await onHost(host.address, 'cat /tmp/infra-watch.out')).stdout.includes('done'), 15_000);
  const lines = (await mustOnHost(host.address, 'cat /tmp/infra-watch.out; rm -f /tmp/infra-watch.py /tmp/infra-watch.out /tmp/infra-watch-stop'))
    .trim()
    .split('\n');
  const entries = (tag: string) => lines.filter((line) => line.startsWith(tag)).map((line) => `${host.name}: ${line.slice(tag.length)}`);
  return { secret: entries('SECRET '), opened: entries('opened ') };
}

describe('secret files being rewritten', () => {
  it('are never readable by another user: not staged, not activated, not in between', async () => {
    const credentials = await exporterCredentials();
    const secrets = [
      { host: db, file: credentials },
      { host: app, file: APP_ENV_FILE },
      { host: web, file: keyFile },
    ];
    const watches: Watch[] = secrets.map(({ host, file }) => ({ host, folders: [file.replace(/\/[^/]+$/, '')] }));
    for (const watch of watches) await startWatcher(watch);
    // A mode that still keeps others out, but differs: each file is rewritten.
    for (const { host, file } of secrets) await mustOnHost(host.address, `chmod 0400 ${file}`);

    const run = await provision();
    const seen = await Promise.all(watches.map(stopWatcher));

    expect(run.code, run.output).toBe(0);
    // The watcher works: it opens what anyone may read there, the web host's certificate.
    expect(seen.flatMap((watch) => watch.opened)).toContain(`${web.name}: ${keyFile.replace(/\.key$/, '.crt')}`);
    for (const { host, file } of secrets) {
      expect((await mustOnHost(host.address, `stat -c '%a' ${file}`)).trim(), `${host.name}:${file}`).not.toBe('400');
    }
    expect(
      seen.flatMap((watch) => watch.secret),
      'files holding a secret that the user nobody could open while infra wrote them',
    ).toEqual([]);
    await expectConverged();
  });
});
