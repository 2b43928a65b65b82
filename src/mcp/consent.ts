/**
 * Consent outside VS Code. In VS Code the user confirms each tool that loads the agent; an MCP
 * client's user said what this server may do when they configured it: read-only by default, the
 * agent with `--allow-agent`, code in the target with `--allow-code` (which allows the agent too).
 * A call that needs more is not run: it answers what it would have done and the flag that allows it.
 */
import { TOOLS, type TargetAccess, type ToolDef } from '../lmTools/tools';

export interface McpConsent {
  /** `--allow-agent`: tools may load PyFlight's agent and instrument the process for the call. */
  agent: boolean;
  /** `--allow-code`: code may run in the process; the agent PyFlight loads allows code (else it refuses code itself). */
  code: boolean;
}

/** The flag that allows each access beyond reading from outside. */
export const CONSENT_FLAG: Record<Exclude<TargetAccess, 'outside'>, string> = {
  agent: '--allow-agent',
  code: '--allow-code',
};

export function consentFromFlags(flags: ReadonlySet<string>): McpConsent {
  const code = flags.has('allow-code');
  return { agent: code || flags.has('allow-agent'), code };
}

export function allows(consent: McpConsent, access: TargetAccess): boolean {
  return access === 'outside' || (access === 'agent' ? consent.agent : consent.code);
}

/** "agent off, code off": what this server may do, for its start line. */
export function consentText(consent: McpConsent): string {
  return `agent ${consent.agent ? 'allowed' : `off (${CONSENT_FLAG.agent})`}, code ${consent.code ? 'allowed' : `off (${CONSENT_FLAG.code})`}`;
}

const readOnlyTools = () => TOOLS.filter((t) => t.access === 'outside' || t.accessFor).map((t) => t.name).join(', ');

/** The answer of a call this server may not make: what it would do, and how to allow it. */
export function refusalText(def: ToolDef, input: Record<string, unknown>, access: Exclude<TargetAccess, 'outside'>, why?: string): string {
  const flag = CONSENT_FLAG[access];
  const would = why ?? (def.confirm ? `It would: ${def.confirm(input)}` : `It would ${access === 'code' ? 'run code in' : 'load PyFlight\'s agent into'} the process.`);
  return [
    `Not run: ${def.name} needs ${access === 'code' ? 'to run code in the process' : 'PyFlight\'s agent in the process'}, and this PyFlight MCP server was started without ${flag}. Nothing was loaded into the process.`,
    would,
    `To allow it, the user starts the server with ${flag} (in the MCP client's configuration: "args": ["mcp", "${flag}"]).`,
    `Without it these work: ${readOnlyTools()} (diagnose: kinds hang and slow, and auto when it routes to them).`,
  ].join('\n');
}
