"""Filters that give the playbook the same values infra computes (src/roles/sql.ts, app.ts)."""
import hashlib
import os

from ansible.errors import AnsibleFilterError


def secret_value(source):
    """A secret from its source as inventory.py gives it: {file: PATH} (first line) or {env: NAME}."""
    if 'env' in source:
        value = os.environ.get(source['env'], '')
        if not value:
            raise AnsibleFilterError(f"environment variable {source['env']} is not set")
        return value
    path = source['file']
    try:
        with open(path, encoding='utf-8') as handle:
            value = handle.readline().rstrip('\r\n')
    except FileNotFoundError:
        raise AnsibleFilterError(
            f'{path} does not exist: infra keeps its generated secrets and certificates in its state directory; '
            'create them without touching any host with `node bin/infra render INVENTORY --out $(mktemp -d)`')
    if not value:
        raise AnsibleFilterError(f'{path} is empty')
    return value


def mysql_native_password_hash(password):
    """`*` + upper-case hex SHA1(SHA1(password)): accounts are created from the hash, never the clear text."""
    return '*' + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def systemd_env_value(value):
    """A value for a systemd EnvironmentFile: double-quoted with \\ " $ ` escaped, as infra writes it."""
    value = str(value)
    if '\n' in value or '\r' in value:
        raise AnsibleFilterError('an environment value cannot contain a line break')
    return '"' + ''.join('\\' + char if char in '\\"$`' else char for char in value) + '"'


class FilterModule:
    def filters(self):
        return {
            'secret_value': secret_value,
            'mysql_native_password_hash': mysql_native_password_hash,
            'systemd_env_value': systemd_env_value,
        }
