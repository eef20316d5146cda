import { z } from 'zod';
import { JSON_FORMAT_VERSION } from './json.js';

/**
 * The shapes of infra's --json documents, as data: docs/json.schema.json is generated from them
 * (`npm run build && node bin/infra docs`), and the unit tests hold every document infra prints on an
 * error path, and the provision and validate documents, to them. Fields a command adds beyond
 * these are allowed: a format version only promises that these keep their meaning.
 */
const envelope = {
  format_version: z.literal(JSON_FORMAT_VERSION).describe('changes only when a field is removed or changes meaning'),
  command: z.string().describe('provision, apply, check, validate, rotate-certs, rollback, render, graph, history, lab status; infra when none could be read'),
};

const inventoryIssue = z.object({
  file: z.string().describe('absolute path of the inventory'),
  line: z.number().int().min(1),
  column: z.number().int().min(1),
  path: z.string().describe('the key, e.g. hosts.web1.roles[0]; empty for a syntax error'),
  message: z.string(),
});

export const errorDocument = z
  .looseObject({
    ...envelope,
    ok: z.literal(false),
    exitCode: z.number().int().min(1),
    error: z.looseObject({
      kind: z
        .enum(['usage', 'error', 'internal'])
        .describe('usage: a bad command line; error: the operator can fix it (the message says how); internal: a bug'),
      message: z.string().describe('the text infra prints without --json'),
      issues: z.array(inventoryIssue).optional().describe('a bad inventory: each problem by file, line and key'),
      refusals: z.array(z.string()).optional().describe('apply of a saved plan that moved: one line per host or input that changed'),
    }),
  })
  .describe('Any command that fails before it has its own report to print.');

const hostReport = z.looseObject({
  host: z.string(),
  status: z.enum(['ok', 'changed', 'failed', 'unreachable', 'refused']),
  changed: z.number().int(),
  unchanged: z.number().int(),
  ms: z.number(),
  error: z.string().optional(),
  phases: z.array(z.looseObject({ phase: z.string(), changed: z.number().int(), handlers: z.array(z.string()) })),
});

const plannedChange = z.looseObject({
  phase: z.string(),
  action: z.enum(['create', 'update', 'delete']),
  resource: z.string().describe('the resource by label, e.g. file /etc/haproxy/haproxy.cfg'),
  reason: z.string(),
  diff: z.string().optional().describe('a unified diff, secrets redacted; none for a file holding a secret'),
});

export const provisionDocument = z
  .looseObject({
    ...envelope,
    command: z.enum(['provision', 'apply']),
    ok: z.boolean(),
    exitCode: z.union([z.literal(0), z.literal(1), z.literal(2)]).describe('0 done or nothing to do; 2 changes pending (--dry-run, --out); 1 an error'),
    dryRun: z.boolean(),
    savedTo: z.string().optional().describe('provision --out: the plan file written'),
    appliedFrom: z.string().optional().describe('apply: the plan file applied'),
    seconds: z.number(),
    connections: z.number().int(),
    hosts: z.array(hostReport),
    hostKeys: z.array(z.looseObject({ host: z.string() })),
    plans: z.record(
      z.string(),
      z.looseObject({ changes: z.array(plannedChange), pendingHandlers: z.array(z.string()), notices: z.array(z.string()), refusal: z.string().optional() }),
    ),
  })
  .describe('provision and apply.');

export const validateDocument = z
  .looseObject({
    ...envelope,
    command: z.literal('validate'),
    ok: z.boolean(),
    exitCode: z.union([z.literal(0), z.literal(1)]),
    issues: z.array(inventoryIssue),
    warnings: z.array(inventoryIssue).describe('what is valid but unwise, e.g. a source open to the whole internet'),
  })
  .describe("validate: the inventory's problems, then each file it names that is missing or unreadable.");

const driftItem = z.looseObject({ phase: z.string(), kind: z.string(), subject: z.string(), message: z.string(), diff: z.string().optional() });

export const checkDocument = z
  .looseObject({
    ...envelope,
    command: z.literal('check'),
    exitCode: z.union([z.literal(0), z.literal(1), z.literal(2)]).describe('0 no drift, 2 drift, 1 error'),
    seconds: z.number(),
    hosts: z.array(
      z.looseObject({ host: z.string(), status: z.enum(['ok', 'drifted', 'unreachable']), error: z.string().optional(), drift: z.array(driftItem) }),
    ),
    fleet: z.array(driftItem),
  })
  .describe('check.');

/** The text of docs/json.schema.json: a JSON Schema that every document above satisfies. */
export function jsonSchemaText(): string {
  const documents = z.union([errorDocument, provisionDocument, checkDocument, validateDocument]);
  const schema = {
    title: `infra --json documents, format_version ${JSON_FORMAT_VERSION}`,
    ...z.toJSONSchema(documents, { target: 'draft-2020-12', unrepresentable: 'any' }),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
