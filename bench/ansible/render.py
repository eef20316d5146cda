#!/usr/bin/env python3
"""What the playbook writes on every host, rendered locally without Ansible and without a host.

The counterpart of `infra render`: for each host, the files of every `template` and `copy` task
(content, mode, owner, group), the links and directories of `file` tasks, and the paths they
remove, as site.yml's plays reach them. The inventory is inventory.py's (INFRA_INVENTORY), the
templates are rendered with Jinja2 the way Ansible's template module renders them (trim_blocks,
trailing newlines kept, None rendered as an empty string), and variables are resolved with
Ansible's precedence and its lazy templating (inventory < group_vars/all.yml < host vars < role
vars < block vars < task vars < loop item; a templated value that reads as a list, dict or
boolean becomes one). The filters are the project's own (filter_plugins) and the few of Ansible's
that the plays use.

A task that depends on what the host holds (it names a variable that a task registers at run time,
such as the release history read from the host) cannot be rendered here: it is listed under
"host_dependent" with its name, not guessed, unless --host-state gives those registered results.

Usage: INFRA_INVENTORY=inventory.yaml render.py --out DIR    (prints the manifest as JSON; the
files' contents go to DIR/<host>/<path>). Used by test/unit/ansible-parity.test.ts, which compares
this with infra's own rendering.
"""
import argparse
import ast
import base64
import importlib.util
import json
import os
import re
import sys
import types
from collections.abc import Mapping

import jinja2
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The filter plugins import ansible.errors: without Ansible, a stand-in with the same name.
class AnsibleFilterError(Exception):
    pass


if 'ansible' not in sys.modules:
    try:
        import ansible.errors  # noqa: F401  (Ansible is installed: use its own)
    except ImportError:
        package = types.ModuleType('ansible')
        errors = types.ModuleType('ansible.errors')
        errors.AnsibleFilterError = AnsibleFilterError
        package.errors = errors
        sys.modules['ansible'] = package
        sys.modules['ansible.errors'] = errors

inventory_script = load_module('infra_inventory', os.path.join(HERE, 'inventory.py'))
project_filters = load_module('infra_filters', os.path.join(HERE, 'filter_plugins', 'infra_filters.py')).FilterModule().filters()


class HostDependent(Exception):
    """A task needs a variable that only a run on the host gives (a registered result)."""


# --- Ansible's templating, as far as the plays use it -------------------------------------------

_JSON_NAMES = {'true': True, 'false': False, 'null': None}


class _JsonNames(ast.NodeTransformer):
    def visit_Name(self, node):
        return ast.Constant(value=_JSON_NAMES[node.id]) if node.id in _JSON_NAMES else node


def convert(text):
    """ansible_eval_concat (ansible-core 2.14): a rendered value that reads as a list, dict or bool becomes one."""
    if text.startswith(('{', '[')) or text in ('True', 'False'):
        try:
            return ast.literal_eval(ast.fix_missing_locations(_JsonNames().visit(ast.parse(text, mode='eval'))))
        except (TypeError, ValueError, SyntaxError, MemoryError):
            pass
    return text


def flatten(value, levels=None):
    result = []
    for item in value:
        if isinstance(item, (list, tuple)) and (levels is None or levels > 0):
            result.extend(flatten(item, None if levels is None else levels - 1))
        else:
            result.append(item)
    return result


def extract(item, container, morekeys=None):
    value = container[item]
    for key in ([] if morekeys is None else morekeys if isinstance(morekeys, list) else [morekeys]):
        value = value[key]
    return value


def regex_replace(value, pattern, replacement='', ignorecase=False, multiline=False):
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.sub(pattern, replacement, str(value), flags=flags)


def to_bool(value):
    if isinstance(value, bool):
        return value
    return str(value).lower() in ('yes', 'on', '1', 'true', 'y')


