import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../core/package-root.js';
import ejs from 'ejs';

/** The built-in templates, in infra's own directory. */
export const BUILTIN_TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');

const HEADER = 'Managed by infra: changes made by hand are replaced on the next run.';

/** Compiled templates by file: one inventory renders the same few templates for every host. */
const compiled = new Map<string, ejs.TemplateFunction>();

/**
 * Renders `templates/<name>` with `data`. A template of the same name in the inventory's
 * templates_dir wins over the built-in one. Every template gets `managedHeader` for its comment.
 */
export function renderTemplate(name: string, data: Record<string, unknown>, overrideDir?: string): string {
  const override = overrideDir ? join(overrideDir, name) : undefined;
  const file = override && existsSync(override) ? override : join(BUILTIN_TEMPLATES_DIR, name);
  let template = compiled.get(file);
  if (!template) {
    template = ejs.compile(readFileSync(file, 'utf8'), { filename: file, strict: false, rmWhitespace: false });
    compiled.set(file, template);
  }
  return template({ managedHeader: HEADER, ...data });
}
