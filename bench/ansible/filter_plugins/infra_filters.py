"""Filters that give the playbook the same values infra computes (src/roles/sql.ts, app.ts)."""
import base64
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


# Edwards25519 (RFC 8032, section 5.1): the field prime, the curve constant d and the base point.
_P = 2 ** 255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_BASE = (15112221349535400772501151409588531511454012693041857206046113283949847762202,
         46316835694926478169428394003475163141307993866256225615783033603165251855960)


def _ed_add(p, q):
    """The unified addition of RFC 8032 (a = -1) in extended coordinates: it also doubles."""
    (x1, y1, z1, t1), (x2, y2, z2, t2) = p, q
    a, b = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    c, d = 2 * _D * t1 * t2 % _P, 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def mariadb_ed25519_hash(password):
    """MariaDB's ed25519 account hash, as infra computes it (src/roles/sql.ts ed25519PasswordHash)."""
    digest = bytearray(hashlib.sha512(password.encode()).digest()[:32])
    digest[0] &= 248
    digest[31] = (digest[31] & 127) | 64
    scalar = int.from_bytes(digest, 'little')
    result, addend = (0, 1, 1, 0), (_BASE[0], _BASE[1], 1, _BASE[0] * _BASE[1] % _P)
    while scalar:
        if scalar & 1:
            result = _ed_add(result, addend)
        addend = _ed_add(addend, addend)
        scalar >>= 1
    inverse = pow(result[2], _P - 2, _P)
    x, y = result[0] * inverse % _P, result[1] * inverse % _P
    return base64.b64encode((y | (x & 1) << 255).to_bytes(32, 'little')).decode().rstrip('=')


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
            'mariadb_ed25519_hash': mariadb_ed25519_hash,
            'systemd_env_value': systemd_env_value,
        }