ANSIBLE_FILTERS = {
    'flatten': flatten,
    'extract': extract,
    'regex_replace': regex_replace,
    'bool': to_bool,
    'difference': lambda a, b: [x for x in dict.fromkeys(a) if x not in b],
    'union': lambda a, b: list(dict.fromkeys(list(a) + list(b))),
    'intersect': lambda a, b: [x for x in dict.fromkeys(a) if x in b],
    'basename': os.path.basename,
    'dirname': os.path.dirname,
    'to_json': json.dumps,
    'b64decode': lambda value: base64.b64decode(value).decode('utf-8'),
}
ANSIBLE_TESTS = {
    'match': lambda value, pattern: re.match(pattern, str(value)) is not None,
    'search': lambda value, pattern: re.search(pattern, str(value)) is not None,
    'regex': lambda value, pattern: re.search(pattern, str(value)) is not None,
}


class Undefined(jinja2.StrictUndefined):
    """Undefined as Ansible's: an error when used, except by `default` and `is defined`."""


def make_environment():
    # Ansible's template module: trim_blocks on, lstrip_blocks off; None renders as ''.
    env = jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        undefined=Undefined,
        finalize=lambda value: '' if value is None else value,
        loader=jinja2.FileSystemLoader('/'),
    )
    env.filters.update(ANSIBLE_FILTERS)
    env.filters.update(project_filters)
    env.tests.update(ANSIBLE_TESTS)
    return env


ENV = make_environment()


def is_template(value):
    return isinstance(value, str) and ('{{' in value or '{%' in value)


class Vars(Mapping):
    """One host's variables in layers, templated when read (Ansible's lazy templating)."""

    def __init__(self, layers, registered=frozenset()):
        self.layers = layers  # lowest precedence first
        self.registered = registered
        self._resolving = set()

    def with_layer(self, layer):
        return Vars(self.layers + [layer], self.registered)

    def raw(self, key):
        for layer in reversed(self.layers):
            if key in layer:
                return layer[key]
        if key in self.registered:
            raise HostDependent(key)
        raise KeyError(key)

    def __getitem__(self, key):
        value = self.raw(key)
        if key in self._resolving:
            raise RecursionError(f'variable {key} refers to itself')
        self._resolving.add(key)
        try:
            return self.template(value)
        finally:
            self._resolving.discard(key)

    def __contains__(self, key):
        try:
            self.raw(key)
            return True
        except KeyError:
            return False

    def __iter__(self):
        return iter({key for layer in self.layers for key in layer})

    def __len__(self):
        return len(set(self))

    def template(self, value):
        if isinstance(value, str):
            if not is_template(value):
                return value
            return convert(self.render_string(value))
        if isinstance(value, list):
            return [self.template(item) for item in value]
        if isinstance(value, dict):
            return {key: self.template(item) for key, item in value.items()}
        return value

    def render_string(self, text):
        try:
            return render(ENV.from_string(text), self)
        except jinja2.UndefinedError as error:
            name = re.search(r"'([^']+)' is undefined", str(error))
            if name and name.group(1) in self.registered:
                raise HostDependent(name.group(1)) from None
            raise

    def render_file(self, path):
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        # Ansible's template module keeps the template's trailing newlines, as keep_trailing_newline does.
        return render(ENV.from_string(text), self)


class Context(Mapping):
    """What a template sees: every variable, templated only when the template reads it, and Jinja's globals."""

    def __init__(self, host_vars):
        self.host_vars = host_vars

    def __getitem__(self, key):
        if key in self.host_vars:
            return self.host_vars[key]
        return ENV.globals[key]

    def __contains__(self, key):
        return key in self.host_vars or key in ENV.globals

    def __iter__(self):
        return iter(set(self.host_vars) | set(ENV.globals))

    def __len__(self):
        return len(set(self))


def render(template, host_vars):
    # As Ansible does: the variables are the context's parent, not copied into it, so that only the
    # ones the template reads are templated.
    return ENV.concat(template.root_render_func(template.new_context(Context(host_vars), shared=True)))


class HostVarsView(Mapping):
    """`hostvars`: every host's variables by name."""

    def __init__(self, hosts):
        self.hosts = hosts

    def __getitem__(self, name):
        return self.hosts[name]

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)


# --- The plays ------------------------------------------------------------------------------------

