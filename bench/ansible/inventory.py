#!/usr/bin/env python3
"""Dynamic Ansible inventory read from infra's own inventory file.

The file is $INFRA_INVENTORY (default: lab/inventory.yaml of this repository). Hosts land in one
group per role (lb, web, app, db). Both tools use the same secrets and certificates: infra's state
directory (`state_dir`, default .infra beside the inventory) holds them, and this script passes
only their paths and sources on, never their values, so `ansible-inventory --list` shows no secret.

Only what the lab exercises is supported: Debian hosts (MariaDB), `tls.source: ca`, host keys
checked against a known_hosts file. Anything else stops with a message rather than building a
stack that differs from infra's.
"""
import hashlib
import json
import os
import stat
import sys

import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ROLES = ('lb', 'web', 'app', 'db')
# infra leaves these out of an app release (src/roles/app.ts): caches and version control.
IGNORED_APP_NAMES = {'__pycache__', '.git', '.pytest_cache'}


def fail(message):
    sys.stderr.write(f'inventory.py: {message}\n')
    sys.exit(1)


def resolve_path(base_dir, path):
    if path == '~' or path.startswith('~/'):
        return os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def secret_source(spec, key, base_dir, state_dir):
    """Where a secret comes from, as the playbook's secret lookups read it (group_vars/all.yml)."""
    spec = spec if spec is not None else 'generate'
    if spec == 'generate':
        # infra's generated secrets: <state_dir>/secrets/<inventory key>, the value on line 1.
        return {'file': os.path.join(state_dir, 'secrets', key)}
    if spec.startswith('file:'):
        return {'file': resolve_path(base_dir, spec[len('file:'):])}
    if spec.startswith('env:'):
        return {'env': spec[len('env:'):]}
    fail(f'{key}: unknown secret source {spec!r}')


def app_release(source_dir):
    """The app's files and release id exactly as infra computes them (readAppSource, releaseId)."""
    files = []

    def walk(relative):
        for name in sorted(os.listdir(os.path.join(source_dir, relative))):
            if name in IGNORED_APP_NAMES or name.endswith('.pyc'):
                continue
            path = f'{relative}/{name}' if relative else name
            info = os.stat(os.path.join(source_dir, path))
            if stat.S_ISDIR(info.st_mode):
                walk(path)
            else:
                mode = '0755' if info.st_mode & 0o111 else '0644'
                with open(os.path.join(source_dir, path), 'rb') as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                files.append({'path': path, 'mode': mode, 'sha256': digest})

    walk('')
    release = hashlib.sha256()
    for file in files:
        release.update(f"{file['path']}\0{file['mode']}\0".encode())
        release.update((file['sha256'] + '\n').encode())
    directories = sorted({os.path.dirname(f['path']) for f in files} - {''})
    return release.hexdigest()[:12], [{'path': f['path'], 'mode': f['mode']} for f in files], directories


def layered_vars(data, name, host):
    """infra's vars layers: vars < role_vars.<role> (lb, web, app, db) < groups (file order) < host."""
    merged = dict(data.get('vars') or {})
    for role in ROLES:
        if role in host['roles']:
            merged.update((data.get('role_vars') or {}).get(role) or {})
    for group in (data.get('groups') or {}).values():
        if name in group.get('hosts', []):
            merged.update(group.get('vars') or {})
    merged.update(host.get('vars') or {})
    return merged


def connection_vars(data, host, base_dir):
    ssh = {**(data.get('ssh') or {}), **(host.get('ssh') or {})}
    if 'host_key' in ssh:
        fail('ssh.host_key pins are not supported here: give the host key in a known_hosts file')
    known_hosts = resolve_path(base_dir, ssh.get('known_hosts', '~/.ssh/known_hosts'))
    result = {
        'ansible_host': host['address'],
        'ansible_port': ssh.get('port', 22),
        'ansible_user': ssh.get('user', 'root'),
        'ansible_ssh_private_key_file': resolve_path(base_dir, ssh.get('identity_file', '~/.ssh/id_ed25519')),
        'ansible_ssh_timeout': ssh.get('connect_timeout', 10),
        # The same known_hosts infra verifies against; a host missing from it is refused.
        'ansible_ssh_extra_args': f'-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes',
    }
    if result['ansible_user'] != 'root':
        result['ansible_become'] = True
        password = (ssh.get('sudo') or {}).get('password')
        if password is not None:
            result['become_password_source'] = secret_source(password, 'ssh.sudo.password', base_dir, None)
    return result


