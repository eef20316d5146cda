import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  buildAptSources,
  DEFAULT_RELEASE,
  fallbackPins,
  packagePins,
  refusedVersions,
  releaseDirNames,
  repoPackages,
  suiteForPackage,
  versionInSuite,
} from '../../src/lab/distro.js';
import { renderLabInventory } from '../../src/lab/inventory-writer.js';
import { parseProcStat } from '../../src/lab/machine.js';
import { labPaths } from '../../src/lab/paths.js';
import { parseSubnet, planHosts } from '../../src/lab/plan.js';
import { debVersion } from '../../src/lab/repo.js';

const MIRROR = 'http://deb.debian.org/debian';
const SECURITY = 'http://deb.debian.org/debian-security';

// `apt-cache madison` in the repository build of a trixie base, sid pinned at 1 (as of this writing).
const MADISON_MYSQL = ' mysql-server |    9.7.4-2 | http://deb.debian.org/debian sid/main amd64 Packages\n';
const MADISON_MARIADB = [
  'mariadb-server | 1:11.8.3-0+deb13u1 | http://deb.debian.org/debian trixie/main amd64 Packages',
  'mariadb-server | 1:11.8.3-0+deb13u2 | http://deb.debian.org/debian-security trixie-security/main amd64 Packages',
  'mariadb-server | 1:11.8.5-3 | http://deb.debian.org/debian sid/main amd64 Packages',
].join('\n');

// What apt 3.0 printed for `install … mysql-server` with only mysql-server pinned to sid.
const APT_REFUSAL = `E: Unable to satisfy dependencies. Reached two conflicting decisions:
   1. libgoogle-perftools4t64:amd64=2.18.1-2 is not selected for install
   2. libgoogle-perftools4t64:amd64=2.18.1-2 is selected for install because:
      1. mysql-server:amd64=9.7.4-2 is selected for install
      2. mysql-server:amd64 Depends mysql-server-core (= 9.7.4-2)
      3. mysql-server-core:amd64 Depends libgoogle-perftools4t64 (>= 2.18.1)
          * In libc-bin:amd64 is available in versions 2.41-12+deb13u5, 2.43-7:
            - libc-bin:amd64=2.43-7 is not selected for install`;

describe('lab releases: where each keeps its base and repository', () => {
  it('bookworm with MariaDB keeps the folders it always had, so an existing cache stays valid', () => {
    expect(releaseDirNames(DEFAULT_RELEASE)).toEqual({ base: 'base', repo: 'repo' });
    expect(labPaths('/var/lib/infra-lab')).toMatchObject({ base: '/var/lib/infra-lab/base', repo: '/var/lib/infra-lab/repo' });
  });

  it("trixie has its own base, and each engine its own repository; bookworm with MySQL shares bookworm's base", () => {
    expect(releaseDirNames({ distro: 'trixie', dbEngine: 'mysql' })).toEqual({ base: 'base-trixie', repo: 'repo-trixie-mysql' });
    expect(releaseDirNames({ distro: 'trixie', dbEngine: 'mariadb' })).toEqual({ base: 'base-trixie', repo: 'repo-trixie-mariadb' });
    expect(releaseDirNames({ distro: 'bookworm', dbEngine: 'mysql' })).toEqual({ base: 'base', repo: 'repo-bookworm-mysql' });
    expect(labPaths('/l', { distro: 'trixie', dbEngine: 'mysql' })).toMatchObject({
      base: '/l/base-trixie',
      repo: '/l/repo-trixie-mysql',
      repoBuild: '/l/repo-build',
    });
  });
});