FILE_MODULES = ('ansible.builtin.template', 'template', 'ansible.builtin.copy', 'copy', 'ansible.builtin.file', 'file')
TASK_KEYWORDS = {
    'name', 'when', 'loop', 'loop_control', 'vars', 'notify', 'register', 'diff', 'no_log', 'changed_when', 'failed_when',
    'check_mode', 'until', 'retries', 'delay', 'listen', 'throttle', 'delegate_to', 'become', 'tags', 'ignore_errors',
    'run_once', 'environment', 'any_errors_fatal',
}


def module_of(task):
    modules = [key for key in task if key not in TASK_KEYWORDS and key not in ('block', 'rescue', 'always')]
    return modules[0] if modules else None


def registered_names(tasks):
    """Every variable a task registers or sets at run time, in these tasks and their blocks."""
    names = set()
    for task in tasks or []:
        if 'register' in task:
            names.add(task['register'])
        for key in ('block', 'rescue', 'always'):
            names |= registered_names(task.get(key))
        facts = task.get('ansible.builtin.set_fact') or task.get('set_fact')
        if isinstance(facts, dict):
            names |= set(facts)
    return names


def load_yaml(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle) or []


class Renderer:
    def __init__(self, inventory_path, host_state=None):
        os.environ['INFRA_INVENTORY'] = inventory_path
        self.inventory = inventory_script.build(os.path.abspath(inventory_path))
        meta = self.inventory.pop('_meta')['hostvars']
        all_vars = self.inventory.pop('all').get('vars', {})
        group_vars = load_yaml(os.path.join(HERE, 'group_vars', 'all.yml')) or {}
        self.groups = {name: list(group['hosts']) for name, group in self.inventory.items()}
        self.groups['all'] = list(meta)
        self.groups['ungrouped'] = [name for name in meta if not any(name in hosts for group, hosts in self.groups.items() if group != 'all')]
        registered = set()
        for root, _, files in os.walk(os.path.join(HERE, 'roles')):
            for name in files:
                if name.endswith('.yml') and os.path.basename(root) in ('tasks', 'handlers'):
                    registered |= registered_names(load_yaml(os.path.join(root, name)))
        registered |= registered_names([task for play in load_yaml(os.path.join(HERE, 'site.yml')) for task in play.get('tasks', [])])
        self.hosts = {}
        hostvars = HostVarsView(self.hosts)
        for name, own in meta.items():
            magic = {
                'inventory_hostname': name,
                'groups': self.groups,
                'group_names': sorted(group for group, hosts in self.groups.items() if name in hosts and group not in ('all', 'ungrouped')),
                'hostvars': hostvars,
                'ansible_check_mode': False,
            }
            # What tasks would register on the host, when the caller says what the host holds.
            state = (host_state or {}).get(name, {})
            self.hosts[name] = Vars([magic, all_vars, group_vars, own, state], frozenset(registered))
        self.results = {name: {'files': {}, 'links': {}, 'directories': {}, 'absent': [], 'host_dependent': []} for name in meta}

    def run(self):
        for play in load_yaml(os.path.join(HERE, 'site.yml')):
            hosts = self.groups[play['hosts']]
            for name in hosts:
                base = self.hosts[name].with_layer(play.get('vars') or {})
                for role in play.get('roles', []):
                    self.role(name, base, role, 'main')
                for task in play.get('tasks', []):
                    self.task(name, base, task, [], None)
        return self.results

    def role_var(self, role, name):
        """A variable of a role's vars/main.yml as every host of the plays that run the role sees it."""
        values = {}
        for play in load_yaml(os.path.join(HERE, 'site.yml')):
            if role not in play.get('roles', []):
                continue
            role_vars = load_yaml(os.path.join(HERE, 'roles', role, 'vars', 'main.yml'))
            for host in self.groups[play['hosts']]:
                values[host] = self.hosts[host].with_layer(play.get('vars') or {}).with_layer(role_vars)[name]
        return values

    def role(self, host, base, role, tasks_from):
        role_dir = os.path.join(HERE, 'roles', role)
        role_vars_file = os.path.join(role_dir, 'vars', 'main.yml')
        scope = base.with_layer(load_yaml(role_vars_file) if os.path.exists(role_vars_file) else {})
        for task in load_yaml(os.path.join(role_dir, 'tasks', f'{tasks_from}.yml')):
            self.task(host, scope, task, [], role_dir)

    def task(self, host, scope, task, conditions, role_dir):
        scope = scope.with_layer(task.get('vars') or {})
        when = task.get('when')
        conditions = conditions + ([when] if isinstance(when, str) else list(when or []))
        if 'block' in task:
            for inner in task['block']:
                self.task(host, scope, inner, conditions, role_dir)
            return
        module = module_of(task)
        if module in ('ansible.builtin.include_role', 'include_role', 'ansible.builtin.import_role', 'import_role'):
            args = task[module]
            # The rolling plays' roles write no files; their conditions are facts a run sets.
            self.role(host, scope, args['name'], args.get('tasks_from', 'main'))
            return
        if module not in FILE_MODULES:
            return
        try:
            loop = scope.template(task['loop']) if 'loop' in task else [None]
            loop_var = (task.get('loop_control') or {}).get('loop_var', 'item')
            for item in loop:
                item_scope = scope if item is None else scope.with_layer({loop_var: item})
                if all(self.condition(item_scope, condition) for condition in conditions):
                    self.file_task(host, item_scope, module.split('.')[-1], task[module], role_dir)
        except HostDependent as dependency:
            self.results[host]['host_dependent'].append({'task': task.get('name', module), 'needs': str(dependency)})

    @staticmethod
    def condition(scope, condition):
        if isinstance(condition, bool):
            return condition
        value = scope.render_string('{% if ' + str(condition) + ' %}True{% else %}False{% endif %}')
        return value == 'True'

    def file_task(self, host, scope, module, args, role_dir):
        args = scope.template(args)
        result = self.results[host]
        meta = {key: str(args[key]) for key in ('mode', 'owner', 'group') if key in args}
        if module == 'template':
            source = args['src'] if os.path.isabs(args['src']) else os.path.join(role_dir, 'templates', args['src'])
            result['files'][args['dest']] = {'content': scope.render_file(source), **meta}
        elif module == 'copy':
            if 'content' in args:
                content = args['content']
            else:
                source = args['src'] if os.path.isabs(args['src']) else os.path.join(role_dir, 'files', args['src'])
                with open(source, encoding='utf-8') as handle:
                    content = handle.read()
            result['files'][args['dest']] = {'content': content, **meta}
        else:
            path = args.get('path') or args.get('dest')
            state = args.get('state', 'file')
            if state == 'link':
                result['links'][path] = args['src']
            elif state == 'directory':
                result['directories'][path] = meta
            elif state == 'absent':
                result['absent'].append(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='folder for the files, one sub-folder per host')
    parser.add_argument('--inventory', default=os.environ.get('INFRA_INVENTORY', os.path.join(inventory_script.REPO_ROOT, 'lab', 'inventory.yaml')))
    parser.add_argument('--host-state', help='JSON file: per host, the results its tasks register (e.g. a find), '
                        'so that the tasks that read the host are rendered too')
    parser.add_argument('--role-var', action='append', default=[], metavar='ROLE:NAME',
                        help='also give a variable of a role as each of its hosts sees it (e.g. common:firewall_rules)')
    options = parser.parse_args()
    host_state = None
    if options.host_state:
        with open(options.host_state, encoding='utf-8') as handle:
            host_state = json.load(handle)
    renderer = Renderer(options.inventory, host_state)
    results = renderer.run()
    for spec in options.role_var:
        role, name = spec.split(':', 1)
        for host, value in renderer.role_var(role, name).items():
            results[host].setdefault('vars', {})[name] = value
    manifest = {}
    for host, result in results.items():
        for path, file in result['files'].items():
            target = os.path.join(options.out, host, path.lstrip('/'))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'w', encoding='utf-8', newline='') as handle:
                handle.write(file.pop('content'))
        manifest[host] = result
    json.dump(manifest, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
