/**
 * The helper method table (methods.ts) as the other two sides read it: methods.json for the Python
 * helper (which registers and guards its handlers from it) and the methods table of
 * docs/helper-protocol.md. scripts/build.mjs writes both; test/unit/helperMethods.test.ts fails when
 * a committed copy differs from what the table gives.
 */
import { HELPER_METHODS, type MethodSpec } from './methods';

export const METHODS_JSON = 'python/pyflight_helper/methods.json';
export const PROTOCOL_DOC = 'docs/helper-protocol.md';

const rows = () => Object.entries(HELPER_METHODS) as Array<[string, MethodSpec]>;

/** One method a line, so a new row is a one-line diff. */
export function methodsJson(): string {
  const lines = rows().map(([name, spec]) => `    ${JSON.stringify(name)}: ${JSON.stringify({
    needs: spec.needs, ...(spec.agentWith ? { agentWith: spec.agentWith } : {}), stream: spec.stream, logging: spec.logging,
    ...(spec.audit ? { audit: spec.audit } : {}), params: spec.doc.params,
  })}`);
  return `{\n  "generatedFrom": "src/protocol/methods.ts (scripts/build.mjs writes this file: do not edit it)",\n  "methods": {\n${lines.join(',\n')}\n  }\n}\n`;
}

const BEGIN = '<!-- methods table: generated from src/protocol/methods.ts by scripts/build.mjs -->';
const END = '<!-- end of the methods table -->';

const names = (params: readonly string[]) => params.map((p) => `\`${p}\``).join(', ');

/** What the helper needs first, and whether the request is written to the audit trail (python/pyflight_helper/audit.py). */
function needsText(spec: MethodSpec): string {
  const needs = spec.needs === 'nothing' ? '–' : spec.needs;
  const withAgent = spec.agentWith ? ` (agent with ${names(spec.agentWith)})` : '';
  const audit = spec.audit ? `; audited: ${spec.audit.kind}${spec.audit.when ? ` with ${names(spec.audit.when)}` : ''}` : '';
  return needs + withAgent + audit;
}

export function methodsMarkdown(): string {
  return ['| method | needs | params | end data |', '|---|---|---|---|',
    ...rows().map(([name, spec]) => `| \`${name}\` | ${needsText(spec)} | ${spec.doc.params} | ${spec.doc.end} |`)].join('\n');
}

/** The doc with its methods table (between the two markers) made from the table. */
export function withMethodsTable(doc: string): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${PROTOCOL_DOC}: the methods table's markers are missing`);
  return `${doc.slice(0, begin)}${BEGIN}\n${methodsMarkdown()}\n${doc.slice(end)}`;
}
