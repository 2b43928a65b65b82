/**
 * The MCP server's tool list, made from the language-model tools' table (lmTools/tools.ts): same
 * names, descriptions and input schemas as package.json's `languageModelTools` (the MCP integration
 * test compares them), plus MCP's annotations and output schemas (outputSchemas.ts). `toolsMarkdown` is
 * README's MCP tool list (`pyflight mcp --list-tools`; a unit test keeps README equal to it).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { DIAGNOSE_KINDS } from '../diagnose/playbooks';
import { TOOLS, type TargetAccess, type ToolDef } from '../lmTools/tools';
import { CONSENT_FLAG } from './consent';
import { OUTPUT_SCHEMAS } from './outputSchemas';

export function mcpTool(def: ToolDef): Tool {
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    inputSchema: def.inputSchema as Tool['inputSchema'],
    ...(OUTPUT_SCHEMAS[def.name] ? { outputSchema: OUTPUT_SCHEMAS[def.name] as Tool['outputSchema'] } : {}),
    annotations: {
      title: def.title,
      // Tools that need the agent instrument the process for the call (then remove it): not read-only.
      readOnlyHint: def.access === 'outside',
      destructiveHint: false,
      openWorldHint: false,
    },
  };
}

export const mcpTools = (): Tool[] => TOOLS.map(mcpTool);

const ACCESS_TEXT: Record<TargetAccess, string> = {
  outside: 'reads it from outside',
  agent: `loads the agent: \`${CONSENT_FLAG.agent}\``,
  code: `runs code: \`${CONSENT_FLAG.code}\``,
};

/** What a tool does in the target; by kind where it depends on the input's kind (the diagnosis). */
function accessCell(def: ToolDef): string {
  if (!def.accessFor) return ACCESS_TEXT[def.access];
  const byAccess = new Map<TargetAccess, string[]>();
  for (const kind of DIAGNOSE_KINDS.filter((k) => k !== 'auto')) {
    const access = def.accessFor({ kind });
    byAccess.set(access, [...(byAccess.get(access) ?? []), kind]);
  }
  return [...byAccess].map(([access, kinds]) => `${kinds.join(', ')}: ${ACCESS_TEXT[access]}`).join('; ');
}

function boundsCell(def: ToolDef): string {
  const b = def.bounds;
  const parts = [b?.records && `≤ ${b.records.max} records`, b?.seconds && `≤ ${b.seconds.max} s`, b?.budgetSeconds && `~${b.budgetSeconds} s budget`];
  return parts.filter(Boolean).join(', ') || '–';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The tool list as a markdown table (README's MCP section). */
export function toolsMarkdown(): string {
  return [
    '| Tool | What it does | In the process | Bounds |',
    '| --- | --- | --- | --- |',
    ...TOOLS.map((def) => `| \`${def.name}\` | ${cell(def.description)} | ${accessCell(def)} | ${boundsCell(def)} |`),
  ].join('\n');
}
