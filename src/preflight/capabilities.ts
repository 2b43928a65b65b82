/**
 * The one CPython capability table (python/pyflight_helper/capabilities.json), as the TS side reads
 * it: the helper picks a target's row (`hello`'s `capabilities`, the target's own interpreter) and
 * refuses what it refuses (INTERPRETER_UNSUPPORTED); here it is shown (`pyflight check`, the
 * Sessions view, the attach warning) and rendered into README's "Requirements per interpreter"
 * (test/unit/capabilities.test.ts keeps README and the table equal).
 */
import table from '../../python/pyflight_helper/capabilities.json';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { CapabilityReport, CapabilityStatus, FeatureCapability } from '../protocol/capabilityTypes';

export type { CapabilityReport, CapabilityStatus, FeatureCapability };

interface FamilyRow {
  id: string;
  label: string;
  match: { min: number[]; max: number[]; freeThreaded?: boolean; stripped?: boolean; implementation?: string };
  testedOn: string[];
  features: Record<string, Omit<FeatureCapability, 'title' | 'agent'>>;
}

export const CAPABILITY_FEATURES = table.features as Record<string, { title: string; agent: boolean; doc: string; refusal: string }>;
export const CAPABILITY_FAMILIES = table.families as FamilyRow[];

/** The environment variable that lets an overridable refusal run (on a process one can afford to lose). */
export const ALLOW_UNTESTED_VARIABLE = 'PYFLIGHT_ALLOW_UNTESTED_PYTHON';

const MARK: Record<CapabilityStatus, string> = { tested: 'tested', fallback: 'tested (fallback)', untested: 'not tested here', refused: 'refused' };

/** One line per feature: "  gilstat   tested (fallback) — sampled with py-spy …". */
export function capabilityLines(report: CapabilityReport): string[] {
  const build = [report.facts.freeThreaded ? 'free-threaded' : '', report.facts.stripped ? 'stripped (no symbols)' : ''].filter(Boolean).join(', ');
  const head = `${report.label}${build ? ` — this build: ${build}` : ''}: ${report.tested ? `tested here on ${report.testedOn.join(', ')}` : 'NOT tested here'}`;
  const width = Math.max(...Object.values(report.features).map((f) => f.title.length));
  const lines = [head];
  for (const f of Object.values(report.features)) {
    const mark = f.overridden ? `refused, allowed by ${ALLOW_UNTESTED_VARIABLE}=1` : MARK[f.status];
    const detail = f.status === 'refused' ? `${f.reason}${f.next ? `. Instead: ${f.next}` : ''}` : f.how ?? '';
    lines.push(`  ${f.title.padEnd(width)}  ${mark}${detail ? ` — ${detail}` : ''}`);
  }
  return lines;
}

/** A warning for an interpreter outside the tested set (undefined when it is tested). */
export function untestedWarning(report: CapabilityReport | undefined): string | undefined {
  if (!report || report.tested) return undefined;
  const refused = Object.values(report.features).filter((f) => f.status === 'refused').map((f) => f.title);
  return `Python ${report.facts.version}${report.facts.freeThreaded ? ' (free-threaded)' : ''} is not tested with PyFlight (${report.label}).`
    + (refused.length ? ` Refused here: ${refused.join('; ')} — stacks and CPU profiles (read from outside) still work.` : '')
    + ` See README "Requirements per interpreter".`;
}

const CELL: Record<CapabilityStatus, string> = { tested: '✓ tested', fallback: '✓ fallback', untested: '? not tested here', refused: '✗ refused' };

/** README's "Requirements per interpreter": the table, then each refusal's reason and next step. */
export function renderRequirementsTable(): string {
  const keys = Object.keys(CAPABILITY_FEATURES);
  const head = `| interpreter | tested on | ${keys.map((k) => CAPABILITY_FEATURES[k].title).join(' | ')} |`;
  const rule = `|${' --- |'.repeat(keys.length + 2)}`;
  const rows = CAPABILITY_FAMILIES.map((f) => `| ${f.label} | ${f.testedOn.length ? f.testedOn.join(', ') : 'not tested here'} | ${keys.map((k) => {
    const c = f.features[k];
    if (c.status === 'fallback') return `${CELL.fallback}: ${c.how}`;
    return c.status === 'refused' && c.overridable ? `${CELL.refused} (overridable)` : CELL[c.status];
  }).join(' | ')} |`);
  const why: string[] = [];
  for (const f of CAPABILITY_FAMILIES) {
    const groups = new Map<string, string[]>();
    for (const k of keys) {
      const c = f.features[k];
      if (c.status !== 'refused') continue;
      const text = `${c.reason}. Instead: ${c.next}.`;
      groups.set(text, [...(groups.get(text) ?? []), CAPABILITY_FEATURES[k].title]);
    }
    for (const [text, titles] of groups) why.push(`- ${f.label}, ${titles.join('; ')}: ${text}`);
  }
  return [head, rule, ...rows, '', 'Why refused, and what to use instead:', '', ...why].join('\n');
}

/**
 * The error for a feature the target's row refuses (`agent`, `gilstat`, …), before anything is
 * loaded or asked; undefined when it may run. The helper refuses the same (INTERPRETER_UNSUPPORTED).
 */
export function capabilityRefusal(report: CapabilityReport | undefined, feature: string): PyFlightError | undefined {
  const entry = report?.features[feature];
  if (!report || entry?.status !== 'refused') return undefined;
  return new PyFlightError(ErrorCode.InterpreterUnsupported,
    entry.message ?? `PyFlight does not run ${entry.title} on CPython ${report.facts.version}: ${entry.reason}.`, entry.next,
    { family: report.family, feature });
}