def build(path):
    with open(path, encoding='utf-8') as handle:
        data = yaml.safe_load(handle)
    base_dir = os.path.dirname(path)
    state_dir = resolve_path(base_dir, data.get('state_dir', '.infra'))
    tls = data.get('tls') or {}
    if tls.get('source', 'ca') != 'ca':
        fail('tls.source: files is not supported here; use infra\'s CA (tls.source: ca)')
    db = data['db']
    app = data['app']
    hosts = data['hosts']
    address = {name: host['address'] for name, host in hosts.items()}
    release, app_files, app_directories = app_release(resolve_path(base_dir, app['source']))

    inventory = {role: {'hosts': [name for name, host in hosts.items() if role in host['roles']]} for role in ROLES}
    monitoring = data.get('monitoring') or {}
    inventory['all'] = {
        'vars': {
            'domain': data['domain'],
            'vip': data.get('vip'),
            'vip_prefix': data.get('vip_prefix', 24),
            'admin_sources': data['firewall']['admin_sources'],
            'monitoring_sources': monitoring.get('sources', data['firewall']['admin_sources']),
            'infra_state_dir': state_dir,
            'db_name': db.get('name', 'app'),
            'db_user': db.get('user', 'app'),
            'db_primary': db['primary'],
            'db_primary_address': address[db['primary']],
            'db_replica_addresses': [address[name] for name in db.get('replicas', [])],
            'db_password_source': secret_source(db.get('password'), 'db.password', base_dir, state_dir),
            'db_replication_password_source': secret_source(db.get('replication_password'), 'db.replication_password', base_dir, state_dir),
            'db_exporter_password_source': secret_source('generate', 'db.exporter_password', base_dir, state_dir),
            'app_source': resolve_path(base_dir, app['source']),
            'app_port': app.get('port', 8000),
            'app_keep_releases': app.get('keep_releases', 5),
            'app_release': release,
            'app_files': app_files,
            'app_directories': app_directories,
        }
    }
    hostvars = {}
    db_hosts = inventory['db']['hosts']
    for name, host in hosts.items():
        infra_vars = layered_vars(data, name, host)
        if 'db' in host['roles'] and infra_vars.get('os_family', 'debian') != 'debian':
            fail(f'{name}: os_family {infra_vars["os_family"]!r}: only Debian (MariaDB) db hosts are supported here')
        hostvars[name] = {
            **connection_vars(data, host, base_dir),
            'address': host['address'],
            'ssh_port': {**(data.get('ssh') or {}), **(host.get('ssh') or {})}.get('port', 22),
            # firewall.extra_rules that name this host, one of its groups or roles (or no hosts).
            'firewall_extra_rules': [
                {'port': rule['port'], 'proto': rule.get('proto', 'tcp'), 'from': rule.get('from', 'any')}
                for rule in (data['firewall'].get('extra_rules') or [])
                if rule.get('hosts') is None or any(
                    target == name or target in host['roles'] or name in ((data.get('groups') or {}).get(target) or {}).get('hosts', [])
                    for target in rule['hosts'])
            ],
            'vrrp_interface': infra_vars.get('vrrp_interface', 'eth0'),
            'vrrp_router_id': infra_vars.get('vrrp_router_id', 51),
            # Stable while the inventory lists the db hosts in the same order, as in infra.
            'db_server_id': db_hosts.index(name) + 1 if name in db_hosts else None,
            'tls_certificate_file': os.path.join(state_dir, 'tls', f'{name}.crt'),
            'tls_key_file': os.path.join(state_dir, 'tls', f'{name}.key'),
            'tls_ca_file': os.path.join(state_dir, 'ca', 'ca.crt'),
            # infra's db certificates (src/tls/db.ts): always from its CA, whatever tls.source says.
            'db_tls_certificate_file': os.path.join(state_dir, 'db-tls', f'{name}.crt'),
            'db_tls_key_file': os.path.join(state_dir, 'db-tls', f'{name}.key'),
        }
    inventory['_meta'] = {'hostvars': hostvars}
    return inventory


def main():
    path = os.environ.get('INFRA_INVENTORY', os.path.join(REPO_ROOT, 'lab', 'inventory.yaml'))
    path = os.path.abspath(path)
    if len(sys.argv) > 1 and sys.argv[1] == '--host':
        print('{}')
        return
    try:
        inventory = build(path)
    except FileNotFoundError as error:
        fail(f'{error.filename}: not found (set INFRA_INVENTORY to infra\'s inventory file)')
    except KeyError as error:
        fail(f'{path}: missing key {error}; check it with `infra validate`')
    json.dump(inventory, sys.stdout, indent=1)


if __name__ == '__main__':
    main()