describe('lab repository build: the db server from the suite that ships it', () => {
  it('resolves from the release, its updates and security, and sid pinned so low that nothing comes from it unasked', () => {
    expect(buildAptSources('trixie', MIRROR, SECURITY, ['sid'])).toBe(
      [
        'deb http://deb.debian.org/debian trixie main',
        'deb http://deb.debian.org/debian trixie-updates main',
        'deb http://deb.debian.org/debian-security trixie-security main',
        'deb http://deb.debian.org/debian sid main',
        '',
      ].join('\n'),
    );
    expect(fallbackPins(['sid'])).toBe('Package: *\nPin: release n=sid\nPin-Priority: 1\n');
    expect(packagePins(['mysql-server', 'libstdc++6'], 'sid')).toBe(
      'Package: mysql-server\nPin: release n=sid\nPin-Priority: 990\n\nPackage: libstdc++6\nPin: release n=sid\nPin-Priority: 990\n',
    );
  });

  it('takes MySQL from sid (no stable release has it) and MariaDB from the release itself', () => {
    expect(suiteForPackage(MADISON_MYSQL, 'trixie', ['sid'])).toBe('sid');
    expect(suiteForPackage(MADISON_MARIADB, 'trixie', ['sid'])).toBe('trixie');
    expect(suiteForPackage('', 'trixie', ['sid'])).toBeUndefined();
  });

  it('reads the versions apt refused, and the version a suite offers', () => {
    expect(refusedVersions(APT_REFUSAL)).toEqual([
      { name: 'libgoogle-perftools4t64', version: '2.18.1-2' },
      { name: 'libc-bin', version: '2.43-7' },
    ]);
    expect(versionInSuite(MADISON_MARIADB, 'sid')).toBe('1:11.8.5-3');
    expect(versionInSuite(MADISON_MARIADB, 'trixie')).toBe('1:11.8.3-0+deb13u1');
    expect(versionInSuite(MADISON_MYSQL, 'trixie')).toBeUndefined();
  });

  it("holds the engine's server in place of the other (apt cannot install both)", () => {
    const roles = ['curl', 'mariadb-server', 'nginx', 'prometheus-mysqld-exporter'];
    expect(repoPackages(roles, 'mysql', ['python3-apt'])).toEqual(['curl', 'mysql-server', 'nginx', 'prometheus-mysqld-exporter', 'python3-apt']);
    expect(repoPackages(roles, 'mariadb', [])).toEqual(['curl', 'mariadb-server', 'nginx', 'prometheus-mysqld-exporter']);
  });

  it("reads the server's version from the downloaded file names, the epoch's colon unescaped", () => {
    expect(debVersion(['mysql-server-core_9.7.4-2_amd64.deb', 'mysql-server_9.7.4-2_all.deb'], 'mysql-server')).toBe('9.7.4-2');
    expect(debVersion(['mariadb-server_1%3a11.8.3-0+deb13u1_amd64.deb'], 'mariadb-server')).toBe('1:11.8.3-0+deb13u1');
    expect(debVersion([], 'mysql-server')).toBeUndefined();
  });
});

describe('lab inventory: the db engine', () => {
  const subnet = parseSubnet('10.81.0.0/24');
  const hosts = planHosts({ lb: 0, web: 1, app: 1, db: 2, monitor: 0 }, subnet);
  const render = (dbEngine: 'mariadb' | 'mysql') =>
    parse(renderLabInventory({ subnet, hosts, login: 'root', bridge: 'dlab-br0', release: { distro: 'trixie', dbEngine } })) as Record<string, any>;

  it("pins MySQL (a bare host, without apt lists yet, cannot tell it from the release's MariaDB), pins nothing for MariaDB, and names the release in its header", () => {
    expect(render('mysql').role_vars).toEqual({ lb: { vrrp_interface: 'host0' }, db: { db_engine: 'mysql' } });
    expect(render('mariadb').role_vars).toEqual({ lb: { vrrp_interface: 'host0' } });
    expect(renderLabInventory({ subnet, hosts, login: 'root', bridge: 'dlab-br0', release: { distro: 'trixie', dbEngine: 'mysql' } })).toContain(
      '\n# Hosts: Debian 13 (trixie); db hosts: mysql.\n',
    );
  });
});

describe('lab down: when an nspawn process has exited', () => {
  it('reads state, parent and start time after the command name, which may hold spaces and parentheses', () => {
    const stat = '4242 (systemd-nspawn (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615';
    expect(parseProcStat(stat)).toEqual({ state: 'S', ppid: 1, startTime: '987654' });
    expect(parseProcStat(stat.replace(') S 1', ') Z 1')).state).toBe('Z');
  });
});
